# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backup files and their JSON manifests: names, free-space checks, hashed durable copies."""
from __future__ import annotations

import datetime
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ansible_collections.etcdops.dr.plugins.module_utils._host import files as _files
from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError

COLLECTION_VERSION = "0.1.0"
# 2: revision and key_count are what the backup's database holds (before: the member's revision before the stream).
MANIFEST_FORMAT = 2
MANIFEST_SUFFIX = ".json"
# The UTC time in a backup's file name: <prefix>-<stamp>.db
NAME_STAMP_FORMAT = _files.STAMP_FORMAT
CHUNK = _files.CHUNK
# Room for the manifest beside the copy.
MANIFEST_RESERVE = 64 * 1024
# Facts about the cluster a manifest records, from the member the backup was taken from.
CLUSTER_FACTS = ("cluster_id", "member_id", "member_name", "revision", "raft_index", "db_size", "etcd_version",
                 "key_count")
# Facts of an encrypted backup (ciphertext: size and sha256; these: what it decrypts to, and how it is encrypted).
ENCRYPTION_FACTS = ("encryption", "plaintext_sha256", "plaintext_size")
# <prefix>-<UTC time>.db.enc: an encrypted snapshot (docs/encryption.md).
ENCRYPTED_EXTENSION = "db.enc"
# Facts the backup's database says about itself (_etcd.db.read_facts); they win over the same names above.
DB_FACTS = ("revision", "last_key_revision", "compact_revision", "scheduled_compact_revision", "consistent_index",
            "lease_count", "key_count", "members")


# A file that belongs to a backup set beside its snapshot: <snapshot name>.bundle-<host>.tar[.enc] (the control-plane
# bundle, _bundle/archive.py), and its manifest.
COMPANION_MARK = ".bundle-"


def companion_of(name: str) -> str | None:
    """The snapshot name a companion's file name (or its manifest's) belongs to, or None for any other name."""
    index = name.find(COMPANION_MARK)
    if index <= 0:
        return None
    rest = name[index + len(COMPANION_MARK):].removesuffix(MANIFEST_SUFFIX)
    if not (rest.endswith(".tar") or rest.endswith(".tar.enc")) or rest.startswith("."):
        return None
    return name[:index]


def companions(names: Iterable[str], snapshot_name: str) -> list[str]:
    """The companions of `snapshot_name` among `names` (its bundles and their manifests), sorted."""
    return sorted(name for name in names if companion_of(name) == snapshot_name)


class BackupFileError(EtcdOpsError):
    """A backup file or its destination is not usable; msg says why."""


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def new_backup_path(directory: str, prefix: str, extension: str, now: datetime.datetime | None = None) -> str:
    """<directory>/<prefix>-<UTC time>.<extension>, with -2, -3... if that name is taken."""
    stamp = (now or utc_now()).strftime(NAME_STAMP_FORMAT)
    base = os.path.join(directory, "%s-%s" % (prefix, stamp))
    return _files.first_free(
        lambda number: "%s%s.%s" % (base, "" if number == 1 else "-%d" % number, extension),
        taken=lambda path: os.path.lexists(path) or os.path.lexists(path + MANIFEST_SUFFIX))


def check_destination(directory: str, required_bytes: int) -> int:
    """Fail unless `directory` (or, when it does not exist yet, the dir it would be created in) is
    writable and has `required_bytes` free. Returns the free bytes."""
    existing = _files.nearest_existing_dir(directory)
    exists = existing == os.path.abspath(directory)
    if not exists and os.path.lexists(directory):
        raise BackupFileError("backup dir %s exists but is not a directory: choose another path." % directory)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise BackupFileError("backup dir %s is not writable by this user%s: fix its permissions (or attributes: "
                              "lsattr -d) or choose another dir." % (
                                  existing, "" if exists else " (%s does not exist yet)" % directory))
    stat = os.statvfs(existing)
    free = stat.f_bavail * stat.f_frsize
    if free < required_bytes:
        raise BackupFileError("not enough free disk for the backup in %s: %d bytes free, %d needed: free space or "
                              "choose another dir." % (existing, free, required_bytes))
    return free


def ensure_dir(directory: str) -> None:
    if not os.path.isdir(directory):
        os.makedirs(directory, mode=0o700)


def copy_hashed(source: str, destination: str, mode: int = 0o600, check: Callable[[str], object] | None = None,
                another_name: Callable[[], str] | None = None,
                expect_sha256: str | None = None) -> tuple[int, str, str]:
    """Copy `source` to `destination` through a temp file (fsync, `mode`, then named), hashing as it goes;
    fail, leaving nothing under `destination`, if the source changes while being copied, its sha256 is not
    `expect_sha256` (when given), or `check(temp path)` (when given) raises. With `another_name`, an existing file is
    never replaced (see files.commit). Returns (size, sha256 hex, the name it took)."""
    before = os.stat(source)
    digest = hashlib.sha256()
    handle, temp_path = _files.temp_file_in(os.path.dirname(destination), os.path.basename(destination), mode)
    try:
        with open(source, "rb") as src:
            for chunk in _files.chunks_of(src):
                digest.update(chunk)
                handle.write(chunk)
        after = os.stat(source)
        if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
            raise BackupFileError("%s changed while it was copied: something writes to it (is etcd running?); the "
                                  "copy was discarded." % source)
        handle.flush()
        if expect_sha256 and digest.hexdigest() != expect_sha256:
            raise BackupFileError("%s has sha256 %s, not %s: it was cut or corrupted on its way; nothing was "
                                  "replaced." % (source, digest.hexdigest(), expect_sha256))
        if check is not None:
            check(temp_path)
        path = _files.commit(handle, temp_path, destination, another_name)
    except BaseException:
        _files.discard(handle, temp_path)
        raise
    return before.st_size, digest.hexdigest(), path


def manifest(kind: str, path: str, size: int, sha256: str, tool: str, facts: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON manifest written beside a backup file."""
    doc = dict(format=MANIFEST_FORMAT, kind=kind, file=os.path.basename(path), size=size, sha256=sha256,
               created=utc_now().strftime("%Y-%m-%dT%H:%M:%SZ"),
               tool="etcdops.dr %s %s" % (COLLECTION_VERSION, tool))
    for name in CLUSTER_FACTS + DB_FACTS:
        doc[name] = facts.get(name)
    doc.update((name, facts[name]) for name in ENCRYPTION_FACTS if facts.get(name) is not None)
    return doc


def write_manifest(path: str, doc: dict[str, Any], uid: int = -1, gid: int = -1) -> str:
    """Write `doc` as <path>.json, atomically, mode 0600, owned by uid/gid; returns the manifest path.
    If it cannot be written the backup at `path` is removed: no backup stands without its manifest."""
    manifest_path = path + MANIFEST_SUFFIX
    try:
        _files.write_atomic(manifest_path, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8"))
        if uid != -1 or gid != -1:
            os.chown(manifest_path, uid, gid)
    except BaseException:
        os.unlink(path)
        raise
    return manifest_path
