# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An encrypted backup re-encrypted to new recipients in place, as the etcd_snapshot_reencrypt module does it: chunk
by chunk from the old file into a new one beside it (no plaintext on disk), proven to hold the same snapshot, then
renamed over the old file and its manifest rewritten. A run cut off anywhere leaves a file that the old or the new
keys open and that a re-run finishes.

plan() reads the manifest, the keys and the file's header and opens the file with the key; a file already encrypted
to the recipients (and, in check mode, any file) is decrypted there and proven to be its manifest's snapshot. Otherwise
apply() proves it while it re-encrypts, so that the file is read once."""
from __future__ import annotations

import datetime
import json
import os
from typing import TYPE_CHECKING, Any

from ansible_collections.etcdops.dr.plugins.module_utils._argspec import ArgumentSpec
from ansible_collections.etcdops.dr.plugins.module_utils._crypto import envelope
from ansible_collections.etcdops.dr.plugins.module_utils._crypto.stream import Opened, Sealer
from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError
from ansible_collections.etcdops.dr.plugins.module_utils._host import files as _files
from ansible_collections.etcdops.dr.plugins.module_utils._runner import planned
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.file import (
    MANIFEST_SUFFIX, BackupFileError)
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.stream import decrypt_into

if TYPE_CHECKING:
    from ansible_collections.etcdops.dr.plugins.module_utils._host.run import HostContext

ARGUMENT_SPEC = ArgumentSpec(dict(
    path=dict(type="path", required=True),
    recipients=dict(type="list", elements="str", required=True, no_log=True),
    decryption_key=dict(type="str", required=True, no_log=True),
))


def _manifest(path: str) -> dict[str, Any]:
    try:
        with open(path + MANIFEST_SUFFIX) as handle:
            doc = json.load(handle)
    except FileNotFoundError:
        raise BackupFileError("%s has no manifest (%s): only a backup with its manifest is re-encrypted, so that "
                              "the result can be proven to be the same snapshot" % (path, path + MANIFEST_SUFFIX)) from None
    except (OSError, ValueError) as exc:
        raise BackupFileError("the manifest of %s cannot be read: %s" % (path, exc)) from None
    if not doc.get("plaintext_sha256") or not doc.get("encryption"):
        raise BackupFileError("%s is not an encrypted backup by its manifest (no plaintext_sha256): encrypt new "
                              "backups with recipients; a plain file is not converted in place" % path)
    return doc


class Reencrypt:
    """One backup re-encrypted to `recipients`; `result` is what the module returns. The file stays open from plan()
    to close()."""

    def __init__(self, params: dict[str, Any], host: HostContext) -> None:
        self.params = params
        self.host = host
        self.path = params["path"]
        self.recipients: list[tuple[str, bytes]] = []
        self.doc: dict[str, Any] = {}
        self.opened: Opened | None = None
        # Encrypted to the recipients already; and then the sha256 of the file when its manifest records another
        # (a run cut off between the rename and the manifest), else None.
        self.same_recipients = False
        self.unrecorded_sha256: str | None = None
        self.result: dict[str, Any] = dict(changed=False, path=self.path, recipients=[], previous_recipients=[],
                                           plaintext_sha256=None, sha256=None, previous_sha256=None)

    def plan(self) -> None:
        """Raises EtcdOpsError (CryptoError, BackupFileError) when the file does not open with the key, is not the
        manifest's snapshot, or a recipient key is unusable."""
        path = self.path
        key = envelope.private_key(self.params["decryption_key"], "decryption_key")
        self.recipients = [envelope.public_key(text, "recipients[%d]" % index)
                           for index, text in enumerate(self.params["recipients"])]
        wanted = [ident for ident, dummy in self.recipients]
        doc = self.doc = _manifest(path)
        with open(path, "rb") as handle:
            header = envelope.read_header(handle, path)
        self.result.update(recipients=wanted, previous_recipients=header.key_ids,
                           plaintext_sha256=doc["plaintext_sha256"], sha256=doc.get("sha256"))
        self.same_recipients = sorted(header.key_ids) == sorted(wanted)
        self.opened = Opened(path, envelope.unlock(header, path, key), header)
        if self.same_recipients or self.host.check_mode:
            _same_snapshot(path, decrypt_into(self.opened), doc)
        if self.same_recipients:
            sha256 = _files.file_sha256(path)
            self.unrecorded_sha256 = None if sha256 == doc.get("sha256") else sha256
        self.result["changed"] = not self.same_recipients or self.unrecorded_sha256 is not None

    def would(self) -> str:
        if self.same_recipients:
            return self._recipients_message("would record")
        return "would re-encrypt %s to key ids %s (now %s)" % (
            self.path, ", ".join(self.result["recipients"]), ", ".join(self.result["previous_recipients"]))

    def apply(self) -> None:
        if self.unrecorded_sha256 is not None:
            _record(self.path, self.doc, self.unrecorded_sha256, os.path.getsize(self.path),
                    planned(self.opened).header.describe(), self.result)
        elif not self.same_recipients:
            written = _rewrite(self.path, planned(self.opened), self.recipients, self.doc)
            _record(self.path, self.doc, written.digest.hexdigest(), written.size, written.describe(), self.result)

    def done(self) -> str:
        if self.same_recipients:
            return self._recipients_message("recorded")
        return "re-encrypted %s to key ids %s (was %s)" % (
            self.path, ", ".join(self.result["recipients"]), ", ".join(self.result["previous_recipients"]))

    def _recipients_message(self, verb: str) -> str:
        if self.unrecorded_sha256 is None:
            return "%s is encrypted to key ids %s already" % (self.path, ", ".join(self.result["recipients"]))
        # A run cut off between the rename and the manifest: the file is right, its manifest is mended.
        return "%s the sha256 of %s, re-encrypted by a run cut off before its manifest" % (verb, self.path)

    def failed(self, exc: Exception) -> str:
        # A failure returns the path alone.
        self.result.clear()
        self.result["path"] = self.path
        if isinstance(exc, EtcdOpsError):
            return "%s. Nothing was changed." % exc.msg.rstrip(".")
        return ("re-encrypting %s failed: %s. The backup opens with its old or its new keys (the new file takes its "
                "name whole or not at all); a re-run finishes the job." % (self.path, exc))

    def close(self) -> None:
        if self.opened is not None:
            self.opened.close()


