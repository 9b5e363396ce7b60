#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_restore_journal
short_description: Record a step of an etcd restore in the member's restore journal
version_added: 0.1.0
description:
  - "The restore journal is a small JSON file beside the member's data dir, C(<data_dir>.etcdops-restore.json),
    written through a temp file, fsynced and renamed at each step of a restore: V(planned) (before anything is
    stopped), V(stopped), V(staged) and V(swapped) (written by M(etcdops.dr.etcd_restore) itself), V(started),
    V(verified) and V(rolled_back) (by M(etcdops.dr.etcd_restore_rollback))."
  - It records the run id, the snapshot and its sha256, and where the member's pre-restore data is (the kept dir's
    real name). A run that dies leaves it behind; the next restore and M(etcdops.dr.etcd_restore_rollback) read it
    first. A V(planned) over an unfinished run takes that run over and carries on where its pre-restore data is
    (C(interrupted) in RV(journal) names it).
  - The role M(etcdops.dr.restore) writes V(planned), V(started) and V(verified) with it.
attributes:
  check_mode:
    details: Returns the entry it would write in RV(journal); writes nothing.
  platform:
    details: Linux.
extends_documentation_fragment:
  - etcdops.dr.attributes
  - ansible.builtin.action_common_attributes
options:
  data_dir:
    description: The member's data dir; the journal is C(<data_dir>.etcdops-restore.json).
    type: path
    required: true
  run_id:
    description: The restore's run id (the role uses its stamp, as in C(<data_dir>.pre-restore-<stamp>)).
    type: str
    required: true
  step:
    description:
      - The step reached. Any step but V(planned) must belong to the run the journal holds.
    type: str
    required: true
    choices: [planned, started, verified]
  snapshot:
    description: The snapshot file restored on this member.
    type: path
  sha256:
    description: The snapshot's sha256.
    type: str
  member:
    description: The member's name.
    type: str
  wal_dir:
    description: The member's WAL dir, when it has one apart from the data dir.
    type: path
  cluster_token:
    description: The restored cluster's token.
    type: str
  kubernetes:
    description: Whether the restore runs in Kubernetes mode (stops and starts kube-apiserver).
    type: bool
  live_revision:
    description: The running cluster's revision before the stop; a later run checks its revision bump against it when
      the cluster no longer answers.
    type: int
author:
  - etcdops.dr maintainers (@etcdops)
"""

EXAMPLES = r"""
- name: Record the restore's plan before anything is stopped
  etcdops.dr.etcd_restore_journal:
    data_dir: /var/lib/etcd
    run_id: 20261126T101500Z
    step: planned
    snapshot: /var/lib/etcd-restore/etcd-snapshot-20261126T100000Z.db
    sha256: "{{ checked.sha256 }}"
    member: node1
"""

RETURN = r"""
journal:
  description: The journal entry as written (in check mode, as it would be).
  returned: always
  type: dict
  sample:
    run_id: 20261126T101500Z
    step: planned
    steps: [{step: planned, at: "2026-11-26T10:15:02Z"}]
    kept_data_dir: null
    had_data_dir: true
    interrupted: null
previous:
  description: The entry the journal held before, or null.
  returned: always
  type: dict
path:
  description: The journal file.
  returned: always
  type: str
"""

from ansible_collections.etcdops.dr.plugins.module_utils._runner import run_module
from ansible_collections.etcdops.dr.plugins.module_utils._restore.journal import ARGUMENT_SPEC, JournalStep


def main():
    run_module(ARGUMENT_SPEC, JournalStep)


if __name__ == "__main__":
    main()
