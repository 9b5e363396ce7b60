# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A restored data dir is built beside the live one and swapped in by renames; the old one is kept under
`<dir>.pre-restore-<stamp>` and can be put back.

A data dir that is a mount point (a disk of its own) cannot be renamed (EBUSY), and a dir beside it is on another
filesystem. There the restore swaps what etcd keeps inside it, its `member` dir, the same way: staged in
`<dir>/member.restore-staging`, the old one kept as `<dir>/member.pre-restore-<stamp>`, all inside the mount
(swap_path() says which path a restore swaps)."""
from __future__ import annotations

import errno
import os
import re
import shutil
from collections.abc import Mapping
from typing import Any

from ansible_collections.etcdops.dr.plugins.module_utils._host.files import (
    first_free, fsync_dir, nearest_existing_dir, owner_ids)
from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError

STAGING_SUFFIX = ".restore-staging"
KEPT_INFIX = ".pre-restore-"
FAILED_INFIX = ".failed-restore-"
# etcd preallocates each WAL segment at 64 MiB; the restore writes one, plus the db, plus a small raft snapshot.
WAL_SEGMENT = 64 * 1024 * 1024
RESTORE_RESERVE = 16 * 1024 * 1024
# What etcd keeps in its data dir: etcd 3's server reads only `member` there (and `proxy`, the v2 proxy's, which no
# restore writes); any other name it warns about and leaves alone (etcdmain identifyDataDirOrDie).
MEMBER_DIR = "member"
MOUNTINFO = "/proc/self/mountinfo"


class SwapError(EtcdOpsError):
    """The data dir cannot be staged, swapped or put back; msg says why."""


def mount_points(mountinfo: str = MOUNTINFO) -> set[str]:
    """The mount points in the mount table `mountinfo` (proc(5) format: the fifth field, octal escapes undone)."""
    with open(mountinfo, "rb") as handle:
        lines = handle.read().decode("utf-8", "surrogateescape").splitlines()
    points = set()
    for line in lines:
        fields = line.split(" ")
        if len(fields) > 4:
            points.add(re.sub(r"\\([0-7]{3})", lambda found: chr(int(found.group(1), 8)), fields[4]))
    return points


def is_mount_point(path: str, mountinfo: str = MOUNTINFO) -> bool:
    """Whether `path` is a mount point, so that rename(2) of it fails with EBUSY.

    The kernel's mount table is asked first, not os.path.ismount: ismount compares the dir's device with its
    parent's, and a bind mount of a dir of the same filesystem (a common way to give etcd /var/lib/etcd) has the same
    device, so ismount says no while the rename still fails with EBUSY. ismount answers only where there is no
    readable mount table (no /proc), and adds what it sees."""
    real = os.path.realpath(path)
    try:
        if real in mount_points(mountinfo):
            return True
    except OSError:
        pass
    return os.path.ismount(path)


def swap_path(live: str, mounted: bool) -> str:
    """The path a restore swaps for the data dir `live`: `live` itself, or, when it is a mount point (`mounted`), the
    `member` dir inside it."""
    return os.path.join(live.rstrip("/"), MEMBER_DIR) if mounted else live.rstrip("/")


def staging_dir(data_dir: str) -> str:
    return data_dir.rstrip("/") + STAGING_SUFFIX


def free_name(base: str) -> str:
    """`base`, or `base-2`, `base-3`... whichever does not exist yet."""
    return first_free(lambda number: base if number == 1 else "%s-%d" % (base, number))


def kept_name(path: str, stamp: str) -> str:
    return free_name(path.rstrip("/") + KEPT_INFIX + stamp)


def failed_name(path: str, stamp: str) -> str:
    return free_name(path.rstrip("/") + FAILED_INFIX + stamp)


def target_ownership(data_dir: str, owner: str | None = None, group: str | None = None,
                     mode: str | int | None = None) -> tuple[int, int, int]:
    """(uid, gid, mode) the restored dir gets: the given values, else the old dir's, else root's 0700."""
    try:
        old = os.stat(data_dir)
        uid, gid, old_mode = old.st_uid, old.st_gid, old.st_mode & 0o7777
    except FileNotFoundError:
        uid, gid, old_mode = 0, 0, 0o700
    try:
        given_uid, given_gid = owner_ids(owner, group)
    except EtcdOpsError as exc:
        raise SwapError(exc.msg) from None
    if mode is not None:
        try:
            mode = int(mode, 8) if isinstance(mode, str) else int(mode)
        except ValueError:
            raise SwapError("mode %r is not an octal mode such as 0700: fix mode." % mode) from None
    return (uid if given_uid is None else given_uid, gid if given_gid is None else given_gid,
            old_mode if mode is None else mode)


def disk_problems(needs: Mapping[str, int]) -> tuple[dict[str, int], list[str]]:
    """`needs` {dir: bytes}; dirs on one filesystem add up. Returns (free {dir: bytes}, problems)."""
    # {device: [a dir on it, bytes needed there, the dirs that need them]}
    by_device: dict[int, list[Any]] = {}
    for directory, size in needs.items():
        parent = nearest_existing_dir(os.path.dirname(os.path.abspath(directory.rstrip("/"))))
        entry = by_device.setdefault(os.stat(parent).st_dev, [parent, 0, []])
        entry[1] += size
        entry[2].append(directory)
    free, problems = {}, []
    for parent, size, dirs in by_device.values():
        usage = shutil.disk_usage(parent)
        free[parent] = usage.free
        if usage.free < size:
            problems.append("not enough free disk for %s: %d bytes needed on the filesystem of %s, %d free" % (
                " and ".join(dirs), size, parent, usage.free))
    return free, problems


def prepare_staging(staging: str) -> None:
    """An empty 0700 staging dir; a leftover from an earlier run (this collection's own name) is removed first."""
    if os.path.islink(staging) or (os.path.lexists(staging) and not os.path.isdir(staging)):
        raise SwapError("%s exists and is not a directory: remove it; the restore stages its data there." % staging)
    if os.path.isdir(staging):
        shutil.rmtree(staging)
    os.mkdir(staging, 0o700)


def set_ownership(path: str, uid: int, gid: int, mode: int) -> None:
    """chown everything below `path` (etcd's tool writes as the user that ran it) and chmod the top."""
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, gid)
    os.chown(path, uid, gid)
    os.chmod(path, mode)


