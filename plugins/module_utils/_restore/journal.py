# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The restore journal: a small JSON file beside a member's data dir, `<data_dir>.etcdops-restore.json`, written
atomically and fsynced at each step of a restore. A run that dies (controller killed, host lost) leaves it behind;
the next restore or rollback reads it first to learn where the member's pre-restore data is.

The one fact that matters for recovery is where the data that was live before the first unfinished restore is now:
while `kept_data_dir` is null (or that dir does not exist), the live data dir still holds it; once that dir exists,
the live data dir, if any, is a restored copy that was never verified. A run that starts over an unfinished one
inherits that fact, so the pre-restore data is never taken for a restored copy, nor the other way round.

For a data dir that is a mount point, what is swapped is its `member` dir (data_dir_swap.swap_path): the kept dir and
"the live data dir" above are then the ones inside the mount, and `data_dir_mount` records that the data dir was a
mount point when the pre-restore data was kept. A run that finds it otherwise (the disk not mounted again after a
reboot, or mounted over a data dir that was not one) is refused: the kept data it looks for is out of sight."""
from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING, Any

from ansible_collections.etcdops.dr.plugins.module_utils._argspec import ArgumentSpec
from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError
from ansible_collections.etcdops.dr.plugins.module_utils._host.files import write_atomic
from ansible_collections.etcdops.dr.plugins.module_utils._restore.data_dir_swap import is_mount_point, swap_path

if TYPE_CHECKING:
    from typing import TypeGuard

    from ansible_collections.etcdops.dr.plugins.module_utils._host.run import HostContext

SUFFIX = ".etcdops-restore.json"
STEPS = ("planned", "stopped", "staged", "swapped", "started", "verified", "rolled_back")
FINISHED = ("verified", "rolled_back")
# What an unfinished run hands to the next one: where the pre-restore data is.
INHERITED = ("kept_data_dir", "kept_wal_dir", "had_data_dir", "had_wal_dir", "data_dir_mount")


class JournalError(EtcdOpsError):
    """The journal cannot be read or written; msg names the file and the fix, `details` what a module returns with it."""

    def __init__(self, msg: str, **details: Any) -> None:
        super().__init__(msg)
        self.details = details


def journal_path(data_dir: str) -> str:
    return data_dir.rstrip("/") + SUFFIX


def read(data_dir: str) -> dict[str, Any] | None:
    """The journal of the member whose data dir is `data_dir`, or None when there is none."""
    path = journal_path(data_dir)
    try:
        with open(path, "rb") as handle:
            entry = json.loads(handle.read().decode("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise JournalError("the restore journal %s cannot be read (%s): look at it (it says where the member's "
                           "pre-restore data is), then move it away" % (path, exc)) from None
    if not isinstance(entry, dict) or entry.get("step") not in STEPS or not entry.get("run_id"):
        raise JournalError("the restore journal %s is not one this collection wrote (no run_id or step): look at "
                           "it, then move it away" % path)
    return entry


def unfinished(entry: dict[str, Any] | None) -> TypeGuard[dict[str, Any]]:
    return bool(entry and entry["step"] not in FINISHED)


def pre_restore_location(live: str, kept: str | None, had_live: bool) -> tuple[bool, str | None]:
    """Where a member's pre-restore data is, given what an unfinished restore recorded (`kept`, and whether there
    was a live dir before it, `had_live`): (whether the dir at `live` is a restored copy, the kept dir that holds
    the pre-restore data when that dir exists)."""
    if kept and os.path.lexists(kept):
        return os.path.lexists(live), kept
    return os.path.lexists(live) and not had_live, None


def pre_restore_state(entry: dict[str, Any] | None, data_dir: str, wal_dir: str | None) -> dict[str, Any]:
    """What a new run starting now inherits: from an unfinished journal its INHERITED fields, else the member's
    dirs as they are (had_* true when they exist, for a data dir that is a mount point when its `member` dir does;
    nothing kept yet)."""
    if unfinished(entry):
        return {name: entry.get(name) for name in INHERITED}
    mounted = is_mount_point(data_dir)
    return dict(kept_data_dir=None, kept_wal_dir=None, had_data_dir=os.path.lexists(swap_path(data_dir, mounted)),
                had_wal_dir=bool(wal_dir and os.path.lexists(wal_dir)), data_dir_mount=mounted)


def mount_problem(state: dict[str, Any], data_dir: str, mounted: bool) -> str | None:
    """Why the pre-restore `state` (INHERITED fields) cannot be trusted with the data dir as it is now (`mounted`):
    it was kept while the data dir was a mount point and is not one now, or the other way round; None when it can
    (or an older journal does not say)."""
    recorded = state.get("data_dir_mount")
    if recorded is None or bool(recorded) == mounted:
        return None
    if recorded:
        return ("the restore journal %s says %s was a mount point when its restore began, and it is not one now: the "
                "pre-restore data is inside that filesystem; mount it at %s again, then run again" % (
                    journal_path(data_dir), data_dir, data_dir))
    return ("the restore journal %s says %s was not a mount point when its restore began, and it is one now: the "
            "pre-restore data is beside it, in the filesystem below the mount; unmount %s, then run again" % (
                journal_path(data_dir), data_dir, data_dir))


def record(data_dir: str, run_id: str, step: str, **fields: Any) -> dict[str, Any]:
    """Write `step` of run `run_id` with `fields`, durably. A different run's unfinished entry is taken over: its
    INHERITED fields carry on and its run id and step are kept as `interrupted`. Returns the new entry."""
    if step not in STEPS:
        raise JournalError("unknown restore step %r" % step)
    entry = planned_entry(data_dir, run_id, step, fields)
    try:
        _write(data_dir, entry)
    except OSError as exc:
        raise JournalError("writing the restore journal %s failed: %s" % (journal_path(data_dir), exc)) from None
    return entry


def _write(data_dir: str, entry: dict[str, Any]) -> None:
    write_atomic(journal_path(data_dir), (json.dumps(entry, indent=1, sort_keys=True) + "\n").encode("utf-8"))


def planned_entry(data_dir: str, run_id: str, step: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The entry record() would write (check mode shows it)."""
    old = read(data_dir)
    if old and old["run_id"] == run_id:
        entry = dict(old)
    else:
        entry = dict(run_id=run_id, data_dir=data_dir.rstrip("/"), steps=[], interrupted=None)
        entry.update(pre_restore_state(old, data_dir, fields.get("wal_dir")))
        if unfinished(old):
            entry["interrupted"] = dict(run_id=old["run_id"], step=old["step"], snapshot=old.get("snapshot"),
                                        sha256=old.get("sha256"))
    entry.update({name: value for name, value in fields.items() if value is not None})
    entry["step"] = step
    entry["steps"] = entry["steps"] + [dict(step=step, at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))]
    return entry


