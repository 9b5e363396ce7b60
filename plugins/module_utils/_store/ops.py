# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the store modules do with any store: put a verified backup and its manifest there, list the backups on it
newest first, apply retention, and bring one back to a local dir, verified against its manifest."""
from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import queue
import threading
import urllib.parse
from collections.abc import Generator, Iterator
from typing import Any

from ansible_collections.etcdops.dr.plugins.module_utils._host import files as _files
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.file import MANIFEST_SUFFIX, companions
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.retention import backup_time, rank
from ansible_collections.etcdops.dr.plugins.module_utils._store import url as _url
from ansible_collections.etcdops.dr.plugins.module_utils._store.base import Staged, Store, StoreError, StoredFile

# A temporary file of an upload older than this was left by a run that died: the next upload removes it.
STALE_PARTIAL_SECONDS = 3600
CHUNK = 1024 * 1024
# Chunks read ahead of the sending (at most this many MiB held).
READ_AHEAD_CHUNKS = 4


def url_secrets(options: dict[str, Any]) -> list[str]:
    """A password written into the store's URL (refused, but never to be shown): for AnsibleModule.no_log_values."""
    try:
        password = urllib.parse.urlsplit(str(options.get("url") or "")).password
    except ValueError:
        return []
    return [password] if password else []


def open_store(options: dict[str, Any]) -> Store[Any]:
    """The store `options` name, not connected yet (use it as a context manager). Raises StoreError."""
    try:
        url = _url.parse(options["url"])
    except _url.StoreUrlError as exc:
        raise StoreError(exc.msg) from None
    # Each library is imported only for its kind of store: boto3 alone takes some 35 MiB, paramiko 10.
    # pylint: disable=import-outside-toplevel
    if url.scheme == "sftp":
        from ansible_collections.etcdops.dr.plugins.module_utils._store.sftp import SftpStore
        return SftpStore(url, options)
    from ansible_collections.etcdops.dr.plugins.module_utils._store.s3 import S3Store
    return S3Store(url, options)


def _read_local(path: str, digest: Any) -> Generator[bytes, None, None]:
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(CHUNK)
            if not chunk:
                return
            digest.update(chunk)
            yield chunk


def _read_ahead(path: str, digest: Any) -> Generator[bytes, None, None]:
    """The file's chunks, read and hashed into `digest` by a thread of its own, up to READ_AHEAD_CHUNKS ahead:
    reading and hashing release the GIL, so they overlap with a sending done by one Python thread (SFTP: paramiko's
    packet loop; 7% faster, bench/store.py). `digest` holds the whole file once the last chunk was taken."""
    chunks: queue.Queue[bytes] = queue.Queue(maxsize=READ_AHEAD_CHUNKS)
    stop = threading.Event()
    failure: list[BaseException] = []

    def put(chunk: bytes) -> None:
        while not stop.is_set():
            try:
                chunks.put(chunk, timeout=0.1)
                return
            except queue.Full:
                continue

    def read() -> None:
        try:
            with contextlib.closing(_read_local(path, digest)) as local:
                for chunk in local:
                    if stop.is_set():
                        return
                    put(chunk)
        except BaseException as exc:  # pylint: disable=broad-exception-caught
            # Raised where the chunks are taken, as a read there would raise it.
            failure.append(exc)
        finally:
            # The end, also after a failure: the sending never waits for a reader that is gone.
            put(b"")

    reader = threading.Thread(target=read, name="read %s" % os.path.basename(path), daemon=True)
    reader.start()
    try:
        while True:
            chunk = chunks.get()
            if not chunk:
                break
            yield chunk
    finally:
        # Also when the sending failed: the reader stops within 0.1 s of its current read.
        stop.set()
        reader.join()
    if failure:
        raise failure[0]


def backups(files: list[StoredFile], prefix: str) -> list[StoredFile]:
    """The backups among `files` (<prefix>-<UTC time>[-N].db or .db.enc), newest first."""
    found = [(backup_time(f.name, prefix), f) for f in files]
    return [f for when, f in sorted(((w, f) for w, f in found if w), key=lambda item: (item[0], item[1].name),
                                    reverse=True)]


