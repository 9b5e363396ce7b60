# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One member's restore, as the etcd_restore module does it: plan() makes every check and decides the command
(check mode stops there); apply() restores into a staging dir, proves the restored database and swaps it in. A data dir
that is a mount point stays in place: its `member` dir is staged, swapped and kept inside the mount
(data_dir_swap.swap_path)."""
from __future__ import annotations

import os
import shutil
import time
from typing import TYPE_CHECKING, Any, NoReturn

from ansible_collections.etcdops.dr.plugins.module_utils._argspec import ArgumentSpec
from ansible_collections.etcdops.dr.plugins.module_utils._crypto.envelope import CryptoError, private_key
from ansible_collections.etcdops.dr.plugins.module_utils._crypto.stream import open_file
from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError
from ansible_collections.etcdops.dr.plugins.module_utils._etcd.db import EtcdDbError, read_facts, restored_revision
from ansible_collections.etcdops.dr.plugins.module_utils._etcd.version import version_text, version_tuple
from ansible_collections.etcdops.dr.plugins.module_utils._host import local_member
from ansible_collections.etcdops.dr.plugins.module_utils._host.files import utc_stamp
from ansible_collections.etcdops.dr.plugins.module_utils._host.run import run
from ansible_collections.etcdops.dr.plugins.module_utils._restore import journal
from ansible_collections.etcdops.dr.plugins.module_utils._restore.data_dir_swap import (
    MEMBER_DIR, RESTORE_RESERVE, WAL_SEGMENT, describe_leftovers, disk_problems, failed_name, is_mount_point, kept_name,
    prepare_staging, replace_dir, set_ownership, staging_dir, swap_path, target_ownership)
from ansible_collections.etcdops.dr.plugins.module_utils._restore.plan import (
    RestorePlanError, expected_revisions, find_restore_tool, member_problems, restore_command, tool_problems)
from ansible_collections.etcdops.dr.plugins.module_utils._runner import planned
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.check import check_file, read_status
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.stream import decrypt_to_file

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from ansible_collections.etcdops.dr.plugins.module_utils._host.run import HostContext

ARGUMENT_SPEC = ArgumentSpec(dict(
    snapshot=dict(type="path", required=True),
    sha256=dict(type="str"),
    checked_file=dict(type="dict", options=dict(identity=dict(type="str", required=True),
                                                sha256=dict(type="str", required=True))),
    manifest=dict(type="dict"),
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
    decryption_key=dict(type="str", no_log=True),
))
# The decrypted snapshot of an encrypted one, in the staging dir while etcd's tool restores from it.
PLAINTEXT_NAME = "snapshot.db"


class Refused(EtcdOpsError):
    """The restore was refused before anything changed; msg lists every reason."""


class Failed(EtcdOpsError):
    """The restore failed while it ran; msg says what became of the data dir."""


def _hash_check(params: dict[str, Any], report: dict[str, Any]) -> tuple[bool, list[str]]:
    """(skip_hash_check, problems) for the snapshot `report` from check_file."""
    problems = []
    if report["status"] not in ("ok", "unverified"):
        problems.append("%s is %s: %s" % (report["path"], report["status"].replace("_", " "),
                                          "; ".join(report["problems"])))
    elif params["sha256"] and params["sha256"].lower() != report["sha256"]:
        problems.append("%s has sha256 %s, expected %s: it is not the snapshot the other members restore (or it "
                        "was damaged); copy the right file here"
                        % (report["path"], report["sha256"], params["sha256"].lower()))
    if report["encryption"]:
        if report["plaintext_sha256"] is None and not problems:
            problems.append("%s is encrypted (to key ids %s) and no decryption_key was given: give the private key of "
                            "one of its recipients" % (report["path"], ", ".join(report["encryption"]["recipients"])))
        return False, problems
    if report["has_trailer"]:
        return False, problems
    cold_copy_ok = report["kind"] == "cold_copy" and "manifest" in report["verified_by"]
    if not (cold_copy_ok or params["sha256"]) and not problems:
        problems.append("%s has no sha256 trailer (it is not an etcd snapshot stream) and no cold-copy manifest "
                        "whose sha256 matches: give its known sha256 (option sha256) to restore it with "
                        "--skip-hash-check" % report["path"])
    return True, problems


def _server_version(params: dict[str, Any], report: dict[str, Any]) -> str | None:
    """The etcd version that will run the restored data, as given, else as the snapshot's manifest recorded it."""
    given = params["server_version"]
    if given and version_tuple(given) is None:
        raise RestorePlanError("server_version %r is not a version such as 3.5.16: give the etcd version the "
                               "cluster runs, or leave it unset." % given)
    return given or (report["manifest"] or {}).get("etcd_version") or None