def note_failure(data_dir: str, run_id: str, step: str, msg: str) -> bool:
    """Add the failure of `step` to run `run_id`'s entry (`failures`, kept through the rollback), for the operator
    and a post-mortem. Best effort: a journal that cannot be read or written, or that belongs to another run, is left
    as it is (the play's failure message carries the cause anyway). Returns whether it was recorded."""
    try:
        entry = read(data_dir)
        if not entry or entry["run_id"] != run_id:
            return False
        failure = dict(step=step, msg=msg, at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        entry = dict(entry, failures=entry.get("failures", []) + [failure])
        _write(data_dir, entry)
    except (JournalError, OSError):
        return False
    return True


def advance(data_dir: str, run_id: str, step: str, fields: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    """Record `step` of run `run_id` (in check mode, say what would be recorded); what a module returns: changed,
    msg, journal, previous, path. Only "planned" may start a run: any later step of a run the journal does not
    hold is refused (another restore took the member over). Raises JournalError."""
    path = journal_path(data_dir)
    previous = read(data_dir)
    if step != "planned" and (not previous or previous["run_id"] != run_id):
        raise JournalError("the restore journal %s belongs to %s, not to run %s: another restore took over this "
                           "member; look at the journal before going on" % (
                               path, "run %s" % previous["run_id"] if previous else "no run", run_id),
                           previous=previous, journal=previous)
    if previous and previous["run_id"] == run_id and previous["step"] == step:
        return dict(changed=False, msg="%s already records step %s of run %s" % (path, step, run_id),
                    journal=previous, previous=previous, path=path)
    entry = planned_entry(data_dir, run_id, step, fields) if check_mode else record(data_dir, run_id, step, **fields)
    interrupted = entry.get("interrupted") if step == "planned" else None
    taking_over = "; it takes over the interrupted run %s (step %s)" % (
        interrupted["run_id"], interrupted["step"]) if interrupted else ""
    return dict(changed=True, msg="%s %s step %s of run %s%s" % (
        "would record in" if check_mode else "recorded in", path, step, run_id, taking_over),
        journal=entry, previous=previous, path=path)


# What etcd_restore_journal records with a step (the restore role records its plan with them).
FIELDS = ("snapshot", "sha256", "member", "wal_dir", "cluster_token", "kubernetes", "live_revision")
ARGUMENT_SPEC = ArgumentSpec(dict(
    data_dir=dict(type="path", required=True),
    run_id=dict(type="str", required=True),
    step=dict(type="str", required=True, choices=["planned", "started", "verified"]),
    snapshot=dict(type="path"),
    sha256=dict(type="str"),
    member=dict(type="str"),
    wal_dir=dict(type="path"),
    # A name the members share, not a secret.
    cluster_token=dict(type="str", no_log=False),
    kubernetes=dict(type="bool"),
    live_revision=dict(type="int"),
))


class JournalStep:
    """One step recorded in a member's journal, as the etcd_restore_journal module does it."""

    def __init__(self, params: dict[str, Any], host: HostContext) -> None:
        self.params = params
        self.host = host
        self.result: dict[str, Any] = dict(changed=False, journal=None, previous=None,
                                           path=journal_path(params["data_dir"]))
        self.message = ""

    def _advance(self, check_mode: bool) -> str:
        params = self.params
        outcome = advance(params["data_dir"], params["run_id"], params["step"],
                          {name: params.get(name) for name in FIELDS}, check_mode)
        message = outcome.pop("msg")
        self.result.update(outcome)
        return message

    def plan(self) -> None:
        self.message = self._advance(check_mode=True)

    def would(self) -> str:
        return self.message

    def apply(self) -> None:
        if self.result["changed"]:
            self.message = self._advance(check_mode=False)

    def done(self) -> str:
        return self.message

    def failed(self, exc: Exception) -> str:
        self.result.update(getattr(exc, "details", {}))
        return getattr(exc, "msg", None) or str(exc)