def read_manifest(store: Store[Any], name: str) -> dict[str, Any]:
    data = store.read_small(name + MANIFEST_SUFFIX)
    try:
        manifest = json.loads(data.decode("utf-8"))
    except ValueError as exc:
        raise StoreError("%s: the manifest of %s is not JSON (%s): that backup cannot be verified; remove it, or "
                         "choose another" % (store.url, name, exc)) from None
    if not isinstance(manifest, dict) or not manifest.get("sha256"):
        raise StoreError("%s: the manifest of %s records no sha256: that backup cannot be verified" % (
            store.url, name))
    return manifest


def upload(store: Store[Staged], path: str, sha256: str, check_mode: bool) -> dict[str, Any]:
    """Put the local backup `path` (whose sha256 is `sha256`) and the manifest beside it on `store`, verified.
    Idempotent: a store that already holds it with that sha256 is left as it is."""
    name = os.path.basename(path)
    size = os.path.getsize(path)
    with open(path + MANIFEST_SUFFIX, "rb") as handle:
        manifest = handle.read()
    result = dict(store=str(store.url), name=name, path=store.url.name(name), size=size, sha256=sha256,
                  changed=False, verified_by=None, stale_partials_removed=[], host_key_added=store.host_key_added)
    store.check_dir()
    files = {f.name: f for f in store.list()}
    if name in files:
        held = read_manifest(store, name) if name + MANIFEST_SUFFIX in files else {}
        if held.get("sha256") == sha256 and files[name].size == size:
            result.update(verified_by="already on the store, with the manifest's sha256")
            return result
        if not held and files[name].size == size and _stored(store, name, size) == (sha256, size):
            # A run that died between naming the backup and naming its manifest: only the manifest is missing.
            result.update(changed=True, verified_by="already on the store (read back and hashed); its manifest %s" % (
                "would be written" if check_mode else "was missing and was written"))
            if not check_mode:
                manifest_sha256 = hashlib.sha256(manifest).hexdigest()
                staged = store.stage(name + MANIFEST_SUFFIX, iter([manifest]), len(manifest), lambda: manifest_sha256)
                store.commit(staged, name + MANIFEST_SUFFIX, manifest_sha256)
            return result
        raise StoreError("%s already holds a %s of %d bytes with %s: it is not this backup (%d bytes, sha256 %s). "
                         "Nothing was written: look at it, and move it away if it is not needed" % (
                             store.url, name, files[name].size,
                             "sha256 %s in its manifest" % held["sha256"] if held.get("sha256") else "no manifest",
                             size, sha256))
    stale = store.stale(list(files.values()), STALE_PARTIAL_SECONDS)
    free = store.free_bytes()
    if free is not None and free < size + len(manifest):
        raise StoreError("%s: %d bytes free in %s, and %s needs %d: make room on the store (retention: keep_last, "
                         "max_age) or choose another. Nothing was written." % (
                             store.url, free, store.url.path, name, size + len(manifest)))
    result["changed"] = True
    if check_mode:
        result.update(stale_partials_removed=stale, verified_by="would be checked: %s" % store.verified_by)
        return result
    for partial in stale:
        store.remove_stale(partial)
    result["stale_partials_removed"] = stale
    digest = hashlib.sha256()
    # Both files are staged and verified before either gets its name: a store that runs out of space, or a run cut
    # off, leaves nothing under the final names. The manifest gets its name last: a backup is listed as whole only
    # once its manifest is there.
    manifest_sha256 = hashlib.sha256(manifest).hexdigest()
    chunks = _told_as_local(_read_ahead(path, digest) if store.read_ahead else _read_local(path, digest), path)
    try:
        staged = store.stage(name, chunks, size, lambda: _sent(digest, sha256, path))
    finally:
        # Also after a failed sending: the reading thread stops and the file is closed now, not at exit.
        chunks.close()
    try:
        staged_manifest = store.stage(name + MANIFEST_SUFFIX, iter([manifest]), len(manifest),
                                      lambda: manifest_sha256)
    except BaseException:
        store.discard(staged)
        raise
    try:
        store.commit(staged, name, sha256)
    except BaseException:
        store.discard(staged)
        store.discard(staged_manifest)
        raise
    verified_by = store.verified_by
    store.commit(staged_manifest, name + MANIFEST_SUFFIX, manifest_sha256)
    result.update(verified_by=verified_by, send_seconds=round(store.seconds["send"], 3),
                  read_back_seconds=round(store.seconds["read_back"], 3))
    return result


