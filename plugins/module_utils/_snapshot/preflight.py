# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A backup's preflight on one host, as the etcd_backup_preflight module runs it: what the backup role must know of
this host before it chooses the source member - the cluster as this host reads it, and whether this host's member
could be snapshotted here (etcd_snapshot's plan: the member answers, the backup dir is writable with room for its
database, the recipients are keys) with retention set as it would apply (etcd_snapshot_prune's plan, keeping the
file the snapshot would write). Nothing is written in either mode. A check that fails does not fail the module: its
message is returned under `problems`, by step, for the role to judge once it has chosen the source."""
from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from ansible_collections.etcdops.dr.plugins.module_utils._argspec import CONNECTION, ArgumentSpec
from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError
from ansible_collections.etcdops.dr.plugins.module_utils._etcd import cluster_info
from ansible_collections.etcdops.dr.plugins.module_utils._runner import Runner, failure_message
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot import retention, take

if TYPE_CHECKING:
    from ansible_collections.etcdops.dr.plugins.module_utils._host.run import HostContext

ARGUMENT_SPEC = CONNECTION.merge(ArgumentSpec(dict(
    endpoint=dict(type="str", required=True),
    dest_dir=dict(type="path", required=True),
    prefix=dict(type="str", default="etcd-snapshot"),
    owner=dict(type="str"),
    group=dict(type="str"),
    # Public keys are no secret, but a private key given here by mistake must not reach a log.
    recipients=dict(type="list", elements="str", default=[], no_log=True),
    keep_last=dict(type="int", default=0),
    max_age=dict(type="str", default=""),
    read_cluster=dict(type="bool", default=True),
    bundle_detect=dict(type="list", elements="path", default=[]),
)))


class BackupPreflight:
    """`result`: cluster (etcd_cluster_info's result, or answered false and msg), snapshot_check (etcd_snapshot's
    check-mode result), retention_check (etcd_snapshot_prune's), problems {step: message}."""

    def __init__(self, params: dict[str, Any], host: HostContext) -> None:
        self.params = params
        self.host = host.checking()
        self.result: dict[str, Any] = dict(changed=False, cluster=None, snapshot_check=None, retention_check=None,
                                           problems={}, began_at=time.time(), bundle_layout=[])

    def plan(self) -> None:
        params, result = self.params, self.result
        # The files whose presence says this host is a control plane whose bundle is taken (backup_bundle: auto).
        result["bundle_layout"] = [path for path in params["bundle_detect"] if os.path.exists(path)]
        if params["read_cluster"]:
            result["cluster"] = cluster_info.read(params)
        snapshot = take.OnlineSnapshot(take.ARGUMENT_SPEC.defaults() | {
            name: params[name] for name in CONNECTION.argument_spec} | dict(
                endpoint=params["endpoint"], dest_dir=params["dest_dir"], prefix=params["prefix"],
                owner=params["owner"], group=params["group"], recipients=params["recipients"]), self.host)
        try:
            self._check("snapshot_check", snapshot)
        finally:
            snapshot.close()
        keep = [snapshot.result["path"]] if snapshot.result["path"] else []
        self._check("retention_check", retention.Prune(dict(
            path=params["dest_dir"], prefix=params["prefix"], keep_last=params["keep_last"],
            max_age=params["max_age"], keep=keep), self.host))

    def _check(self, step: str, runner: Runner) -> None:
        try:
            runner.plan()
        except (EtcdOpsError, OSError) as exc:
            self.result["problems"][step] = failure_message(runner, exc)
        self.result[step] = runner.result

    def would(self) -> str:
        return "; ".join("%s: %s" % pair for pair in self.result["problems"].items()) or "every check passed"

    def apply(self) -> None:
        """Nothing: the preflight writes nothing."""

    def done(self) -> str:
        return self.would()
