# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An encrypted backup re-encrypted to new recipients in place, as the etcd_snapshot_reencrypt module does it: chunk
by chunk from the old file into a new one beside it (no plaintext on disk), proven to hold the same snapshot, then
renamed over the old file and its manifest rewritten. A run cut off anywhere leaves a file that the old or the new
keys open and that a re-run finishes."""
from __future__ import annotations

import datetime
import json
import os
from typing import Any

from ansible_collections.etcdops.dr.plugins.module_utils._crypto import envelope
from ansible_collections.etcdops.dr.plugins.module_utils._crypto.stream import Opened, Sealer
from ansible_collections.etcdops.dr.plugins.module_utils._host import files as _files
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.file import (
    MANIFEST_SUFFIX, BackupFileError)
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.stream import decrypt_into

ARGUMENT_SPEC = dict(
    path=dict(type="path", required=True),
    recipients=dict(type="list", elements="str", required=True, no_log=True),
    decryption_key=dict(type="str", required=True, no_log=True),
)


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


def reencrypt(params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    """The module's result. Raises EtcdOpsError (CryptoError, BackupFileError) before anything is changed when the
    file does not open with the key, is not the manifest's snapshot, or a recipient key is unusable."""
    path = params["path"]
    key = envelope.private_key(params["decryption_key"], "decryption_key")
    recipients = [envelope.public_key(text, "recipients[%d]" % index)
                  for index, text in enumerate(params["recipients"])]
    wanted = [ident for ident, dummy in recipients]
    doc = _manifest(path)
    with open(path, "rb") as handle:
        header = envelope.read_header(handle, path)
    result = dict(changed=False, path=path, recipients=wanted, previous_recipients=header.key_ids,
                  plaintext_sha256=doc["plaintext_sha256"], sha256=doc.get("sha256"), previous_sha256=None)
    same_recipients = sorted(header.key_ids) == sorted(wanted)
    with Opened(path, envelope.unlock(header, path, key), header) as opened:
        if same_recipients or check_mode:
            _same_snapshot(path, decrypt_into(opened), doc)
        else:
            written = _rewrite(path, opened, recipients, doc)
    if same_recipients:
        sha256 = _files.file_sha256(path)
        if sha256 == doc.get("sha256"):
            result["msg"] = "%s is encrypted to key ids %s already" % (path, ", ".join(wanted))
            return result
        # A run cut off between the rename and the manifest: the file is right, its manifest is mended.
        result.update(changed=True, msg="%s the sha256 of %s, re-encrypted by a run cut off before its manifest" % (
            "would record" if check_mode else "recorded", path))
        if not check_mode:
            _record(path, doc, sha256, os.path.getsize(path), header.describe(), result)
        return result
    result["changed"] = True
    if check_mode:
        result["msg"] = "would re-encrypt %s to key ids %s (now %s)" % (
            path, ", ".join(wanted), ", ".join(header.key_ids))
        return result
    _record(path, doc, written.digest.hexdigest(), written.size, written.describe(), result)
    result["msg"] = "re-encrypted %s to key ids %s (was %s)" % (path, ", ".join(wanted), ", ".join(header.key_ids))
    return result


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
