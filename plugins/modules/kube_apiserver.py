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
listening:
  description: Whether something listens on O(port) when the module ends.
  returned: always
  type: bool
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.etcdops.dr.plugins.module_utils._host import local_member as _local_member
from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError
from ansible_collections.etcdops.dr.plugins.module_utils._host.service import select

# Reading the listening sockets is cheap: a start or stop is seen within a tenth of a second.
POLL_SECONDS = 0.1


def _wait(addresses, want_listening, timeout):
    deadline = time.monotonic() + timeout
    while bool(_local_member.listeners_on(addresses)) != want_listening:
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_SECONDS)
    return True


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", required=True, choices=["started", "stopped"]),
            manager=dict(type="str", default="static_pod", choices=["static_pod", "supervisor", "systemd"]),
            manifest_dir=dict(type="path", default="/etc/kubernetes/manifests"),
            manifest_name=dict(type="str", default="kube-apiserver.yaml"),
            held_manifest_dir=dict(type="path", default="/etc/kubernetes/etcdops-held-manifests"),
            name=dict(type="str", default="kube-apiserver"),
            supervisor_conf=dict(type="path"),
            supervisorctl=dict(type="path"),
            address=dict(type="str"),
            port=dict(type="int", default=6443),
            timeout=dict(type="float", default=120),
        ),
        supports_check_mode=True,
    )
    params = module.params
    want_running = params["state"] == "started"
    addresses = [(params["address"], params["port"])]
    result = dict(changed=False, manager=params["manager"], listening=bool(_local_member.listeners_on(addresses)))
    try:
        backend = select(module)
        running = backend.state().running
        result["changed"] = running != want_running
        if module.check_mode or not result["changed"]:
            module.exit_json(msg="kube-apiserver (%s) %s %s" % (
                backend.describe(), "would be" if result["changed"] else "is already", params["state"]), **result)
        if want_running:
            backend.start()
        else:
            backend.stop()
    except EtcdOpsError as exc:
        module.fail_json(msg="kube-apiserver: %s" % exc.msg, **result)
    where = "%s:%s" % (params["address"] or "any address", params["port"])
    if not _wait(addresses, want_running, params["timeout"]):
        result["listening"] = not want_running
        module.fail_json(msg="kube-apiserver (%s) was %s, but after %ss %s" % (
            backend.describe(), params["state"], params["timeout"],
            "nothing listens on %s: see its log" % where if want_running else
            "%s still listens on %s" % (_local_member.describe_listeners(_local_member.listeners_on(addresses)),
                                        where)), **result)
    result["listening"] = want_running
    module.exit_json(msg="kube-apiserver (%s) %s; %s %s" % (
        backend.describe(), params["state"], "listening on" if want_running else "nothing listens on", where),
        **result)


if __name__ == "__main__":
    main()
