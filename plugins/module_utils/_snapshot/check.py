# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tell whether a backup file is whole: by the sha256 trailer of a snapshot, or by the manifest of a
cold copy; and read what etcd's own tool says of it."""
from __future__ import annotations

import hashlib
import json
import os
from typing import TYPE_CHECKING, Any

from ansible_collections.etcdops.dr.plugins.module_utils._crypto import envelope
from ansible_collections.etcdops.dr.plugins.module_utils._crypto import stream as _crypto_stream
from ansible_collections.etcdops.dr.plugins.module_utils._host import files as _files
from ansible_collections.etcdops.dr.plugins.module_utils._etcd.db import EtcdDbError, read_facts, starts_like_a_database
from ansible_collections.etcdops.dr.plugins.module_utils._host.run import CommandError, Completed, etcd_tool_candidates, run
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.stream import TRAILER, TrailerHash
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.file import MANIFEST_SUFFIX

if TYPE_CHECKING:
    from ansible_collections.etcdops.dr.plugins.module_utils._host.run import CommandHost

# etcdutl's own test for a trailer: a bolt db is a whole number of 512-byte sectors, the trailer adds 32 bytes.
SECTOR = 512


def _hash_file(path: str) -> TrailerHash:
    hashed = TrailerHash()
    with open(path, "rb") as handle:
        for chunk in _files.chunks_of(handle):
            hashed.update(chunk)
    return hashed


class _Checked:
    """What an earlier whole check of the same file found (its sha256; a trailer, if any, matched): stands in for
    a TrailerHash when the file's identity shows it was not written to since."""

    def __init__(self, sha256: str) -> None:
        self.sha256 = sha256

    def file_sha256(self) -> str:
        return self.sha256

    def matches(self) -> bool:
        return True


def _manifest(path: str) -> tuple[dict[str, Any] | None, str | None]:
    manifest_path = path + MANIFEST_SUFFIX
    if not os.path.exists(manifest_path):
        return None, None
    try:
        with open(manifest_path) as handle:
            return json.load(handle), None
    except (OSError, ValueError) as exc:
        return None, "manifest %s is unreadable: %s" % (manifest_path, exc)


# What a report says of the database in the file (see _etcd.db.read_facts).
DB_FIELDS = ("revision", "last_key_revision", "compact_revision", "scheduled_compact_revision", "consistent_index",
             "lease_count", "key_count", "kubernetes_key_count", "members")


def check_file(path: str, count_keys: bool = False, checked: tuple[str, str] | None = None,
               manifest: dict[str, Any] | None = None, key: tuple[str, Any] | None = None,
               file_key: bytes | None = None, copy_of: str | None = None) -> dict[str, Any]:
    """A report on one file: status ok | corrupt | truncated | unverified | empty | not_a_snapshot | undecryptable |
    unsupported, with the reasons; what its database stands for (DB_FIELDS; key_count and kubernetes_key_count
    only with `count_keys`).
    `checked`: (identity, sha256) of an earlier report whose status was ok; when the file's identity is still that
    one, its bytes are not read and hashed again (an encrypted file that `key` opens is read whole anyway).
    `copy_of`: the sha256 of a file whose whole check passed elsewhere, which the caller has just found this file's
    bytes to have, hashing them itself where no one else writes (a fetch's private staging dir): not hashed again.
    The report's identity is the file's (_files.file_identity), or None when the file changed while it was read
    or had changed just before. `manifest`: the file's manifest as read elsewhere, instead of the one beside it.
    An encrypted file (_crypto) is checked by its ciphertext's sha256 and layout; with the private `key` (key id,
    X25519PrivateKey) of a recipient, or the `file_key` that wrote it, also chunk by chunk, trailer and database."""
    identity = _files.file_identity(path)
    size = os.path.getsize(path)
    manifest, manifest_problem = (manifest, None) if manifest else _manifest(path)
    if size and envelope.is_encrypted(path):
        return _check_encrypted(path, size, identity, manifest, manifest_problem, count_keys, checked,
                                key, file_key)
    hashed: _Checked | TrailerHash
    if copy_of:
        hashed = _Checked(copy_of)
    elif checked and identity and checked[0] == identity:
        hashed = _Checked(checked[1])
    else:
        hashed = _hash_file(path)
        if _files.file_identity(path) != identity:
            identity = None
    sha256 = hashed.file_sha256()
    has_trailer = size % SECTOR == TRAILER
    problems = [manifest_problem] if manifest_problem else []
    verified_by: list[str] = []
    if manifest:
        _compare_manifest(manifest, size, sha256, None, problems, verified_by)
    if has_trailer:
        if hashed.matches():
            verified_by.append("checked_file" if isinstance(hashed, _Checked) else "trailer")
        else:
            problems.append("the sha256 trailer does not match the database before it")
    elif (manifest or {}).get("kind") != "cold_copy":
        problems.append("no sha256 trailer: %d bytes is not whole %d-byte sectors plus the %d-byte trailer" % (
            size, SECTOR, TRAILER))
    truncated = size % SECTOR not in (0, TRAILER) or size < ((manifest or {}).get("size") or 0)
    facts, notes = _database(path, manifest, count_keys, problems)
    if not size:
        status = "empty"
        problems[:] = ["the file is empty (0 bytes): no snapshot (was its copy cut before it began?)"]
    elif not starts_like_a_database(path):
        # Whatever else is wrong with it (no trailer, an odd size) follows from that.
        status = "not_a_snapshot"
        problems[:] = ["it does not begin with bbolt's magic number: it is not an etcd snapshot or database (another "
                       "file given by mistake? a compressed or encrypted backup must be unpacked first)"]
    elif not problems:
        status = "ok"
    elif truncated:
        status = "truncated"
    elif manifest or has_trailer:
        status = "corrupt"
    else:
        status = "unverified"
    return _report(path, size, sha256, status, problems, notes, identity, verified_by, has_trailer, manifest, facts)


