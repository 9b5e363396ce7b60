#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_restore_leftovers
short_description: Remove what earlier etcd restores left beside a member's data dir, keeping the newest
version_added: 0.1.0
description:
  - Each restore keeps the data dir it replaced as C(<data_dir>.pre-restore-<stamp>), and a rollback keeps the
    restored data it moved aside as C(<data_dir>.failed-restore-<stamp>); left alone they fill the disk, and the next
    restore - on the worst day - is refused for want of space.
  - Run once a restore is verified, this keeps the O(keep_previous) newest C(.pre-restore-) dirs of O(data_dir) (and
    of O(wal_dir)) and removes the older ones and every C(.failed-restore-) dir, and removes the files in
    O(remove_files) (the snapshot copies the restore placed on the host).
  - For a data dir that is a mount point the leftovers are inside the mount, beside its C(member) dir, as
    C(<data_dir>/member.pre-restore-<stamp>) and C(<data_dir>/member.failed-restore-<stamp>).
  - The live O(data_dir) and O(wal_dir) are never removed; a directory given in O(remove_files) is refused.
  - Given O(run_id), the member's restore journal first records that run's C(verified) step; when it cannot (another
    run took the member over, the file cannot be written), nothing is removed.
extends_documentation_fragment:
  - etcdops.dr.attributes
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    details: Lists what would be removed and how much space that frees; removes nothing.
options:
  data_dir:
    description: The member's live data dir; its leftovers are C(<data_dir>.pre-restore-*) and
      C(<data_dir>.failed-restore-*).
    type: path
    required: true
  wal_dir:
    description: The member's dedicated WAL dir, when it has one; its leftovers are handled the same way.
    type: path
  keep_previous:
    description: How many of the newest C(.pre-restore-) dirs to keep (0 keeps none).
    type: int
    default: 1
  remove_files:
    description: Files to remove as well (the snapshot copy and its manifest); missing ones are skipped.
    type: list
    elements: path
    default: []
  run_id:
    description: The restore run that was verified (its stamp, as in the kept dirs' names); recorded in the
      journal C(<data_dir>.etcdops-restore.json) before anything is removed.
    type: str
author:
  - etcdops.dr maintainers (@etcdops)
"""

EXAMPLES = r"""
- name: Keep only the data dir the last restore replaced
  etcdops.dr.etcd_restore_leftovers:
    data_dir: /var/lib/etcd
    keep_previous: 1
    remove_files: [/var/backups/etcd/restore/etcd-snapshot-20261124T101500Z.db]
    run_id: 20261124T101500Z
"""

RETURN = r"""
removed:
  description: What was removed (in check mode, what would be).
  returned: always
  type: list
  elements: str
kept:
  description: The C(.pre-restore-) dirs kept.
  returned: always
  type: list
  elements: str
freed_bytes:
  description: Disk space taken by what was (or would be) removed.
  returned: always
  type: int
journal:
  description: The journal entry after recording O(run_id)'s verified step (in check mode, as it would be).
  returned: when O(run_id) is given and the step was recorded
  type: dict
journal_recorded:
  description: Whether the verified step is in the journal; false when it could not be recorded (nothing removed).
  returned: always (null without O(run_id))
  type: bool
"""

from ansible_collections.etcdops.dr.plugins.module_utils._runner import run_module
from ansible_collections.etcdops.dr.plugins.module_utils._restore.leftovers import ARGUMENT_SPEC, Leftovers


def main():
    run_module(ARGUMENT_SPEC, Leftovers)


if __name__ == "__main__":
    main()