def put_back(live: str, kept: str | None, stamp: str) -> str | None:
    """Undo a restore: `live` goes to its failed-restore name, `kept` (when there was one) back to `live`.
    Returns the path the restored dir was moved to, or None when there was none."""
    return replace_dir(live, failed_name(live, stamp), kept)


def replace_dir(live: str, aside: str | None, replacement: str | None) -> str | None:
    """Rename `live` (when it exists) to `aside`, then `replacement` (when given) to `live`; if that fails, `live`
    comes back from `aside`. Returns `aside`, or None when there was no `live`."""
    moved = aside if os.path.lexists(live) else None
    if moved is None and os.path.lexists(live):
        raise OSError(errno.EEXIST, "no name to move the live dir aside to", live)
    if moved:
        os.rename(live, moved)
    if replacement:
        try:
            os.rename(replacement, live)
        except OSError:
            if moved:
                os.rename(moved, live)
            raise
    fsync_dir(os.path.dirname(os.path.abspath(live)))
    return moved


def leftover_dirs(live: str) -> list[tuple[str, str]]:
    """The dirs earlier restores left beside `live`: [(kind, path)], kind "pre-restore" (the data a restore
    replaced) or "failed-restore" (the restored data a rollback moved aside), newest first by the stamp in the name."""
    parent, base = os.path.split(os.path.abspath(live.rstrip("/")))
    found = []
    for name in os.listdir(parent) if os.path.isdir(parent) else ():
        path = os.path.join(parent, name)
        for infix in (KEPT_INFIX, FAILED_INFIX):
            if name.startswith(base + infix) and os.path.isdir(path) and not os.path.islink(path):
                found.append((name[len(base + infix):], infix.strip(".-"), path))
    return [(kind, path) for dummy, kind, path in sorted(found, reverse=True)]


def disk_usage(path: str) -> int:
    """Bytes a directory tree takes on disk (allocated blocks, links not followed)."""
    total = 0
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                continue
    return total + os.lstat(path).st_blocks * 512


def describe_leftovers(lives: list[str]) -> str:
    """What earlier restores left beside the `lives` dirs, with sizes, for a message; empty when nothing."""
    found = ["%s (%d MiB)" % (path, disk_usage(path) // (1024 * 1024))
             for live in lives for dummy, path in leftover_dirs(live)]
    if not found:
        return ""
    return ("earlier restores left %s: remove those no longer needed (the restore role keeps the newest "
            "restore_keep_previous)" % ", ".join(found))
