# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Retention of backup files: which of <prefix>-<UTC time>[-N].db to keep, and removing the rest."""
from __future__ import annotations

import datetime
import os
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ansible_collections.etcdops.dr.plugins.module_utils._argspec import ArgumentSpec
from ansible_collections.etcdops.dr.plugins.module_utils._host.files import fsync_dir
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.file import MANIFEST_SUFFIX, NAME_STAMP_FORMAT, companions
from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError

if TYPE_CHECKING:
    from ansible_collections.etcdops.dr.plugins.module_utils._host.run import HostContext

# .db, or .db.enc when encrypted.
_STAMP = r"(?P<stamp>\d{8}T\d{6}Z)(?:-(?P<number>\d+))?\.db(?:\.enc)?"
_AGE = re.compile(r"^\s*(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>[smhdw])\s*$")
_UNIT_SECONDS = dict(s=1, m=60, h=3600, d=86400, w=604800)


class RetentionError(EtcdOpsError):
    """Retention settings or backup names that cannot be applied; msg says which."""


def parse_max_age(text: str | None) -> float | None:
    """'36h', '7d', '2w'... in seconds; None when empty."""
    if text is None or not str(text).strip():
        return None
    match = _AGE.match(str(text))
    if not match:
        raise RetentionError("max_age %r is not an age: give a number and a unit (s, m, h, d or w), e.g. 36h or 7d."
                             % text)
    return float(match.group("amount")) * _UNIT_SECONDS[match.group("unit")]


def backup_time(name: str, prefix: str) -> tuple[datetime.datetime, int] | None:
    """(UTC time, sequence number) from a backup's file name, or None when it is not <prefix>-<stamp>.db."""
    match = re.match("^%s-%s$" % (re.escape(prefix), _STAMP), name)
    if not match:
        return None
    try:
        when = datetime.datetime.strptime(match.group("stamp"), NAME_STAMP_FORMAT)
    except ValueError:
        return None
    return when.replace(tzinfo=datetime.timezone.utc), int(match.group("number") or 1)


