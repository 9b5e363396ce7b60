# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The control-plane bundle's file format: a tar whose first member, MANIFEST.json, lists every file (path, sha256,
mode, owner, size, or a symlink's target) and whose other members are the files under files/<absolute path>. It is
named after the snapshot it belongs to, <snapshot name>.bundle-<host>.tar, or .tar.enc when encrypted (the same
chunked format as an encrypted snapshot), so that a backup set is the snapshot and the names that start with it."""
from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from collections.abc import Iterable, Mapping
from typing import Any, BinaryIO

from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.file import COMPANION_MARK

FORMAT = 1
MANIFEST_MEMBER = "MANIFEST.json"
FILES_DIR = "files"
# Certificates, keys, manifests and kubeconfigs are small: a bundle much larger than this was given a wrong path.
MAX_BYTES = 64 * 1024 * 1024


class BundleError(EtcdOpsError):
    """A bundle that cannot be made or read as it must be; msg says why and what to do."""


def bundle_name(snapshot_name: str, host: str, encrypted: bool) -> str:
    return "%s%s%s.%s" % (snapshot_name, COMPANION_MARK, host, "tar.enc" if encrypted else "tar")


def bundle_host(name: str) -> str:
    rest = name[name.find(COMPANION_MARK) + len(COMPANION_MARK):]
    return rest[:-len(".tar.enc")] if rest.endswith(".tar.enc") else rest[:-len(".tar")]


def member_path(path: str) -> str:
    return "%s/%s" % (FILES_DIR, path.lstrip("/"))


def describe(path: str) -> dict[str, Any]:
    """One file's manifest entry, from the file itself (a symlink is recorded as a link, not followed)."""
    info = os.lstat(path)
    entry: dict[str, Any] = dict(path=path, mode="%04o" % (info.st_mode & 0o7777), uid=info.st_uid, gid=info.st_gid,
                                 owner=_name_of_uid(info.st_uid), group=_name_of_gid(info.st_gid))
    if os.path.islink(path):
        entry.update(type="symlink", target=os.readlink(path), size=0, sha256=None)
    else:
        with open(path, "rb") as handle:
            data = handle.read()
        entry.update(type="file", size=len(data), sha256=hashlib.sha256(data).hexdigest())
    return entry


def _name_of_uid(uid: int) -> str | None:
    try:
        import pwd  # pylint: disable=import-outside-toplevel
        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return None


def _name_of_gid(gid: int) -> str | None:
    try:
        import grp  # pylint: disable=import-outside-toplevel
        return grp.getgrgid(gid).gr_name
    except (ImportError, KeyError):
        return None


def write(out: BinaryIO, manifest: Mapping[str, Any]) -> None:
    """The tar stream into `out`: MANIFEST.json, then each file the manifest lists, read again and checked against
    the sha256 recorded (a file that changed in between fails the bundle rather than disagree with its manifest)."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        _add_bytes(tar, MANIFEST_MEMBER, json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8"), 0o600)
        for entry in manifest["files"]:
            info = tarfile.TarInfo(member_path(entry["path"]))
            info.mode = int(entry["mode"], 8)
            info.uid, info.gid = entry["uid"], entry["gid"]
            if entry["type"] == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, entry["target"]
                tar.addfile(info)
                continue
            with open(entry["path"], "rb") as handle:
                data = handle.read()
            if hashlib.sha256(data).hexdigest() != entry["sha256"]:
                raise BundleError("%s changed while the bundle was written: run the backup again" % entry["path"])
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    tar.addfile(info, io.BytesIO(data))


def read(chunks: Iterable[bytes], name: str) -> tuple[dict[str, Any], dict[str, bytes]]:
    """(manifest, {path: content}) from a bundle's plaintext, every file checked against the manifest: a file
    missing, extra, or whose sha256 differs fails with BundleError naming it."""
    stream = _ChunkReader(iter(chunks))
    manifest: dict[str, Any] | None = None
    contents: dict[str, bytes] = {}
    links: dict[str, str] = {}
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                if manifest is None:
                    if member.name != MANIFEST_MEMBER or not member.isfile():
                        raise BundleError("%s is not a control-plane bundle: its first member is %r, not %s" % (
                            name, member.name, MANIFEST_MEMBER))
                    manifest = json.loads(_extract(tar, member))
                    continue
                path = "/" + member.name[len(FILES_DIR) + 1:] if member.name.startswith(FILES_DIR + "/") else None
                if path is None:
                    raise BundleError("%s holds %r, which is outside %s/" % (name, member.name, FILES_DIR))
                if member.issym():
                    links[path] = member.linkname
                elif member.isfile():
                    contents[path] = _extract(tar, member)
                else:
                    raise BundleError("%s holds %r, which is neither a file nor a symlink" % (name, member.name))
    except (tarfile.TarError, EOFError, ValueError) as exc:
        raise BundleError("%s is not a whole tar archive (%s): the bundle is damaged or cut short" % (name, exc)) from None
    if manifest is None:
        raise BundleError("%s is empty: it holds no %s" % (name, MANIFEST_MEMBER))
    _check(manifest, contents, links, name)
    return manifest, contents


def _extract(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    handle = tar.extractfile(member)
    if handle is None:
        raise BundleError("tar member %r cannot be read" % member.name)
    return handle.read()


def _check(manifest: dict[str, Any], contents: dict[str, bytes], links: dict[str, str], name: str) -> None:
    listed = {entry["path"]: entry for entry in manifest.get("files", [])}
    extra = sorted((set(contents) | set(links)) - set(listed))
    if extra:
        raise BundleError("%s holds files its manifest does not list: %s" % (name, ", ".join(extra)))
    for path, entry in listed.items():
        if entry["type"] == "symlink":
            if links.get(path) != entry["target"]:
                raise BundleError("%s: the symlink %s is missing or points elsewhere than its manifest says" % (
                    name, path))
            continue
        data = contents.get(path)
        if data is None:
            raise BundleError("%s: %s is listed in its manifest but missing from the archive" % (name, path))
        if hashlib.sha256(data).hexdigest() != entry["sha256"] or len(data) != entry["size"]:
            raise BundleError("%s: %s does not match the sha256 and size its manifest records: the bundle is "
                              "damaged" % (name, path))


class _ChunkReader(io.RawIOBase):
    """A readable stream over an iterator of byte chunks (a decrypted bundle), for tarfile's stream mode."""

    def __init__(self, chunks: Any) -> None:
        super().__init__()
        self.chunks = chunks
        self.pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self.pending:
            try:
                self.pending = bytes(next(self.chunks))
            except StopIteration:
                return 0
        count = min(len(buffer), len(self.pending))
        buffer[:count] = self.pending[:count]
        self.pending = self.pending[count:]
        return count


def load(path: str, key: Any = None) -> tuple[dict[str, Any], dict[str, bytes]]:
    """read() of the bundle file at `path`, decrypted with `key` (key id, X25519PrivateKey) when it is encrypted."""
    # Imported here: the crypto package needs the cryptography library, which a plaintext bundle does not.
    from ansible_collections.etcdops.dr.plugins.module_utils._crypto import (  # pylint: disable=import-outside-toplevel
        envelope, stream)
    if envelope.is_encrypted(path):
        if key is None:
            raise BundleError("%s is encrypted: give the private key of one of its recipients" % path)
        with stream.open_file(path, key) as opened:
            return read(opened.plaintext(), path)
    with open(path, "rb") as handle:
        return read(iter(lambda: handle.read(1 << 20), b""), path)
