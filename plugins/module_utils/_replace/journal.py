# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The replacement journal: `<data_dir>.etcdops-replace.json` on the replaced member's host, written atomically at each
step of a replacement. A run that dies leaves it behind; the next run (a resume) or the undo reads it first: which
member was removed, which was added, where the old data dir and the previous configuration are."""
from __future__ import annotations

import json
import os
import time
from typing import Any

from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError
from ansible_collections.etcdops.dr.plugins.module_utils._host.files import write_atomic

SUFFIX = ".etcdops-replace.json"
STEPS = ("planned", "removed", "kept", "added", "configured", "started", "promoted", "verified", "rolled_back")
FINISHED = ("verified", "rolled_back")
FIELDS = ("member", "peer_url", "client_url", "cluster_id", "old_member_id", "new_member_id", "kept_data_dir",
          "kept_wal_dir", "keep_dir", "config_kept", "config_kinds", "initial_cluster", "failure", "data_dir_mount")


class JournalError(EtcdOpsError):
    """The journal cannot be read or written; msg names the file and the fix."""


def path_of(data_dir: str) -> str:
    return data_dir.rstrip("/") + SUFFIX


def read(data_dir: str) -> dict[str, Any] | None:
    path = path_of(data_dir)
    try:
        with open(path, "rb") as handle:
            entry = json.loads(handle.read().decode("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise JournalError("the replacement journal %s cannot be read (%s): look at it (it says which member was "
                           "removed and added, and where the old data is), then move it away" % (path, exc)) from None
    if not isinstance(entry, dict) or entry.get("step") not in STEPS or not entry.get("run_id"):
        raise JournalError("the replacement journal %s is not one this collection wrote: look at it, then move it "
                           "away" % path)
    return entry


def unfinished(entry: dict[str, Any] | None) -> bool:
    return (entry or {}).get("step") in STEPS and (entry or {}).get("step") not in FINISHED


def reached(entry: dict[str, Any] | None, step: str) -> bool:
    """Whether the journal's run got at least as far as `step`."""
    current = (entry or {}).get("step")
    return current in STEPS and current != "rolled_back" and STEPS.index(current) >= STEPS.index(step)


def record(data_dir: str, entry: dict[str, Any], step: str, **fields: Any) -> dict[str, Any]:
    """Write `entry` at `step` with `fields`; returns the new entry. The step never goes back: a run that takes over
    one that got further (a phase done again) keeps the further step, so the journal never claims less was done."""
    if unfinished(entry) and step != "rolled_back" and STEPS.index(step) < STEPS.index(entry["step"]):
        step = entry["step"]
    new = dict(entry, step=step, updated_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **fields)
    path = path_of(data_dir)
    try:
        write_atomic(path, (json.dumps(new, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    except OSError as exc:
        raise JournalError("cannot write the replacement journal %s: %s" % (path, exc.strerror or exc)) from None
    return new


def remove(data_dir: str) -> None:
    try:
        os.unlink(path_of(data_dir))
    except FileNotFoundError:
        pass