def plan(directory: str, prefix: str, keep_last: int, max_age_seconds: float | None, protect: Iterable[str],
         now: datetime.datetime) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Decide which backups in `directory` go. Only regular files named <prefix>-<UTC time>[-N].db count; other files
    are never touched. Backups are ranked newest first by the time in their name; one goes when it is not among the
    `keep_last` newest (0: no count limit) or is older than `max_age_seconds` (None: no age limit). Paths in
    `protect` (the backup just taken) always stay, and count among the newest even when not written yet (check
    mode). Returns (keep, remove): lists of (path, reason)."""
    if not prefix:
        raise RetentionError("prefix is empty: give the prefix of the backups' file names, so that no other file "
                             "can match.")
    if keep_last < 0:
        raise RetentionError("keep_last is %d: give 0 (no count limit) or the number of backups to keep." % keep_last)
    protected = {os.path.join(directory, os.path.basename(path)) for path in protect
                 if os.path.dirname(os.path.abspath(path)) == os.path.abspath(directory)}
    names = set(os.listdir(directory)) if os.path.isdir(directory) else set()
    backups = [name for name in names if os.path.isfile(os.path.join(directory, name))
               and not os.path.islink(os.path.join(directory, name))]
    keep, remove = rank(backups, prefix, keep_last, max_age_seconds, {os.path.basename(p) for p in protected}, now)
    return ([(os.path.join(directory, name), why) for name, why in keep],
            [(os.path.join(directory, name), why) for name, why in remove])


def rank(names: Iterable[str], prefix: str, keep_last: int, max_age_seconds: float | None, protect: Iterable[str],
         now: datetime.datetime) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """plan() over backup names wherever they are (a dir, a store): the names in `protect` always stay and count
    among the newest even when not in `names` yet; names that are not <prefix>-<UTC time>[-N].db are left out.
    Returns (keep, remove): lists of (name, reason)."""
    protected = set(protect)
    backups = []
    for name in set(names) | protected:
        when = backup_time(name, prefix)
        if when:
            backups.append((when, name))
    backups.sort(reverse=True)
    keep, remove = [], []
    for rank_number, ((taken, dummy), name) in enumerate(backups):
        age = (now - taken).total_seconds()
        reasons = []
        if keep_last and rank_number >= keep_last:
            reasons.append("not among the %d newest" % keep_last)
        if max_age_seconds is not None and age > max_age_seconds:
            reasons.append("older than %s" % _describe_age(max_age_seconds))
        if name in protected:
            keep.append((name, "the backup just taken"))
        elif reasons:
            remove.append((name, " and ".join(reasons)))
        elif keep_last:
            keep.append((name, "among the %d newest" % keep_last))
        elif max_age_seconds is not None:
            keep.append((name, "newer than %s" % _describe_age(max_age_seconds)))
        else:
            keep.append((name, "no retention limit is set"))
    return keep, remove


def _describe_age(seconds: float) -> str:
    for unit in ("w", "d", "h", "m"):
        if seconds % _UNIT_SECONDS[unit] == 0:
            return "%d%s" % (seconds // _UNIT_SECONDS[unit], unit)
    return "%ds" % seconds


def remove_backups(paths: Iterable[str], removed: list[str]) -> None:
    """Remove each backup, then its manifest (an orphan manifest is harmless; a backup without one is not) and the
    rest of its set (its bundles, companions()), appending each backup removed to `removed`, so that a failure
    part-way reports what went."""
    try:
        for path in paths:
            os.unlink(path)
            removed.append(path)
            if os.path.lexists(path + MANIFEST_SUFFIX):
                os.unlink(path + MANIFEST_SUFFIX)
            directory = os.path.dirname(path)
            for name in companions(os.listdir(directory), os.path.basename(path)):
                os.unlink(os.path.join(directory, name))
    finally:
        for directory in {os.path.dirname(path) for path in removed}:
            fsync_dir(directory)


ARGUMENT_SPEC = ArgumentSpec(dict(
    path=dict(type="path", required=True),
    prefix=dict(type="str", required=True),
    keep_last=dict(type="int", default=0),
    max_age=dict(type="str", default=""),
    keep=dict(type="list", elements="path", default=[]),
))


class Prune:
    """Retention applied to one backup dir, as the etcd_snapshot_prune module does it: plan() lists what stays
    and what goes (check mode stops there); apply() removes what goes. `result` is what the module returns."""

    def __init__(self, params: dict[str, Any], host: HostContext) -> None:
        self.params = params
        self.host = host
        self.max_age: float | None = None
        self.remove: list[tuple[str, str]] = []
        self.keep: list[tuple[str, str]] = []
        self.result: dict[str, Any] = dict(changed=False, removed=[], kept=[], reasons={})

    def plan(self) -> None:
        """Raises RetentionError for a bad max_age or an unreadable dir."""
        params = self.params
        self.max_age = parse_max_age(params["max_age"])
        self.keep, self.remove = plan(params["path"], params["prefix"], params["keep_last"], self.max_age,
                                      params["keep"], datetime.datetime.now(datetime.timezone.utc))
        self.result.update(removed=[path for path, dummy in self.remove], kept=[path for path, dummy in self.keep],
                           reasons=dict(self.keep + self.remove), changed=bool(self.remove))

    def apply(self) -> None:
        """Remove what goes. Raises RetentionError naming how far it got."""
        if not self.remove:
            return
        removed: list[str] = []
        try:
            remove_backups(self.result["removed"], removed)
        except OSError as exc:
            self.result.update(removed=removed, changed=bool(removed))
            raise RetentionError("removing old backups from %s failed after %d of %d: %s" % (
                self.params["path"], len(removed), len(self.remove), exc)) from None

    def would(self) -> str:
        return self._summary("would remove")

    def done(self) -> str:
        return self._summary("removed")

    def _summary(self, verb: str) -> str:
        if not self.params["keep_last"] and self.max_age is None:
            return ("no retention limit is set (keep_last 0, max_age empty): nothing removed from %s"
                    % self.params["path"])
        return "%s %d backup(s) from %s, kept %d" % (verb, len(self.remove), self.params["path"], len(self.keep))