def _stored(store: Store[Any], name: str, size: int) -> tuple[str, int]:
    """(sha256, size) of what the store holds under `name`, read back."""
    digest = hashlib.sha256()
    read = 0
    for chunk in store.read_chunks(name, size):
        digest.update(chunk)
        read += len(chunk)
    return digest.hexdigest(), read


def _told_as_local(chunks: Iterator[bytes], path: str) -> Generator[bytes, None, None]:
    """`chunks`, with a failed read of the local file reported as that: the stores take an OSError while they send
    for a failed write to the store."""
    try:
        yield from chunks
    except OSError as exc:
        raise StoreError("reading the local backup %s failed (%s): nothing was stored under its name; check the file "
                         "and this host's disk, then run again" % (path, exc)) from None


def _sent(digest: Any, sha256: str, path: str) -> str:
    if digest.hexdigest() != sha256:
        raise StoreError("%s changed while it was sent (sha256 %s, not %s): nothing was stored under its name" % (
            path, digest.hexdigest(), sha256))
    return sha256


def apply_retention(store: Store[Any], prefix: str, keep_last: int, max_age_seconds: float | None, protect: list[str],
                    check_mode: bool) -> dict[str, Any]:
    """Retention on the store with the local dirs' rules; only <prefix>-<UTC time>[-N].db files and their manifests
    are ever removed."""
    names = [f.name for f in store.list()]
    keep, remove = rank(names, prefix, keep_last, max_age_seconds, protect,
                        datetime.datetime.now(datetime.timezone.utc))
    removed = []
    if not check_mode:
        for name, dummy in remove:
            store.remove(name)
            removed.append(name)
            if name + MANIFEST_SUFFIX in names:
                store.remove(name + MANIFEST_SUFFIX)
            for companion in companions(names, name):
                store.remove(companion)
    return dict(removed=[name for name, dummy in remove], kept=[name for name, dummy in keep],
                reasons=dict(keep + remove))


def listing(store: Store[Any], prefix: str, manifests: bool = True) -> list[dict[str, Any]]:
    """The backups on `store`, newest first, each with its manifest (None when it has none: not restorable, with the
    reason in `problem`). Without `manifests` none is read (`manifest_present` says whether there is one)."""
    files = store.list()
    names = {f.name for f in files}
    found = []
    for stored in backups(files, prefix):
        entry = dict(name=stored.name, path=store.url.name(stored.name), size=stored.size, mtime=stored.mtime,
                     manifest_present=stored.name + MANIFEST_SUFFIX in names, manifest=None, problem=None,
                     bundles=[name for name in companions(names, stored.name) if not name.endswith(MANIFEST_SUFFIX)])
        if manifests:
            _read_entry_manifest(store, entry)
        found.append(entry)
    return found


def _read_entry_manifest(store: Store[Any], entry: dict[str, Any]) -> dict[str, Any] | None:
    if entry["manifest"] is None and entry["problem"] is None:
        if not entry["manifest_present"]:
            entry["problem"] = "no manifest: an upload that did not finish, or not a backup of this collection"
        else:
            try:
                entry["manifest"] = read_manifest(store, entry["name"])
            except StoreError as exc:
                entry["problem"] = exc.msg
    return entry["manifest"]


