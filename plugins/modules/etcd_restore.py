#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_restore
short_description: Restore one stopped etcd member's data dir from a snapshot, keeping the old data dir
version_added: 0.1.0
description:
  - Builds this member's data dir from a snapshot with etcd's own tool, C(etcdutl snapshot restore) (etcd 3.5 and
    newer) or C(etcdctl snapshot restore) (etcd 3.4), into a staging dir beside the data dir, then swaps it in by
    renames. The old data dir is renamed C(<data_dir>.pre-restore-<stamp>) and never deleted; the same goes for
    O(wal_dir). M(etcdops.dr.etcd_restore_rollback) puts it back.
  - Every member of the cluster must be restored from the same snapshot with the same O(initial_cluster),
    O(initial_cluster_token) and O(bump_revision); the role M(etcdops.dr.restore) does that across the hosts.
  - "Refuses, before anything is changed: etcd still running on this host (a process holds the database open or
    listens on the member's URLs); a file whose sha256 is not O(sha256); a file that is truncated or corrupt; a
    tool too old for a requested flag; name and peer URLs that do not match O(initial_cluster); too little free
    disk."
  - The snapshot's own sha256 trailer is checked by the tool. A database copied from a data dir (a cold copy) has
    no trailer; it is restored with C(--skip-hash-check) only when its sha256 matched O(sha256) or the sha256 in
    its C(etcd_cold_copy) manifest.
  - It reads the database in the snapshot itself and returns the revision the restored member will report when it
    starts, RV(expected_revision) - the snapshot's newest key revision plus O(bump_revision), the last compaction
    when that is newer, and on etcd 3.4.32+/3.5.14+/3.6 an unfinished compaction too (O(server_version)). After the
    tool has run it reads the restored database again, and refuses to swap it in unless it stands for that
    revision.
  - In check mode it also has its tool read the file (C(snapshot status)), as M(etcdops.dr.etcd_snapshot_info) does,
    and returns its report in RV(snapshot), so a preflight needs no separate check of the file.
  - A restore always changes the data dir; running it twice restores twice and keeps both old dirs.
attributes:
  check_mode:
    details: Makes every check above and returns the exact command it would run in RV(cmd); changes nothing. A running
      etcd does not fail it (a preflight runs before etcd is stopped); it is reported in RV(etcd_running).
  platform:
    details: Linux; it reads C(/proc) to find a running etcd.
extends_documentation_fragment:
  - etcdops.dr.attributes
  - ansible.builtin.action_common_attributes
