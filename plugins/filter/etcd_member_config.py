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
  - A manifest's flags are read as etcd reads them (Go's flag package - C(--name=x), C(--name x), C(-name x)).
    The module M(etcdops.dr.etcd_service) reads the same settings from the running etcd process and from what its
    manager starts (RV(etcdops.dr.etcd_service#module:member_config)).
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

from ansible_collections.etcdops.dr.plugins.module_utils._host.member_config import parse_text


def etcd_member_config(text):
    return parse_text(text or "")


class FilterModule:
    def filters(self):
        return {"etcd_member_config": etcd_member_config}
