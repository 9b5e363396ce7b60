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

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.etcdops.dr.plugins.module_utils._host import local_member as _local_member
from ansible_collections.etcdops.dr.plugins.module_utils._restore.data_dir_swap import failed_name, put_back
from ansible_collections.etcdops.dr.plugins.module_utils._host.files import utc_stamp


def _pairs(params):
    """[(live dir, kept dir or None)] that need a rename back."""
    pairs = [(params["data_dir"].rstrip("/"), params["previous_data_dir"])]
    if params["wal_dir"]:
        pairs.append((params["wal_dir"].rstrip("/"), params["previous_wal_dir"]))
    return pairs


def main():
    module = AnsibleModule(
        argument_spec=dict(
            data_dir=dict(type="path", required=True),
            previous_data_dir=dict(type="path"),
            wal_dir=dict(type="path"),
            previous_wal_dir=dict(type="path"),
            stamp=dict(type="str"),
            urls=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    params = module.params
    stamp = params["stamp"] or utc_stamp()
    result = dict(changed=False, data_dir=params["data_dir"], failed_restore_dir=None, failed_restore_wal_dir=None)
    # A pair whose kept dir is gone and whose live dir exists was rolled back already (or never restored).
    pairs = [(live, kept) for live, kept in _pairs(params)
             if (kept and os.path.lexists(kept)) or (not kept and os.path.lexists(live))]
    problems = ["etcd still runs on this host: %s; stop it first" % found
                for found in _local_member.etcd_activity(params["data_dir"], params["urls"])]
    if problems:
        module.fail_json(msg="refusing to roll back %s: %s. Nothing was changed." % (
            params["data_dir"], "; ".join(problems)), **result)
    if not pairs:
        module.exit_json(msg="nothing to put back in %s: no kept dir is left (rolled back already)"
                         % params["data_dir"], **result)
    keys = {params["data_dir"].rstrip("/"): "failed_restore_dir"}
    if params["wal_dir"]:
        keys[params["wal_dir"].rstrip("/")] = "failed_restore_wal_dir"
    result["changed"] = True
    if module.check_mode:
        for live, dummy in pairs:
            result[keys[live]] = failed_name(live, stamp) if os.path.lexists(live) else None
        module.exit_json(msg="would put back %s" % ", ".join(live for live, dummy in pairs), **result)
    try:
        for live, kept in pairs:
            result[keys[live]] = put_back(live, kept, stamp)
    except OSError as exc:
        module.fail_json(msg="putting back %s failed: %s" % (params["data_dir"], exc), **result)
    module.exit_json(msg="put back the previous data in %s; the restored data is kept as %s" % (
        ", ".join(live for live, dummy in pairs), ", ".join(str(result[keys[live]]) for live, dummy in pairs)),
        **result)


if __name__ == "__main__":
    main()