def _rewrite(path: str, opened: Opened, recipients: list[tuple[str, bytes]], doc: dict[str, Any]) -> Sealer:
    """`opened` re-encrypted into a temp file beside `path`, proven to be the manifest's snapshot, renamed over it."""
    handle, temp_path = _files.temp_file_in(os.path.dirname(path), os.path.basename(path), 0o600)
    try:
        stat = os.stat(path)
        os.fchown(handle.fileno(), stat.st_uid, stat.st_gid)
        sealer = Sealer(handle, recipients, opened.header.chunk_size)
        plaintext = decrypt_into(opened, sealer.write)
        sealer.close()
        _same_snapshot(path, plaintext, doc)
        handle.flush()
        _files.commit(handle, temp_path, path)
    except BaseException:
        _files.discard(handle, temp_path)
        raise
    return sealer


def _same_snapshot(path: str, plaintext: str, doc: dict[str, Any]) -> None:
    if plaintext != doc["plaintext_sha256"]:
        raise BackupFileError("%s decrypts to a snapshot with sha256 %s, but its manifest records %s: it is not the "
                              "backup its manifest describes; nothing was changed" % (
                                  path, plaintext, doc["plaintext_sha256"]))


def _record(path: str, doc: dict[str, Any], sha256: str, size: int, encryption: dict[str, Any],
            result: dict[str, Any]) -> None:
    result.update(previous_sha256=doc.get("sha256"), sha256=sha256)
    stat = os.stat(path)
    doc = dict(doc, sha256=sha256, size=size, encryption=encryption,
               reencrypted=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    _write(path, doc, stat)


def _write(path: str, doc: dict[str, Any], stat: os.stat_result) -> None:
    # Not write_manifest: that removes the backup when the manifest cannot be written, and this backup is whole.
    manifest_path = path + MANIFEST_SUFFIX
    _files.write_atomic(manifest_path, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    os.chown(manifest_path, stat.st_uid, stat.st_gid)
