#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_tools_install
short_description: Install etcdutl and etcdctl of the cluster's etcd version from a release archive or a binary
version_added: 0.1.0
description:
  - Installs the etcd tools the restore and the backup checks run (C(etcdutl), C(etcdctl)) into O(dest_dir) from
    an etcd release archive (C(etcd-v<version>-linux-<arch>.tar.gz) or C(.zip)) or from one binary named after
    its tool, already on the host at O(src).
  - Before any tool takes its final name, every check passes for all of them - O(src) has the sha256 O(sha256);
    each tool is a Linux executable for this host's architecture (its ELF header); it runs and its
    C(version) has the major.minor of O(etcd_version). A failed check leaves O(dest_dir) as it was.
  - Each tool is unpacked beside its final name and renamed into place; a tool already there with the same
    content is left alone. A record of what was installed from which archive (C(.etcdops-dr-tools.json)) lets
    a later run without O(src) tell whether the tools are in place (RV(installed)), which the
    C(etcdops.dr.prepare) role uses to copy the archive to the host only when needed.
attributes:
  check_mode:
    details: Unpacks and checks the tools in the module's temp dir and reports what would be installed.
extends_documentation_fragment:
  - etcdops.dr.attributes
  - ansible.builtin.action_common_attributes
options:
  src:
    description:
      - The release archive (tar, optionally compressed, or zip) or the binary, on the host.
      - Without it, the module only reports whether the tools the archive with O(sha256) installed are in
        O(dest_dir), unchanged and of O(etcd_version)'s major.minor (RV(installed)); it changes nothing.
    type: path
  sha256:
    description: The sha256 of O(src), as the release's C(SHA256SUMS) lists it.
    type: str
    required: true
  dest_dir:
    description: Where the tools go, created (0755) when missing.
    type: path
    required: true
  etcd_version:
    description:
      - The version the cluster's etcd runs, for example V(3.5.16). A tool of another major.minor is refused.
      - Without it the version is not compared, and the module's message says so.
    type: str
  tools:
    description: The tools to install, those of them that O(src) holds; at least one must be there.
    type: list
    elements: str
    choices: [etcdutl, etcdctl]
    default: [etcdutl, etcdctl]
author:
  - etcdops.dr maintainers (@etcdops)
"""

EXAMPLES = r"""
- name: Install etcdutl and etcdctl 3.5.16 into /opt/etcdops-dr/bin
  etcdops.dr.etcd_tools_install:
    src: /var/tmp/etcd-v3.5.16-linux-amd64.tar.gz
    sha256: "{{ etcd_archive_sha256 }}"
    dest_dir: /opt/etcdops-dr/bin
    etcd_version: 3.5.16
"""

RETURN = r"""
installed:
  description: Whether O(dest_dir) holds the tools from the archive with O(sha256) after the run (in check mode, before).
  returned: always
  type: bool
tools:
  description: Each tool found, by name, with its C(path) in O(dest_dir), C(sha256), C(version) and whether it
    was (or would be) replaced (C(changed)).
  returned: always
  type: dict
  sample: {etcdutl: {path: /opt/etcdops-dr/bin/etcdutl, sha256: 6f0c..., version: 3.5.16, changed: true}}
ansible_facts:
  description: The tools in RV(tools), as the variables the collection's roles read.
  returned: always
  type: dict
  contains:
    etcd_etcdutl:
      description: The path of C(etcdutl) in O(dest_dir).
      returned: when installed, or in check mode would be
      type: str
    etcd_etcdctl:
      description: The path of C(etcdctl) in O(dest_dir).
      returned: when installed, or in check mode would be
      type: str
etcd_version:
  description: O(etcd_version), as given.
  returned: always
  type: str
dest_dir:
  description: O(dest_dir).
  returned: always
  type: str
"""

from ansible_collections.etcdops.dr.plugins.module_utils._runner import run_module
from ansible_collections.etcdops.dr.plugins.module_utils._etcd.tools_install import ARGUMENT_SPEC, ToolsInstall


def main():
    run_module(ARGUMENT_SPEC, ToolsInstall)


if __name__ == "__main__":
    main()