def _report(path: str, size: int, sha256: str, status: str, problems: list[str], notes: list[str],
            identity: str | None, verified_by: list[str], has_trailer: bool | None, manifest: dict[str, Any] | None,
            facts: dict[str, Any], encryption: dict[str, Any] | None = None,
            plaintext_sha256: str | None = None) -> dict[str, Any]:
    report = dict(path=path, size=size, sha256=sha256, status=status, problems=problems, notes=notes,
                  identity=identity, verified_by=verified_by, has_trailer=has_trailer, manifest=manifest,
                  kind=(manifest or {}).get("kind"), total_keys=None, total_size=None, tool=None,
                  encryption=encryption, plaintext_sha256=plaintext_sha256)
    report.update((name, facts.get(name)) for name in DB_FIELDS)
    return report


# A CryptoError's cause as a report's status.
_CRYPTO_STATUS = dict(truncated="truncated", tampered="corrupt", wrong_key="undecryptable", bad_key="undecryptable",
                      missing_key="undecryptable", unsupported="unsupported", no_library="undecryptable")


def _check_encrypted(path: str, size: int, identity: str | None, manifest: dict[str, Any] | None,
                     manifest_problem: str | None, count_keys: bool, checked: tuple[str, str] | None,
                     key: tuple[str, Any] | None, file_key: bytes | None) -> dict[str, Any]:
    problems = [manifest_problem] if manifest_problem else []
    notes: list[str] = []
    verified_by: list[str] = []
    facts: dict[str, Any] = {}
    causes = []
    sha256 = plaintext_sha256 = header = plaintext_size = None
    has_trailer = None
    try:
        with open(path, "rb") as handle:
            header = envelope.read_header(handle, path)
        plaintext_size = _crypto_stream.layout(size, header, path)[1]
        verified_by.append("layout")
    except envelope.CryptoError as exc:
        problems.append(exc.msg)
        causes.append(exc.cause)
    # No problem yet: the header was read.
    if not problems and header is not None and (key or file_key):
        digest = hashlib.sha256()
        try:
            with _crypto_stream.Opened(path, file_key or envelope.unlock(header, path, key), header) as opened:
                hashed = TrailerHash()
                for chunk in opened.plaintext(digest):
                    hashed.update(chunk)
                sha256 = digest.hexdigest()
                verified_by.append("chunks")
                plaintext_sha256 = hashed.file_sha256()
                has_trailer = hashed.matches()
                if has_trailer:
                    verified_by.append("trailer")
                else:
                    problems.append("decrypted, its sha256 trailer does not match the database before it")
                facts, notes = _database(path, manifest, count_keys, problems, opened)
        except envelope.CryptoError as exc:
            problems.append(exc.msg)
            causes.append(exc.cause)
    elif header and not problems:
        notes.append("encrypted to key ids %s: only its ciphertext's sha256 and layout were checked; with the private "
                     "key (decryption_key) its chunks, sha256 trailer and database are checked too"
                     % ", ".join(header.key_ids))
    if sha256 is None:
        sha256 = checked[1] if checked and identity and checked[0] == identity else _files.file_sha256(path)
    if manifest:
        _compare_manifest(manifest, size, sha256, plaintext_sha256, problems, verified_by)
    truncated = "truncated" in causes or size < ((manifest or {}).get("size") or 0)
    status = ("ok" if not problems else "truncated" if truncated else
              _CRYPTO_STATUS[causes[0]] if causes else "corrupt")
    encryption = dict(header.describe(), plaintext_size=plaintext_size) if header else None
    return _report(path, size, sha256, status, problems, notes, identity, verified_by, has_trailer, manifest, facts,
                   encryption, plaintext_sha256)