def choose(store: Store[Any], found: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """The listed backup called `name`, or with 'latest' the newest that has a readable manifest (manifests are read
    as needed, newest first)."""
    if name == "latest":
        for entry in found:
            if _read_entry_manifest(store, entry):
                return entry
        raise StoreError("%s holds no backup with a readable manifest (%d without): take a backup to it first, or "
                         "choose another store" % (store.url, len(found)))
    for entry in found:
        if entry["name"] == name:
            if not _read_entry_manifest(store, entry):
                raise StoreError("%s: %s cannot be verified: %s" % (store.url, name, entry["problem"]))
            return entry
    raise StoreError("%s holds no backup called %s; the newest are: %s" % (
        store.url, name, ", ".join(e["name"] for e in found[:5]) or "none"))


def verify(store: Store[Any], entry: dict[str, Any]) -> str:
    """Read the stored backup back and hash it; returns its sha256. Raises StoreError when it is not its manifest's."""
    expected = entry["manifest"]["sha256"]
    sha256, size = _stored(store, entry["name"], entry["size"])
    if sha256 != expected or size != entry["manifest"].get("size", size):
        raise StoreError("%s: %s on the store has %d bytes with sha256 %s, and its manifest says %s bytes with "
                         "sha256 %s: it was altered or damaged on the store; do not restore it, choose another" % (
                             store.url, entry["name"], size, sha256, entry["manifest"].get("size"), expected))
    return expected


def download(store: Store[Any], entry: dict[str, Any], dest_dir: str, check_mode: bool) -> dict[str, Any]:
    """Bring `entry` (from listing()) and its manifest to `dest_dir`, 0600, hashed on the way and compared with its
    manifest before it gets its name. A file already there with the manifest's sha256 is left as it is."""
    manifest = entry["manifest"]
    dest = os.path.join(dest_dir, entry["name"])
    result = dict(store=str(store.url), name=entry["name"], dest=dest, sha256=manifest["sha256"],
                  size=entry["size"], manifest=manifest, changed=False)
    result["changed"] = _bring(store, entry["name"], entry["size"], manifest["sha256"], dest_dir, check_mode)
    return result


def download_bundles(store: Store[Any], entry: dict[str, Any], dest_dir: str, check_mode: bool) -> dict[str, Any]:
    """Bring the bundles listed beside `entry` and their manifests to `dest_dir` as download() brings a backup, each
    verified against its own manifest's sha256. Returns {bundles: local paths, changed}."""
    paths, changed = [], False
    for name in entry.get("bundles") or []:
        manifest = read_manifest(store, name)
        size = manifest.get("size")
        if not isinstance(size, int):
            raise StoreError("%s: the manifest of %s records no size: that bundle cannot be verified" % (
                store.url, name))
        changed = _bring(store, name, size, manifest["sha256"], dest_dir, check_mode) or changed
        paths.append(os.path.join(dest_dir, name))
    return dict(bundles=paths, changed=changed)


def _bring(store: Store[Any], name: str, size: int, sha256: str, dest_dir: str, check_mode: bool) -> bool:
    """`name` and its manifest from `store` into `dest_dir` unless there already; whether it was (would be) brought."""
    dest = os.path.join(dest_dir, name)
    if os.path.isfile(dest) and _files.file_sha256(dest) == sha256 and os.path.isfile(dest + MANIFEST_SUFFIX):
        return False
    if os.path.lexists(dest):
        raise StoreError("%s exists and is not %s of %s (another sha256): move it away, or choose another dir" % (
            dest, name, store.url))
    if check_mode:
        return True
    os.makedirs(dest_dir, mode=0o700, exist_ok=True)
    # The manifest as the store holds it, byte for byte.
    manifest_bytes = store.read_small(name + MANIFEST_SUFFIX)
    handle, temp = _files.temp_file_in(dest_dir, name)
    digest = hashlib.sha256()
    try:
        for chunk in store.read_chunks(name, size):
            digest.update(chunk)
            handle.write(chunk)
        if digest.hexdigest() != sha256:
            raise StoreError("%s: %s came with sha256 %s, and its manifest says %s: it was altered or damaged on the "
                             "store; do not restore it, choose another. Nothing was kept." % (
                                 store.url, name, digest.hexdigest(), sha256))
        _files.commit(handle, temp, dest)
    except BaseException:
        _files.discard(handle, temp)
        raise
    _files.write_atomic(dest + MANIFEST_SUFFIX, manifest_bytes)
    return True
