# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: etcd_member_config
short_description: Read a member's name, peer URLs and data dir from the file that configures etcd
version_added: 0.1.0
description:
  - Understands the three usual ways etcd is configured on a host - an etcd YAML config file (C(--config-file)), a
    kubeadm static pod manifest (C(etcd.yaml), flags in the container's command) and an environment file for a
    systemd unit (C(ETCD_NAME=...)) - and returns what a restore must agree with.
  - Keys that the file does not set are null; RV(_value.kind) is V(unknown) when the text is none of the three.
positional: ""
options:
  _input:
    description: The file's text (for example from M(ansible.builtin.slurp), base64-decoded).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Read the member's configuration
  ansible.builtin.set_fact:
    member_config: "{{ (slurped.content | b64decode) | etcdops.dr.etcd_member_config }}"
"""

RETURN = r"""
_value:
  description: C(kind) (V(config_file), V(static_pod), V(environment) or V(unknown)), C(name),
    C(initial_advertise_peer_urls) (a list), C(data_dir) and C(wal_dir).
  type: dict
"""

import shlex

import yaml

# Each setting under its names: config file key, command-line flag, environment variable.
SETTINGS = {
    "name": ("name", "--name", "ETCD_NAME"),
    "initial_advertise_peer_urls": ("initial-advertise-peer-urls", "--initial-advertise-peer-urls",
                                    "ETCD_INITIAL_ADVERTISE_PEER_URLS"),
    "data_dir": ("data-dir", "--data-dir", "ETCD_DATA_DIR"),
    "wal_dir": ("wal-dir", "--wal-dir", "ETCD_WAL_DIR"),
}


def _flags(command):
    """{--flag: value} from an argv with --flag=value or --flag value items."""
    found = {}
    items = list(command)
    for index, item in enumerate(items):
        if not str(item).startswith("--"):
            continue
        flag, sep, value = str(item).partition("=")
        if not sep and index + 1 < len(items) and not str(items[index + 1]).startswith("--"):
            value = items[index + 1]
        found[flag] = str(value)
    return found


def _pod_command(doc):
    for container in (doc.get("spec") or {}).get("containers") or []:
        command = list(container.get("command") or []) + list(container.get("args") or [])
        if any("etcd" in str(part) for part in command[:1]):
            return command
    return None


def _environment(text):
    found = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("export "):
            line = line[len("export "):]
        key, sep, value = line.partition("=")
        if sep and key.startswith("ETCD_"):
            parts = shlex.split(value, comments=True)
            found[key] = parts[0] if parts else ""
    return found


def _result(kind, lookup, index):
    result = {"kind": kind}
    for setting, names in SETTINGS.items():
        value = lookup.get(names[index])
        result[setting] = None if value in (None, "") else value
    urls = result["initial_advertise_peer_urls"]
    if isinstance(urls, str):
        result["initial_advertise_peer_urls"] = [url.strip() for url in urls.split(",") if url.strip()]
    return result


def etcd_member_config(text):
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        doc = None
    if isinstance(doc, dict) and doc.get("kind") == "Pod":
        command = _pod_command(doc)
        if command:
            return _result("static_pod", _flags(command), 1)
    if isinstance(doc, dict) and any(names[0] in doc for names in SETTINGS.values()):
        return _result("config_file", doc, 0)
    environment = _environment(text or "")
    if environment:
        return _result("environment", environment, 2)
    return _result("unknown", {}, 0)


class FilterModule:
    def filters(self):
        return {"etcd_member_config": etcd_member_config}
