# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A module's options with their constraints, in one value that can be merged. The option sets several modules share
are here, each beside the name of the doc fragment that documents it (plugins/doc_fragments/); a module's own options
live with its runner."""
from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ansible.module_utils.basic import AnsibleModule


class ArgumentSpec:
    """argument_spec and the constraints AnsibleModule takes beside it."""

    def __init__(self, argument_spec: dict[str, Any] | None = None,
                 mutually_exclusive: Sequence[Sequence[str]] = (),
                 required_together: Sequence[Sequence[str]] = (),
                 required_one_of: Sequence[Sequence[str]] = (),
                 required_if: Sequence[Sequence[Any]] = ()) -> None:
        self.argument_spec = argument_spec or {}
        self.mutually_exclusive = [list(group) for group in mutually_exclusive]
        self.required_together = [list(group) for group in required_together]
        self.required_one_of = [list(group) for group in required_one_of]
        self.required_if = [list(rule) for rule in required_if]

    def merge(self, other: ArgumentSpec) -> ArgumentSpec:
        """A new spec with both sets of options and constraints; `other`'s option wins where both have one."""
        options = copy.deepcopy(self.argument_spec)
        options.update(copy.deepcopy(other.argument_spec))
        return ArgumentSpec(options, self.mutually_exclusive + other.mutually_exclusive,
                            self.required_together + other.required_together,
                            self.required_one_of + other.required_one_of, self.required_if + other.required_if)

    def create_ansible_module(self, supports_check_mode: bool = True) -> AnsibleModule:
        from ansible.module_utils.basic import AnsibleModule  # pylint: disable=import-outside-toplevel
        return AnsibleModule(argument_spec=copy.deepcopy(self.argument_spec), supports_check_mode=supports_check_mode,
                             mutually_exclusive=self.mutually_exclusive or None,
                             required_together=self.required_together or None,
                             required_one_of=self.required_one_of or None, required_if=self.required_if or None)

    def options(self, *names: str) -> dict[str, Any]:
        """Those options as this spec declares them, none of them required: for a module that passes them on to a
        runner of this spec when it needs them."""
        return {name: {key: value for key, value in copy.deepcopy(self.argument_spec[name]).items() if key != "required"}
                for name in names}

    def defaults(self) -> dict[str, Any]:
        """{option: its default} for every option: the params of a runner built inside another one."""
        return {name: copy.deepcopy(option.get("default")) for name, option in self.argument_spec.items()}


# Doc fragment etcdops.dr.connection: how to reach etcd (the action group etcdops.dr.etcd).
CONNECTION = ArgumentSpec(dict(
    endpoints=dict(type="list", elements="str", default=["https://127.0.0.1:2379"]),
    cacert=dict(type="path"),
    cert=dict(type="path"),
    key=dict(type="path", no_log=False),
    # The same TLS material as PEM text (an AWX credential's fields): kept in memory, never written to disk.
    cacert_pem=dict(type="str"),
    cert_pem=dict(type="str"),
    key_pem=dict(type="str", no_log=True),
    user=dict(type="str"),
    password=dict(type="str", no_log=True),
    dial_timeout=dict(type="float", default=5),
    command_timeout=dict(type="float", default=15),
    client_library=dict(type="str", choices=["auto", "pyetcd", "etcd3"], default="auto"),
), required_together=[("cert", "key"), ("user", "password")])

# Doc fragment etcdops.dr.member_service: how etcd runs on the member's host (etcd_service's options, as the phase
# modules name them).
MEMBER_SERVICE = ArgumentSpec(dict(
    service_manager=dict(type="str", default="auto", choices=["auto", "systemd", "static_pod", "supervisor"]),
    service_name=dict(type="str", default="etcd"),
    supervisor_conf=dict(type="path"),
    supervisorctl=dict(type="path"),
    config_file=dict(type="path"),
    manifest_dir=dict(type="path", default="/etc/kubernetes/manifests"),
    held_manifest_dir=dict(type="path", default="/etc/kubernetes/etcdops-held-manifests"),
    pod_log_dir=dict(type="path", default="/var/log/pods"),
    log_file=dict(type="path"),
))

# Doc fragment etcdops.dr.backup_dir_lock: the lock of every module that writes backups into a dir.
BACKUP_DIR_LOCK = ArgumentSpec(dict(lock_timeout=dict(type="float", default=600)))

# Doc fragment etcdops.dr.store: one off-host backup store, the suboptions of a module's `store`.
STORE_OPTIONS = dict(
    url=dict(type="str", required=True),
    key_file=dict(type="path"),
    key_passphrase=dict(type="str", no_log=True),
    known_hosts=dict(type="path"),
    accept_new_host_key=dict(type="bool", default=False),
    timeout=dict(type="int", default=30),
    endpoint_url=dict(type="str"),
    region=dict(type="str"),
    access_key=dict(type="str", no_log=False),
    secret_key=dict(type="str", no_log=True),
    session_token=dict(type="str", no_log=True),
    sse=dict(type="str", choices=["AES256", "aws:kms"]),
    sse_kms_key_id=dict(type="str"),
    ca_bundle=dict(type="path"),
    validate_certs=dict(type="bool", default=True),
)