options:
  snapshot:
    description: The snapshot file (from M(etcdops.dr.etcd_snapshot) or C(etcdctl snapshot save)), or a cold copy.
    type: path
    required: true
  sha256:
    description:
      - sha256 of the whole file as it must be (the manifest's, or what the file had on another host). The restore
        is refused when the file differs.
    type: str
  checked_file:
    description:
      - RV(checked_file) of a check-mode run of this module on this host, moments before (the restore role passes
        its preflight's). When the file's identity (device, inode, size, mtime, ctime) is still the one that check
        hashed, the file is not read and hashed again; O(sha256) must then be the check's. A file written to,
        replaced or touched since is hashed again.
    type: dict
    suboptions:
      identity:
        description: The file's identity as the check saw it.
        type: str
        required: true
      sha256:
        description: The sha256 the check computed.
        type: str
        required: true
  name:
    description: This member's name, as in O(initial_cluster) and in etcd's C(--name).
    type: str
    required: true
  initial_advertise_peer_urls:
    description: This member's peer URLs, as etcd's C(--initial-advertise-peer-urls).
    type: list
    elements: str
    required: true
  initial_cluster:
    description: Every member of the restored cluster as C(name=peer-url,...), the same on every member.
    type: str
    required: true
  initial_cluster_token:
    description: Token of the new cluster, the same on every member and new for each restore.
    type: str
    required: true
  data_dir:
    description: The member's data dir (etcd's C(--data-dir)).
    type: path
    required: true
  wal_dir:
    description: The member's WAL dir when etcd runs with C(--wal-dir); it is swapped like the data dir.
    type: path
  client_urls:
    description: This member's client URLs; a process listening on one means etcd still runs here.
    type: list
    elements: str
    default: []
  bump_revision:
    description:
      - Raise the restored revision by this much, with C(--mark-compacted), so that Kubernetes watch caches do not
        serve stale data. 0 leaves the revision as it was. Needs etcdutl 3.5.10+ or etcdctl 3.4.27+.
      - The tool adds it to the newest revision left in the snapshot's key bucket, not to the revision the snapshot
        stands for; a bump too small to raise the revision above the snapshot's is refused.
    type: int
    default: 0
  server_version:
    description:
      - Version of the etcd server that will run on the restored data, such as V(3.5.16) (the running cluster's).
        When not given, the C(etcd_version) in the snapshot's manifest is used, if there is one. It decides
        RV(expected_revision) when the snapshot was cut during a compaction; without any version both possible
        revisions are returned (RV(expected_revision_max)).
    type: str
  count_keys:
    description:
      - Count the live keys in the snapshot's database (C(key_count) in RV(snapshot)); this reads every key, so a preflight
        asks it of one host only.
    type: bool
    default: false
  initial_memory_map_size:
    description: etcdutl's C(--initial-memory-map-size) in bytes, for large databases; needs etcdutl 3.5.14+.
    type: int
  etcdutl:
    description: Path of etcdutl. When neither this nor O(etcdctl) is given, etcdutl then etcdctl are looked for on PATH.
    type: path
  etcdctl:
    description: Path of etcdctl, for etcd 3.4 (3.6 has no C(etcdctl snapshot restore)).
    type: path
  owner:
    description: Owner of the restored data dir and everything in it; default the old data dir's, or root.
    type: str
  group:
    description: Group of the restored data dir and everything in it; default the old data dir's, or root.
    type: str
  mode:
    description: Mode of the restored data dir, such as V(0700); default the old data dir's, or V(0700).
    type: raw
  stamp:
    description: Suffix of the kept old dirs; default the UTC time such as V(20261124T101500Z). Give the same on every
      member to name them alike.
    type: str
author:
  - etcdops.dr maintainers (@etcdops)
"""

EXAMPLES = r"""
- name: Restore this member from the snapshot every member has
  etcdops.dr.etcd_restore:
    snapshot: /var/backups/etcd/etcd-snapshot-20261124T101500Z.db
    sha256: "{{ backup_sha256 }}"
    name: node1
    initial_advertise_peer_urls: [https://10.0.0.11:2380]
    initial_cluster: node1=https://10.0.0.11:2380,node2=https://10.0.0.12:2380,node3=https://10.0.0.13:2380
    initial_cluster_token: etcd-restore-20261124T101500Z
    data_dir: /var/lib/etcd
    bump_revision: 1000000000
    etcdutl: /usr/local/bin/etcdutl
  register: restored
"""

RETURN = r"""
cmd:
  description: The restore command run (in check mode, the one it would run), with the staging paths.
  returned: always
  type: list
  elements: str
tool:
  description: V(etcdutl) or V(etcdctl); null when none was found.
  returned: always
  type: str
tool_version:
  description: The tool's version, such as V(3.5.16).
  returned: always
  type: str
sha256:
  description: sha256 of the snapshot file.
  returned: always
  type: str
checked_file:
  description: For O(checked_file) of the real run, the file's identity and sha256, when the file was whole (and
    matched O(sha256) when given) and did not change while it was hashed; else null.
  returned: always
  type: dict
skip_hash_check:
  description: Whether C(--skip-hash-check) was used (a cold copy whose sha256 matched).
  returned: always
  type: bool
data_dir:
  description: The data dir.
  returned: always
  type: str
previous_data_dir:
  description: Where the old data dir was kept (in check mode, would be kept); null when there was none.
  returned: always
  type: str
previous_wal_dir:
  description: Where the old WAL dir was kept; null when O(wal_dir) is not set or did not exist.
  returned: always
  type: str
staging_dir:
  description: The staging dir beside the data dir; removed after the swap.
  returned: always
  type: str
snapshot_revision:
  description: The revision the snapshot stands for (see M(etcdops.dr.etcd_snapshot_info)).
  returned: always
  type: int
snapshot:
  description:
    - The file's report, with the fields of a report of M(etcdops.dr.etcd_snapshot_info) (status, problems,
      sha256, revision, last_key_revision, key_count with O(count_keys), manifest, and more). C(total_keys) and
      C(tool) are set in check mode only, where the tool reads the file.
  returned: always
  type: dict
server_version:
  description: The etcd version RV(expected_revision) was computed for (O(server_version), else the manifest's);
    null when neither was known.
  returned: always
  type: str
expected_revision:
  description: The revision every restored member will report when it starts (the lower end when it is not
    certain, see O(server_version)).
  returned: always
  type: int
expected_revision_max:
  description: The highest revision a restored member may report when it starts; equals RV(expected_revision)
    unless O(server_version) was needed and not given.
  returned: always
  type: int
restored_revision:
  description: The revision the restored database stands for, read from it before the swap; null in check mode.
  returned: always
  type: int
etcd_running:
  description: What shows that etcd runs on this host (in check mode; otherwise the module fails when anything does).
  returned: always
  type: list
  elements: str
stamp:
  description: The suffix of the kept dirs.
  returned: always
  type: str
required_bytes:
  description: Free bytes the restore needs beside the data dir (database, one WAL segment, margin).
  returned: always
  type: int
free_bytes:
  description: Free bytes on each filesystem the restore writes to, by directory.
  returned: always
  type: dict
restore_seconds:
  description: Seconds the restore tool ran.
  returned: always
  type: float
duration_seconds:
  description: Seconds the whole module took, checks included.
  returned: always
  type: float
"""

import os
import shutil
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.etcdops.dr.plugins.module_utils._host import local_member as _local_member
from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError
from ansible_collections.etcdops.dr.plugins.module_utils._etcd.db import EtcdDbError, read_facts, restored_revision
from ansible_collections.etcdops.dr.plugins.module_utils._host.files import utc_stamp
from ansible_collections.etcdops.dr.plugins.module_utils._restore.data_dir_swap import (
    RESTORE_RESERVE, WAL_SEGMENT, disk_problems, kept_name, prepare_staging, set_ownership,
    staging_dir, swap_in, put_back, target_ownership)
from ansible_collections.etcdops.dr.plugins.module_utils._restore.plan import (
    RestorePlanError, find_restore_tool, member_problems, restore_command, tool_problems, version_text,
    version_tuple)
from ansible_collections.etcdops.dr.plugins.module_utils._host.run import run
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.check import check_file, read_status


def _hash_check(params, report):
    """(skip_hash_check, problems) for the snapshot `report` from check_file."""
    problems = []
    if params["sha256"] and params["sha256"].lower() != report["sha256"]:
        problems.append("%s has sha256 %s, expected %s: it is not the snapshot the other members restore (or it "
                        "was damaged); copy the right file here"
                        % (report["path"], report["sha256"], params["sha256"].lower()))
    elif report["status"] in ("corrupt", "truncated"):
        problems.append("%s is %s: %s" % (report["path"], report["status"], "; ".join(report["problems"])))
    if report["has_trailer"]:
        return False, problems
    cold_copy_ok = report["kind"] == "cold_copy" and "manifest" in report["verified_by"]
    if not (cold_copy_ok or params["sha256"]) and not problems:
        problems.append("%s has no sha256 trailer (it is not an etcd snapshot stream) and no cold-copy manifest "
                        "whose sha256 matches: give its known sha256 (option sha256) to restore it with "
                        "--skip-hash-check" % report["path"])
    return True, problems


def _server_version(params, report):
    """The etcd version that will run the restored data, as given, else as the snapshot's manifest recorded it."""
    given = params["server_version"]
    if given and version_tuple(given) is None:
        raise RestorePlanError("server_version %r is not a version such as 3.5.16: give the etcd version the "
                               "cluster runs, or leave it unset." % given)
    return given or (report["manifest"] or {}).get("etcd_version") or None


def _expected(params, report, server_version):
    """(low, high, problems): the revision restored members will report, from the snapshot's database."""
    if report["revision"] is None:
        return None, None, []
    server = version_tuple(server_version)
    low, high = restored_revision(report, params["bump_revision"], server)
    problems = []
    if params["bump_revision"] and low <= report["revision"]:
        problems.append(
            "bump_revision %d is too small for this snapshot: the tool adds it to the newest revision left in the "
            "key bucket (%d), so the restored cluster would start at revision %d, not above the snapshot's %d; give "
            "at least %d (the usual 1000000000 is far above)" % (
                params["bump_revision"], report["last_key_revision"], low, report["revision"],
                report["revision"] - report["last_key_revision"] + 1))
    return low, high, problems


def _check_restored(db, server, expected):
    """The revision the restored database at `db` stands for; RestorePlanError unless it is the expected one."""
    try:
        facts = read_facts(db)
    except EtcdDbError as exc:
        raise RestorePlanError("the restore tool wrote a database this module cannot read: %s" % exc.msg) from None
    got = restored_revision(facts, 0, server)
    if got != expected:
        raise RestorePlanError(
            "the restored database would start at revision %s, but the snapshot calls for %s: the restore tool did "
            "not write what the snapshot holds" % (_span(got), _span(expected)))
    return got[0]


def _span(pair):
    return str(pair[0]) if pair[0] == pair[1] else "%s to %s" % pair


def main():
    module = AnsibleModule(
        argument_spec=dict(
            snapshot=dict(type="path", required=True),
            sha256=dict(type="str"),
            checked_file=dict(type="dict", options=dict(identity=dict(type="str", required=True),
                                                        sha256=dict(type="str", required=True))),
            name=dict(type="str", required=True),
            initial_advertise_peer_urls=dict(type="list", elements="str", required=True),
            initial_cluster=dict(type="str", required=True),
            # A name the members share, not a secret.
            initial_cluster_token=dict(type="str", required=True, no_log=False),
            data_dir=dict(type="path", required=True),
            wal_dir=dict(type="path"),
            client_urls=dict(type="list", elements="str", default=[]),
            bump_revision=dict(type="int", default=0),
            server_version=dict(type="str"),
            initial_memory_map_size=dict(type="int"),
            etcdutl=dict(type="path"),
            etcdctl=dict(type="path"),
            owner=dict(type="str"),
            group=dict(type="str"),
            mode=dict(type="raw"),
            stamp=dict(type="str"),
            count_keys=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    params = module.params
    began = time.monotonic()
    data_dir = params["data_dir"].rstrip("/")
    wal_dir = params["wal_dir"].rstrip("/") if params["wal_dir"] else None
    stamp = params["stamp"] or utc_stamp()
    staging = staging_dir(data_dir)
    result = dict(changed=False, cmd=[], tool=None, tool_version=None, sha256=None, skip_hash_check=False,
                  data_dir=data_dir, previous_data_dir=None, previous_wal_dir=None, staging_dir=staging,
                  snapshot_revision=None, snapshot=None, checked_file=None, server_version=None,
                  expected_revision=None, expected_revision_max=None,
                  restored_revision=None, etcd_running=[], stamp=stamp, required_bytes=None, free_bytes={}, restore_seconds=0.0,
                  duration_seconds=0.0)

    def refuse(problems):
        result["duration_seconds"] = round(time.monotonic() - began, 3)
        reasons = "; ".join(problem.rstrip(".") for problem in problems)
        module.fail_json(msg="refusing to restore %s: %s. Nothing was changed." % (data_dir, reasons), **result)

    try:
        if params["bump_revision"] < 0:
            refuse(["bump_revision is %d: give 0 (no bump) or a positive number such as 1000000000"
                    % params["bump_revision"]])
        problems = member_problems(params)
        if not os.path.isfile(params["snapshot"]):
            refuse(problems + ["no snapshot file at %s: copy it to this host first" % params["snapshot"]])
        if not os.path.isdir(os.path.dirname(data_dir)):
            problems.append("the parent of data_dir %s does not exist" % data_dir)
        tool, tool_path, version = find_restore_tool(module, params["etcdutl"], params["etcdctl"])
        checked = params["checked_file"]
        if checked and (params["sha256"] or "").lower() != checked["sha256"].lower():
            refuse(problems + ["checked_file's sha256 %s is not sha256 %s: give the sha256 the check returned"
                               % (checked["sha256"], params["sha256"])])
        report = check_file(params["snapshot"], params["count_keys"],
                            (checked["identity"], checked["sha256"].lower()) if checked else None)
        if module.check_mode and report["status"] in ("ok", "unverified"):
            # The tool's own reading, before anything is stopped: a file it cannot read fails here, not after the stop.
            known = len(report["problems"])
            read_status(module, report, tool, [tool_path])
            if len(report["problems"]) > known:
                report["status"] = "corrupt"
        result.update(sha256=report["sha256"], snapshot_revision=report["revision"], snapshot=report,
                      server_version=_server_version(params, report))
        skip_hash_check, hash_problems = _hash_check(params, report)
        problems += hash_problems
        if report["identity"] and not hash_problems and report["status"] in ("ok", "unverified"):
            result["checked_file"] = dict(identity=report["identity"], sha256=report["sha256"])
        result["expected_revision"], result["expected_revision_max"], bump_problems = _expected(
            params, report, result["server_version"])
        problems += bump_problems
        result.update(tool=tool, tool_version=version_text(version), skip_hash_check=skip_hash_check)
        problems += tool_problems(tool, version, params)
        result["etcd_running"] = _local_member.etcd_activity(
            data_dir, params["initial_advertise_peer_urls"] + params["client_urls"])
        if not module.check_mode:
            problems += ["etcd still runs on this host: %s; stop it first (etcdops.dr.etcd_service state=stopped)"
                         % found for found in result["etcd_running"]]
        needs = {staging: report["size"] + WAL_SEGMENT + RESTORE_RESERVE}
        if wal_dir:
            needs[staging] = report["size"] + RESTORE_RESERVE
            needs[wal_dir] = WAL_SEGMENT
        result["required_bytes"] = sum(needs.values())
        result["free_bytes"], disk = disk_problems(needs)
        problems += disk
        uid, gid, mode = target_ownership(data_dir, params["owner"], params["group"], params["mode"])
        if problems:
            refuse(problems)
        options = dict(params, skip_hash_check=skip_hash_check)
        result["cmd"] = restore_command(tool_path, params["snapshot"], os.path.join(staging, "data"), options,
                                        os.path.join(staging, "wal") if wal_dir else None)
        result["changed"] = True
        if module.check_mode:
            result.update(previous_data_dir=kept_name(data_dir, stamp) if os.path.lexists(data_dir) else None,
                          previous_wal_dir=kept_name(wal_dir, stamp) if wal_dir and os.path.lexists(wal_dir) else None,
                          duration_seconds=round(time.monotonic() - began, 3))
            module.exit_json(msg="would restore %s from %s with %s %s" % (
                data_dir, params["snapshot"], tool, result["tool_version"]), **result)
    except EtcdOpsError as exc:
        result["changed"] = False
        refuse([exc.msg])

    try:
        prepare_staging(staging)
        restore_began = time.monotonic()
        run(module, result["cmd"], why="%s snapshot restore of %s" % (tool, params["snapshot"]))
        result["restore_seconds"] = round(time.monotonic() - restore_began, 3)
        result["restored_revision"] = _check_restored(
            os.path.join(staging, "data", "member", "snap", "db"),
            version_tuple(result["server_version"]),
            (result["expected_revision"], result["expected_revision_max"]))
        set_ownership(os.path.join(staging, "data"), uid, gid, mode)
        if wal_dir:
            set_ownership(os.path.join(staging, "wal"), uid, gid, 0o700)
    except (EtcdOpsError, OSError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        result.update(changed=False, duration_seconds=round(time.monotonic() - began, 3))
        module.fail_json(msg="restoring %s failed: %s. The staging dir was removed; the data dir was not touched." % (
            data_dir, getattr(exc, "msg", exc)), **result)

    try:
        result["previous_data_dir"] = swap_in(os.path.join(staging, "data"), data_dir, stamp)
        if wal_dir:
            try:
                result["previous_wal_dir"] = swap_in(os.path.join(staging, "wal"), wal_dir, stamp)
            except OSError:
                put_back(data_dir, result["previous_data_dir"], stamp)
                result["previous_data_dir"] = None
                raise
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        result.update(changed=result["previous_data_dir"] is not None,
                      duration_seconds=round(time.monotonic() - began, 3))
        module.fail_json(msg="swapping the restored data into %s failed: %s. The old data dir is %s." % (
            data_dir, exc, result["previous_data_dir"] or "where it was"), **result)
    shutil.rmtree(staging, ignore_errors=True)
    result["duration_seconds"] = round(time.monotonic() - began, 3)
    module.exit_json(msg="restored %s from %s (revision %s) with %s %s in %.1fs; the old data dir is kept as %s" % (
        data_dir, params["snapshot"], result["restored_revision"], tool, result["tool_version"],
        result["restore_seconds"], result["previous_data_dir"]), **result)


if __name__ == "__main__":
    main()