def _compare_manifest(manifest: dict[str, Any], size: int, sha256: str, plaintext_sha256: str | None,
                      problems: list[str], verified_by: list[str]) -> None:
    if manifest.get("sha256") != sha256 or manifest.get("size", size) != size:
        problems.append("%d bytes with sha256 %s; the manifest says %s bytes with sha256 %s" % (
            size, sha256, manifest.get("size"), manifest.get("sha256")))
        return
    verified_by.append("manifest")
    if plaintext_sha256 and manifest.get("plaintext_sha256") not in (None, plaintext_sha256):
        problems.append("decrypted, it has sha256 %s; the manifest says %s" % (
            plaintext_sha256, manifest["plaintext_sha256"]))


def _database(path: str, manifest: dict[str, Any] | None, count_keys: bool,
              problems: list[str], source: Any = None) -> tuple[dict[str, Any], list[str]]:
    """(facts, notes) of the database in `path` (or in `source`, see read_facts), checked against a manifest that
    records them; a file that is not a readable etcd database gets a problem."""
    try:
        facts = read_facts(path, count_keys, source)
    except (EtcdDbError, OSError) as exc:
        problems.append(getattr(exc, "msg", str(exc)))
        return {}, []
    notes: list[str] = []
    if not manifest:
        return facts, notes
    if (manifest.get("format") or 1) < 2 and manifest.get("revision") is not None:
        notes.append("the manifest is of format %s, whose revision is the member's before the snapshot, not the "
                     "file's: it was not compared" % (manifest.get("format") or 1))
        return facts, notes
    if (manifest.get("format") or 1) < 2:
        return facts, notes
    for name in ("revision", "key_count"):
        if manifest.get(name) is None or facts[name] is None:
            continue
        if manifest[name] != facts[name]:
            problems.append("the database holds %s %s but the manifest says %s" % (
                name.replace("_", " "), facts[name], manifest[name]))
    return facts, notes


def find_tool(host: CommandHost, etcdutl: str | None = None,
              etcdctl: str | None = None) -> tuple[str, list[str]] | tuple[None, None]:
    """(tool, argv prefix) for `snapshot status`: a tool given first (etcdutl, then etcdctl), else etcdutl (3.5+) or
    etcdctl (3.4) on PATH; (None, None) if none. A tool that is found but does not run raises CommandError: its
    failures must not make whole files look corrupt."""
    for name, path in etcd_tool_candidates(host, etcdutl, etcdctl):
        if not path:
            continue
        why = ("%s at %s does not run; give the path of a working %s (option %s), or set read_status=false to check "
               "the files without it" % (name, path, name, name))
        if not os.access(path, os.X_OK):
            raise CommandError(Completed([path, "version"], None, "", "not an executable file"), why)
        run(host, [path, "version"], why=why)
        return name, [path]
    return None, None


def read_status(host: CommandHost, report: dict[str, Any], tool: str, argv: list[str]) -> None:
    """Fill revision, total keys and size from `<tool> snapshot status -w json`; a failure is a problem."""
    done = run(host, argv + ["snapshot", "status", report["path"], "-w", "json"], check=False)
    report["tool"] = tool
    try:
        status = json.loads(done.stdout.strip().splitlines()[0]) if done.rc == 0 else None
    except (ValueError, IndexError):
        status = None
    if status is None:
        report["problems"].append("%s snapshot status failed (rc %s): %s" % (
            tool, done.rc, (done.stderr or done.stdout).strip().splitlines()[0] if (done.stderr or done.stdout).strip()
            else "no output"))
        if report["status"] == "ok":
            report["status"] = "corrupt"
        return
    # Not its "revision": that is the newest revision left in the key bucket, not what the snapshot stands for.
    report.update(total_keys=status.get("totalKey"), total_size=status.get("totalSize"))
