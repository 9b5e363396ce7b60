#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: kube_apiserver
short_description: Stop or start kube-apiserver on a control-plane host around an etcd restore
version_added: 0.1.0
description:
  - A kube-apiserver that stays up while etcd is restored writes to the old data, or serves it from its watch cache,
    so the role M(etcdops.dr.restore) stops it before etcd and starts it after the restored cluster is proven.
  - With O(manager=static_pod) (kubeadm) the manifest is moved out of the kubelet's manifests dir into
    O(held_manifest_dir) and back; with V(supervisor) or V(systemd) the service is stopped and started.
  - V(stopped) waits until nothing listens on O(port) any more; V(started) waits until something does. It does
    not wait for the API to be ready, which needs etcd and credentials.
attributes:
  check_mode:
    details: Reports the current state and what it would do; it neither acts nor waits.
  platform:
    details: Linux; it reads C(/proc/net/tcp) to see the port.
extends_documentation_fragment:
  - etcdops.dr.attributes
  - ansible.builtin.action_common_attributes
options:
  state:
    description: V(stopped) or V(started).
    type: str
    required: true
    choices: [started, stopped]
  manager:
    description: What runs kube-apiserver on this host.
    type: str
    choices: [static_pod, supervisor, systemd]
    default: static_pod
  manifest_dir:
    description: The kubelet's static pod directory.
    type: path
    default: /etc/kubernetes/manifests
  manifest_name:
    description: File name of the kube-apiserver manifest.
    type: str
    default: kube-apiserver.yaml
  held_manifest_dir:
    description: Where the manifest is kept while kube-apiserver is stopped; outside O(manifest_dir).
    type: path
    default: /etc/kubernetes/etcdops-held-manifests
  name:
    description: The systemd unit or supervisor program.
    type: str
    default: kube-apiserver
  supervisor_conf:
    description: >-
      Configuration file of the supervisord that runs it; its C([supervisorctl]) section says where supervisord's
      XML-RPC interface listens, as for C(supervisorctl -c).
    type: path
  supervisorctl:
    description:
      - Path of C(supervisorctl) on the host, for O(manager=supervisor) without O(supervisor_conf); the
        configuration is where it looks. When unset, C(supervisorctl) is looked for on the C(PATH) that the module
        runs with. The module talks to supervisord directly.
    type: path
  address:
    description: The address kube-apiserver listens on; any address when unset.
    type: str
  port:
    description: kube-apiserver's secure port.
    type: int
    default: 6443
  timeout:
    description: Seconds to wait for the port to close or open.
    type: float
    default: 120
author:
  - etcdops.dr maintainers (@etcdops)
"""

EXAMPLES = r"""
- name: Stop kube-apiserver (kubeadm static pod) before etcd is stopped
  etcdops.dr.kube_apiserver:
    state: stopped
"""

RETURN = r"""
manager:
  description: The manager used.
  returned: always
  type: str
found:
  description: Whether the manager has a kube-apiserver here (its manifest, program or unit); false fails the module,
    in check mode too. Null when the manager could not be asked.
  returned: always
  type: bool
listening:
  description: Whether something listens on O(port) when the module ends.
  returned: always
  type: bool
"""

from ansible_collections.etcdops.dr.plugins.module_utils._runner import run_module
from ansible_collections.etcdops.dr.plugins.module_utils._service.kube_apiserver import ARGUMENT_SPEC, KubeApiserver


def main():
    run_module(ARGUMENT_SPEC, KubeApiserver)


if __name__ == "__main__":
    main()
