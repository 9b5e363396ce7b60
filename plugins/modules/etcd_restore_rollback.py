#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_restore_rollback
short_description: Put back the data dir that an unfinished or failed etcd_restore kept, on a stopped etcd member
version_added: 0.1.0
description:
  - "Undoes M(etcdops.dr.etcd_restore) on one member: the restored data dir is renamed
    C(<data_dir>.failed-restore-<stamp>) (kept, for a post-mortem), and the kept C(<data_dir>.pre-restore-<stamp>)
    takes the data dir's name again. The same for O(wal_dir)."
  - "For a data dir that is a mount point the same is done with its C(member) dir, inside the mount
    (C(<data_dir>/member.failed-restore-<stamp>), C(<data_dir>/member.pre-restore-<stamp>)). When the journal says
    the data dir was a mount point and it is not one now (or the other way round), it refuses: the kept data is out
    of sight until the disk is mounted as it was."
  - "It reads the restore journal first (C(<data_dir>.etcdops-restore.json), which M(etcdops.dr.etcd_restore) and
    M(etcdops.dr.etcd_restore_journal) write at each step): when the last restore did not finish (a failure, the
    controller killed, the host lost), the journal says where the pre-restore data is, whichever step the restore
    reached, and O(previous_data_dir) and O(previous_wal_dir) are not needed. A leftover staging dir is removed and
    the journal records the rollback."
  - Without an unfinished journal, O(previous_data_dir) and O(previous_wal_dir) say what to put back. Without a journal
    and without them there is nothing to go by, and nothing is changed (a member never restored keeps its data dir).
  - Refuses while etcd runs on this host, unless there is nothing to do.
  - Running it again after a rollback changes nothing; nor does it touch a member whose last restore was verified.
  - The role M(etcdops.dr.restore) runs it on every member when a restore fails after etcd was stopped, and its
    C(rollback) entry point (playbook C(etcdops.dr.restore_rollback)) after an interrupted restore.
attributes:
  check_mode:
    details: Reads the journal and reports the renames it would make; a running etcd is reported in RV(etcd_running),
      not refused (the rollback stops etcd first).
  platform:
    details: Linux; it reads C(/proc) to find a running etcd.
extends_documentation_fragment:
  - etcdops.dr.attributes
  - ansible.builtin.action_common_attributes
options:
  data_dir:
    description: The member's data dir, as given to M(etcdops.dr.etcd_restore).
    type: path
    required: true
  previous_data_dir:
    description:
      - RV(etcdops.dr.etcd_restore#module:previous_data_dir); omit it when the restore found no data dir (its journal
        then says what to move aside).
      - Ignored when the journal holds an unfinished restore (the journal knows better).
    type: path
  wal_dir:
    description: The member's WAL dir, when the restore had one.
    type: path
  previous_wal_dir:
    description: RV(etcdops.dr.etcd_restore#module:previous_wal_dir).
    type: path
  stamp:
    description: Suffix of the restored dirs' new names; default the UTC time.
    type: str
  urls:
    description: The member's client and peer URLs; a process listening on one means etcd still runs here.
    type: list
    elements: str
    default: []
author:
  - etcdops.dr maintainers (@etcdops)
"""

EXAMPLES = r"""
- name: Put back whatever an interrupted restore left, as its journal says
  etcdops.dr.etcd_restore_rollback:
    data_dir: /var/lib/etcd
    urls: [https://10.0.0.11:2379, https://10.0.0.11:2380]

- name: Put the member's previous data back
  etcdops.dr.etcd_restore_rollback:
    data_dir: /var/lib/etcd
    previous_data_dir: "{{ restored.previous_data_dir }}"
    urls: [https://10.0.0.11:2379, https://10.0.0.11:2380]
  when: restored is changed
"""

RETURN = r"""
data_dir:
  description: The data dir, which holds the previous data again.
  returned: always
  type: str
data_dir_mount:
  description: Whether the data dir is a mount point (its C(member) dir is what was put back, inside the mount).
  returned: always
  type: bool
failed_restore_dir:
  description: Where the restored data dir went; null when there was nothing to move.
  returned: always
  type: str
failed_restore_wal_dir:
  description: Where the restored WAL dir went; null when there was nothing to move.
  returned: always
  type: str
journal:
  description: The restore journal as it is now (after the rollback), or null when there is none.
  returned: always
  type: dict
unfinished:
  description: Whether the journal held a restore that had not finished (neither verified nor rolled back).
  returned: always
  type: bool
staging_dir_left:
  description: The staging dir of the restore when it could not be removed (it holds no data of value); else null.
  returned: always
  type: str
etcd_running:
  description: What shows etcd running on this host (a process with the database open or listening on O(urls)).
  returned: always
  type: list
  elements: str
kubernetes:
  description: Whether that unfinished restore ran in Kubernetes mode (kube-apiserver was to be stopped).
  returned: always
  type: bool
"""

from ansible_collections.etcdops.dr.plugins.module_utils._runner import run_module
from ansible_collections.etcdops.dr.plugins.module_utils._restore.rollback import ARGUMENT_SPEC, Rollback


def main():
    run_module(ARGUMENT_SPEC, Rollback)


if __name__ == "__main__":
    main()