def _check_restored(db: str, server: tuple[int, ...] | None, expected: tuple[int | None, int | None]) -> int:
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


def _span(pair: tuple[int | None, int | None]) -> str:
    return str(pair[0]) if pair[0] == pair[1] else "%s to %s" % pair


class MemberRestore:
    """The restore of one member's data dir. `result` holds every return value of the module at any point."""

    def __init__(self, params: dict[str, Any], host: HostContext) -> None:
        self.host = host
        self.params = params
        self.began = time.monotonic()
        self.data_dir = params["data_dir"].rstrip("/")
        self.wal_dir = params["wal_dir"].rstrip("/") if params["wal_dir"] else None
        # A data dir that is a mount point cannot be renamed: its member dir is swapped, inside the mount.
        self.mounted = is_mount_point(self.data_dir)
        self.data_swap = swap_path(self.data_dir, self.mounted)
        self.staging = staging_dir(self.data_swap)
        # (uid, gid, mode) the restored dirs get.
        self.ownership: tuple[int, int, int] | None = None
        # (key id, private key) from decryption_key.
        self.key: tuple[str, X25519PrivateKey] | None = None
        # Where the pre-restore data is (journal.INHERITED), from this run's journal entry or an interrupted run's.
        self.pre_restore: dict[str, Any] = {}
        self.result = dict(
            changed=False, cmd=[], tool=None, tool_version=None, sha256=None, skip_hash_check=False,
            data_dir=self.data_dir, data_dir_mount=self.mounted, previous_data_dir=None, previous_wal_dir=None, staging_dir=self.staging,
            snapshot_revision=None, snapshot=None, checked_file=None, server_version=None, expected_revision=None,
            expected_revision_max=None, restored_revision=None, etcd_running=[], stamp=params["stamp"] or utc_stamp(),
            required_bytes=None, free_bytes={}, decrypt_seconds=0.0, restore_seconds=0.0, duration_seconds=0.0,
            journal=None)

    def _clock(self) -> None:
        self.result["duration_seconds"] = round(time.monotonic() - self.began, 3)

    def _refuse(self, problems: list[str]) -> NoReturn:
        self.result["changed"] = False
        self._clock()
        reasons = "; ".join(problem.rstrip(".") for problem in problems)
        raise Refused("refusing to restore %s: %s. Nothing was changed." % (self.data_dir, reasons))

    def plan(self) -> None:
        """Every check, before anything changes; the command in result['cmd']. Raises Refused with all reasons."""
        try:
            self._plan()
        except Refused:
            raise
        except EtcdOpsError as exc:
            self._refuse([exc.msg])
        self._clock()

    def _snapshot_report(self, tool: str, tool_path: str) -> dict[str, Any]:
        params = self.params
        checked = params["checked_file"]
        report = check_file(params["snapshot"], params["count_keys"],
                            (checked["identity"], checked["sha256"].lower()) if checked else None,
                            manifest=params["manifest"], key=self.key)
        # etcd's tool reads plaintext only: an encrypted snapshot's database was read decrypted, in memory.
        if self.host.check_mode and report["status"] in ("ok", "unverified") and not report["encryption"]:
            # The tool's own reading, before anything is stopped: a file it cannot read fails here, not after the stop.
            known = len(report["problems"])
            read_status(self.host, report, tool, [tool_path])
            if len(report["problems"]) > known:
                report["status"] = "corrupt"
        return report

    def _plan(self) -> None:
        params, result = self.params, self.result
        if params["bump_revision"] < 0:
            self._refuse(["bump_revision is %d: give 0 (no bump) or a positive number such as 1000000000"
                          % params["bump_revision"]])
        problems = member_problems(params)
        try:
            entry = journal.read(self.data_dir)
        except journal.JournalError as exc:
            self._refuse(problems + [exc.msg])
        result["journal"] = entry
        self.pre_restore = ({name: entry.get(name) for name in journal.INHERITED}
                            if entry and entry["run_id"] == result["stamp"]
                            else journal.pre_restore_state(entry, self.data_dir, self.wal_dir))
        mount_problem = journal.mount_problem(self.pre_restore, self.data_dir, self.mounted)
        if mount_problem:
            self._refuse(problems + [mount_problem])
        if self.wal_dir and is_mount_point(self.wal_dir):
            problems.append("wal_dir %s is a mount point: the restore swaps a WAL dir by renaming it, which a mount point "
                            "does not allow; give etcd a WAL dir inside the mount (such as %s/wal, moving the WAL files "
                            "there with etcd stopped), or restore without a separate WAL dir" % (
                                self.wal_dir, self.wal_dir))
        if not os.path.isfile(params["snapshot"]):
            self._refuse(problems + ["no snapshot file at %s: copy it to this host first" % params["snapshot"]])
        if not os.path.isdir(os.path.dirname(self.data_dir)):
            problems.append("the parent of data_dir %s does not exist" % self.data_dir)
        if params["decryption_key"]:
            try:
                self.key = private_key(params["decryption_key"], "decryption_key")
            except CryptoError as exc:
                self._refuse(problems + [exc.msg])
        tool, tool_path, version = find_restore_tool(self.host, params["etcdutl"], params["etcdctl"])
        checked = params["checked_file"]
        if checked and (params["sha256"] or "").lower() != checked["sha256"].lower():
            self._refuse(problems + ["checked_file's sha256 %s is not sha256 %s: give the sha256 the check returned"
                                     % (checked["sha256"], params["sha256"])])
        report = self._snapshot_report(tool, tool_path)
        result.update(sha256=report["sha256"], snapshot_revision=report["revision"], snapshot=report,
                      server_version=_server_version(params, report))
        skip_hash_check, hash_problems = _hash_check(params, report)
        problems += hash_problems
        if report["identity"] and not hash_problems and report["status"] in ("ok", "unverified"):
            result["checked_file"] = dict(identity=report["identity"], sha256=report["sha256"])
        result["expected_revision"], result["expected_revision_max"], bump_problems = expected_revisions(
            report, params["bump_revision"], result["server_version"])
        problems += bump_problems
        result.update(tool=tool, tool_version=version_text(version), skip_hash_check=skip_hash_check)
        problems += tool_problems(tool, version, params)
        result["etcd_running"] = local_member.etcd_activity(
            self.data_dir, params["initial_advertise_peer_urls"] + params["client_urls"])
        if not self.host.check_mode:
            problems += ["etcd still runs on this host: %s; stop it first (etcdops.dr.etcd_service state=stopped)"
                         % found for found in result["etcd_running"]]
        # An encrypted snapshot is decrypted into the staging dir beside the data etcd's tool writes there.
        problems += self._disk_problems(report["size"] + ((report["encryption"] or {}).get("plaintext_size") or 0))
        self.ownership = target_ownership(self.data_swap, params["owner"], params["group"], params["mode"])
        if problems:
            self._refuse(problems)
        options = dict(params, skip_hash_check=skip_hash_check)
        source = os.path.join(self.staging, PLAINTEXT_NAME) if report["encryption"] else params["snapshot"]
        result["cmd"] = restore_command(tool_path, source, os.path.join(self.staging, "data"), options,
                                        os.path.join(self.staging, "wal") if self.wal_dir else None)
        result["changed"] = True
        result["previous_data_dir"] = self._moves(self.data_swap, "data")[1]
        if self.wal_dir:
            result["previous_wal_dir"] = self._moves(self.wal_dir, "wal")[1]

    def _moves(self, live: str, kind: str) -> tuple[str | None, str | None]:
        """(where the live dir goes aside, where the pre-restore data is once the restored one is in). A live dir
        that an interrupted restore left (a restored copy never verified) goes to its failed-restore name; the
        member's own data to its kept name; the pre-restore data an interrupted restore kept stays where it is."""
        restored, kept = journal.pre_restore_location(live, self.pre_restore["kept_%s_dir" % kind],
                                                      self.pre_restore["had_%s_dir" % kind])
        if restored:
            return failed_name(live, self.result["stamp"]), kept
        if kept:
            return None, kept
        if os.path.lexists(live):
            name = kept_name(live, self.result["stamp"])
            return name, name
        return None, None

    def _disk_problems(self, size: int) -> list[str]:
        needs = {self.staging: size + WAL_SEGMENT + RESTORE_RESERVE}
        if self.wal_dir:
            needs[self.staging] = size + RESTORE_RESERVE
            needs[self.wal_dir] = WAL_SEGMENT
        self.result["required_bytes"] = sum(needs.values())
        self.result["free_bytes"], problems = disk_problems(needs)
        leftovers = describe_leftovers([self.data_swap] + ([self.wal_dir] if self.wal_dir else [])) if problems else ""
        return problems + ([leftovers] if leftovers else [])

    def would(self) -> str:
        return "would restore %s from %s with %s %s" % (
            self.data_dir, self.params["snapshot"], self.result["tool"], self.result["tool_version"])

    def apply(self) -> None:
        """Restore into the staging dir, prove it, swap it in; the journal records each step. Raises Failed saying
        where the data dir is."""
        result = self.result
        result.update(previous_data_dir=None, previous_wal_dir=None)
        self._journal("stopped", snapshot=self.params["snapshot"], sha256=result["sha256"], member=self.params["name"],
                      wal_dir=self.wal_dir, cluster_token=self.params["initial_cluster_token"])
        self._restore_into_staging()
        dirs = [(self.data_swap, "data")] + ([(self.wal_dir, "wal")] if self.wal_dir else [])
        moves = {kind: self._moves(live, kind) for live, kind in dirs}
        restored = dict(data=self._restored_data(), wal=os.path.join(self.staging, "wal"))
        result.update(previous_data_dir=moves["data"][1], previous_wal_dir=moves.get("wal", (None, None))[1])
        # Written before the renames: whatever becomes of them, the journal says where the pre-restore data is.
        self._journal("staged", kept_data_dir=moves["data"][1], kept_wal_dir=moves.get("wal", (None, None))[1])
        done = []
        try:
            for live, kind in dirs:
                replace_dir(live, moves[kind][0], restored[kind])
                done.append(live)
        except OSError as exc:
            shutil.rmtree(self.staging, ignore_errors=True)
            result["changed"] = bool(done)
            self._clock()
            raise Failed("swapping the restored data into %s failed: %s. %s" % (
                ", ".join(live for live, dummy in dirs), exc,
                "The member's data was not touched." if not done else
                "%s holds restored data now; the pre-restore data is %s (etcd_restore_rollback puts it back, "
                "reading the journal %s)" % (", ".join(done), result["previous_data_dir"],
                                             journal.journal_path(self.data_dir)))) from None
        self._journal("swapped")
        shutil.rmtree(self.staging, ignore_errors=True)
        self._clock()

    def _journal(self, step: str, **fields: Any) -> None:
        try:
            self.result["journal"] = journal.record(self.data_dir, self.result["stamp"], step, **fields)
        except journal.JournalError as exc:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.result["changed"] = step == "swapped"
            self._clock()
            raise Failed("%s. The restore stopped at that point, before its step %s was recorded." % (
                exc.msg, step)) from None

    def _restore_into_staging(self) -> None:
        result = self.result
        uid, gid, mode = planned(self.ownership)
        plaintext = os.path.join(self.staging, PLAINTEXT_NAME) if result["snapshot"]["encryption"] else None
        try:
            prepare_staging(self.staging)
            restore_began = time.monotonic()
            if plaintext:
                self._decrypt(plaintext)
                result["decrypt_seconds"] = round(time.monotonic() - restore_began, 3)
            try:
                why = "%s snapshot restore of %s" % (result["tool"], self.params["snapshot"])
                run(self.host, result["cmd"], why=why)
            finally:
                if plaintext and os.path.exists(plaintext):
                    os.unlink(plaintext)
            result["restore_seconds"] = round(time.monotonic() - restore_began, 3)
            result["restored_revision"] = _check_restored(
                os.path.join(self.staging, "data", "member", "snap", "db"), version_tuple(result["server_version"]),
                (result["expected_revision"], result["expected_revision_max"]))
            set_ownership(self._restored_data(), uid, gid, mode)
            if self.wal_dir:
                set_ownership(os.path.join(self.staging, "wal"), uid, gid, 0o700)
        except (EtcdOpsError, OSError) as exc:
            # The decrypted snapshot is in there too: it goes with it.
            shutil.rmtree(self.staging, ignore_errors=True)
            result["changed"] = False
            self._clock()
            raise Failed("restoring %s failed: %s. The staging dir was removed; the data dir was not touched." % (
                self.data_dir, getattr(exc, "msg", exc))) from None

    def _restored_data(self) -> str:
        """What the restore swaps in for the data dir (its member dir, for a mount point)."""
        data = os.path.join(self.staging, "data")
        return os.path.join(data, MEMBER_DIR) if self.mounted else data

    def _decrypt(self, plaintext: str) -> None:
        """The encrypted snapshot decrypted to `plaintext` (0600), proven against what plan() read."""
        report = self.result["snapshot"]
        with open_file(self.params["snapshot"], self.key) as opened:
            got = decrypt_to_file(opened, plaintext)
        if got != report["plaintext_sha256"]:
            raise RestorePlanError("%s decrypted to a plaintext with sha256 %s, but it decrypted to %s when it was "
                                   "checked: the file changed since" % (self.params["snapshot"], got,
                                                                        report["plaintext_sha256"]))

    def done(self) -> str:
        result = self.result
        return "restored %s from %s (revision %s) with %s %s in %.1fs; the old data dir is kept as %s" % (
            self.data_dir, self.params["snapshot"], result["restored_revision"], result["tool"],
            result["tool_version"], result["restore_seconds"], result["previous_data_dir"])
