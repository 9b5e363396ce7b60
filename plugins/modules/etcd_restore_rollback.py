#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_restore_rollback
short_description: Put back the data dir that etcd_restore kept, on a stopped etcd member
version_added: 0.1.0
description:
  - "Undoes M(etcdops.dr.etcd_restore) on one member: the restored data dir is renamed
    C(<data_dir>.failed-restore-<stamp>) (kept, for a post-mortem), and the kept C(<data_dir>.pre-restore-<stamp>)
    takes the data dir's name again. The same for O(wal_dir)."
  - When the restore found no data dir (O(previous_data_dir) not given), the restored one is only moved aside.
  - Refuses while etcd runs on this host.
  - Running it again after a rollback changes nothing.
  - The role M(etcdops.dr.restore) runs it on every restored member when a restore fails after etcd was stopped.
attributes:
  check_mode:
    details: Makes the same checks and reports the renames it would make.
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
    description: RV(etcdops.dr.etcd_restore#module:previous_data_dir); omit it when the restore found no data dir.
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
failed_restore_dir:
  description: Where the restored data dir went; null when there was nothing to move.
  returned: always
  type: str
failed_restore_wal_dir:
  description: Where the restored WAL dir went; null when there was nothing to move.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.etcdops.dr.plugins.module_utils._restore.rollback import (
    ARGUMENT_SPEC, Rollback, RollbackRefused)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    rollback = Rollback(module.params)
    try:
        rollback.plan()
        if not rollback.result["changed"]:
            module.exit_json(msg=rollback.nothing_to_do(), **rollback.result)
        if module.check_mode:
            module.exit_json(msg=rollback.would(), **rollback.result)
        rollback.apply()
    except RollbackRefused as exc:
        module.fail_json(msg=exc.msg, **rollback.result)
    except OSError as exc:
        module.fail_json(msg=rollback.failed(exc), **rollback.result)
    module.exit_json(msg=rollback.done(), **rollback.result)


if __name__ == "__main__":
    main()
