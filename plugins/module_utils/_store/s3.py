# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An S3 (or S3-compatible) backup store (boto3): multipart uploads with a SHA-256 checksum on every part, completed
only once every part is there, then checked against the checksum S3 computes, or read back where the store
reports none."""
from __future__ import annotations

import base64
import builtins
import concurrent.futures
import hashlib
import time
from collections.abc import Callable, Iterator
from typing import Any

from ansible_collections.etcdops.dr.plugins.module_utils._store.base import StoreError, StoredFile
from ansible_collections.etcdops.dr.plugins.module_utils._store.url import StoreUrl

try:
    import boto3
    import botocore.config
    import botocore.exceptions
    HAS_BOTO3 = True
except ImportError:
    HAS_BOTO3 = False

# Parts of this size, this many sent at once: at most PART_SIZE * (PARALLEL_PARTS + 1) bytes held. 5 MiB (S3's least)
# times 3 measured as fast as 8 MiB times 4 against the bed's store, and keeps a 2 GB upload under 100 MB.
PART_SIZE = 5 * 1024 * 1024
PARALLEL_PARTS = 3
READ_CHUNK = 1024 * 1024


class _Upload:
    """A multipart upload under way: its id, and the parts sent (number, ETag, raw SHA-256)."""

    def __init__(self, key: str, upload_id: str | None) -> None:
        self.key = key
        self.upload_id = upload_id
        self.parts: list[tuple[int, str, bytes]] = []
        self.body = bytearray()    # a file smaller than one part goes in one request


class S3Store:
    """One S3 client for a store; use as a context manager. Every failure is a StoreError whose msg names the store,
    the problem and the fix."""

    CHECKSUM = "S3's SHA-256 checksum"
    # Parts go out on threads of their own already; a reading thread more only competed with them (bench/store.py).
    read_ahead = False

    def __init__(self, url: StoreUrl, options: dict[str, Any]) -> None:
        self.url = url
        self.options = options
        self.client: Any = None
        self.host_key_added = None
        self.seconds = dict(send=0.0, read_back=0.0)
        self.verified_by = self.CHECKSUM

    def __enter__(self) -> S3Store:
        if not HAS_BOTO3:
            raise StoreError("%s: boto3 is not installed on this host: install it (requirements.txt; see "
                             "docs/hosts.md) where the store is written from" % self.url)
        options = self.options
        self.client = boto3.session.Session().client(
            "s3", endpoint_url=options.get("endpoint_url") or None, region_name=options.get("region") or None,
            aws_access_key_id=options.get("access_key") or None,
            aws_secret_access_key=options.get("secret_key") or None,
            aws_session_token=options.get("session_token") or None,
            verify=options.get("ca_bundle") or options.get("validate_certs", True),
            # Completing a large multipart upload may take the store minutes: reads wait ten times the timeout.
            config=botocore.config.Config(connect_timeout=options.get("timeout") or 30,
                                          read_timeout=10 * (options.get("timeout") or 30),
                                          retries={"max_attempts": 3, "mode": "standard"},
                                          # The SHA-256 of each part is given; no CRC of each body besides.
                                          request_checksum_calculation="when_required",
                                          response_checksum_validation="when_required",
                                          # Bodies go unsigned, as botocore sends them over HTTPS when a checksum
                                          # is given: parts and files carry their SHA-256 in a signed header that
                                          # the store checks (and the completed object's is checked in commit()).
                                          # Signing hashed every byte once more on plain HTTP (bench/store.py).
                                          s3={"payload_signing_enabled": False},
                                          max_pool_connections=PARALLEL_PARTS + 2))
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self.client is not None:
            self.client.close()

    def _key(self, name: str) -> str:
        return self.url.path + name

    def _fail(self, what: str, exc: BaseException) -> StoreError:
        if isinstance(exc, botocore.exceptions.ClientError):
            code = exc.response.get("Error", {}).get("Code", "")
            reason = exc.response.get("Error", {}).get("Message", "") or str(exc)
            hints = {
                "NoSuchBucket": "create the bucket, or fix the URL",
                "404": "no such bucket: create it, or fix the URL",
                "403": "access denied: give the right credentials (access_key and secret_key, or the usual boto3 "
                       "chain), with the rights to list, read, write and delete under the prefix",
                "InvalidAccessKeyId": "give the right credentials (access_key and secret_key, or the usual boto3 "
                                      "chain: environment, ~/.aws, instance role)",
                "SignatureDoesNotMatch": "give the right secret_key for this access_key",
                "AccessDenied": "give these credentials the rights to list, read, write and delete under the prefix",
            }
            return StoreError("%s: %s failed: %s (%s): %s" % (
                self.url, what, code, reason, hints.get(code, "check the store and its settings")))
        if isinstance(exc, botocore.exceptions.NoCredentialsError):
            return StoreError("%s: %s failed: no credentials: give access_key and secret_key, or set up the usual "
                              "boto3 chain (environment, ~/.aws, instance role)" % (self.url, what))
        if isinstance(exc, botocore.exceptions.EndpointConnectionError):
            return StoreError("%s: %s failed: cannot connect to %s: check endpoint_url and that the store runs and "
                              "lets this host in" % (self.url, what, self.options.get("endpoint_url") or "S3"))
        return StoreError("%s: %s failed: %s" % (self.url, what, exc))

    def _call(self, what: str, method: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return method(**kwargs)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise self._fail(what, exc) from None

    def _encryption(self) -> dict[str, str]:
        sse = self.options.get("sse")
        if not sse:
            return {}
        settings = {"ServerSideEncryption": sse}
        if self.options.get("sse_kms_key_id"):
            settings["SSEKMSKeyId"] = self.options["sse_kms_key_id"]
        return settings

    # -- files -----------------------------------------------------------------------------------------------------
    def check_dir(self) -> None:
        """Fail unless the bucket exists and these credentials may list it (a listing, not HeadBucket: its errors
        come with S3's code - NoSuchBucket, SignatureDoesNotMatch, InvalidAccessKeyId - where HEAD's carry none)."""
        self._call("listing bucket %s" % self.url.host, self.client.list_objects_v2, Bucket=self.url.host,
                   Prefix=self.url.path, MaxKeys=1)

    def free_bytes(self) -> None:
        return None

    def list(self) -> list[StoredFile]:
        found = []
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.url.host, Prefix=self.url.path, Delimiter="/"):
                for item in page.get("Contents", []):
                    found.append(StoredFile(item["Key"][len(self.url.path):], item["Size"],
                                            item["LastModified"].timestamp()))
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise self._fail("listing %s" % self.url, exc) from None
        return found

    def stale(self, files: builtins.list[StoredFile], older_than: float) -> builtins.list[str]:
        """Multipart uploads under the prefix that were never completed and started more than `older_than` seconds
        ago (runs that died), as name#upload-id; aborted by remove_stale()."""
        answer = self._call("listing unfinished uploads", self.client.list_multipart_uploads, Bucket=self.url.host,
                            Prefix=self.url.path)
        now = time.time()
        return ["%s#%s" % (upload["Key"][len(self.url.path):], upload["UploadId"])
                for upload in answer.get("Uploads", []) if now - upload["Initiated"].timestamp() > older_than]

    def remove_stale(self, stale: str) -> None:
        name, upload_id = stale.rsplit("#", 1)
        try:
            self.client.abort_multipart_upload(Bucket=self.url.host, Key=self._key(name), UploadId=upload_id)
        except botocore.exceptions.ClientError as exc:
            # Gone since it was listed (completed or aborted by another run).
            if exc.response.get("Error", {}).get("Code") not in ("NoSuchUpload", "404"):
                raise self._fail("aborting an unfinished upload of %s" % name, exc) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise self._fail("aborting an unfinished upload of %s" % name, exc) from None

    def read_small(self, name: str, limit: int = 1024 * 1024) -> bytes:
        answer = self._call("reading %s" % name, self.client.get_object, Bucket=self.url.host, Key=self._key(name),
                            Range="bytes=0-%d" % (limit - 1))
        return answer["Body"].read()

    def read_chunks(self, name: str, size: int) -> Iterator[bytes]:
        answer = self._call("reading %s" % name, self.client.get_object, Bucket=self.url.host, Key=self._key(name))
        try:
            yield from answer["Body"].iter_chunks(READ_CHUNK)
        except (botocore.exceptions.BotoCoreError, OSError) as exc:
            raise self._fail("reading %s" % name, exc) from None

    def stage(self, name: str, chunks: Iterator[bytes], size: int, sha256: Callable[[], str]) -> _Upload:
        """Send `chunks` as a multipart upload of `name` (nothing is visible under the name until commit()), each
        part with its SHA-256 for S3 to check; a file smaller than one part is held for one request. On any failure
        the upload is aborted."""
        key = self._key(name)
        began = time.monotonic()
        pending = _parts(chunks)
        # The first two parts tell a small file from a large one; handed on, not held (each is PART_SIZE bytes).
        head = [next(pending, bytearray())]
        second = next(pending, None)
        if second is None:
            upload = _Upload(key, None)
            upload.body = head.pop()
            sha256()
            self.seconds["send"] += time.monotonic() - began
            return upload
        head.append(second)
        del second
        created = self._call("starting the upload of %s" % name, self.client.create_multipart_upload,
                             Bucket=self.url.host, Key=key, ChecksumAlgorithm="SHA256", **self._encryption())
        upload = _Upload(key, created["UploadId"])
        try:
            with concurrent.futures.ThreadPoolExecutor(PARALLEL_PARTS) as pool:
                running: list[concurrent.futures.Future[tuple[int, str, bytes]]] = []
                for number, part in enumerate(_chain(head, pending), 1):
                    if len(running) >= PARALLEL_PARTS:
                        upload.parts.append(running.pop(0).result())
                    running.append(pool.submit(self._send_part, upload, number, part))
                    del part
                for future in running:
                    upload.parts.append(future.result())
            sha256()
        except BaseException:
            self.discard(upload)
            raise
        self.seconds["send"] += time.monotonic() - began
        return upload

    def _send_part(self, upload: _Upload, number: int, part: bytearray) -> tuple[int, str, bytes]:
        digest = hashlib.sha256(part).digest()
        answer = self._call("sending part %d of %s" % (number, upload.key), self.client.upload_part,
                            Bucket=self.url.host, Key=upload.key, UploadId=upload.upload_id, PartNumber=number,
                            Body=part, ChecksumSHA256=base64.b64encode(digest).decode())
        return number, answer["ETag"], digest

    def discard(self, upload: _Upload) -> None:
        """Abort an upload after a failure; never raises."""
        if upload.upload_id:
            try:
                self.client.abort_multipart_upload(Bucket=self.url.host, Key=upload.key, UploadId=upload.upload_id)
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
                pass

    def commit(self, upload: _Upload, name: str, sha256: str) -> None:
        """Complete the upload under `name`, then check the object: against the checksum S3 computed (of the whole
        file, or of the parts' checksums), else by reading it back. An object that fails the check is deleted."""
        began = time.monotonic()
        if upload.upload_id is None:
            self._call("writing %s" % name, self.client.put_object, Bucket=self.url.host, Key=upload.key,
                       Body=upload.body, ChecksumSHA256=base64.b64encode(bytes.fromhex(sha256)).decode(),
                       **self._encryption())
            expected = [base64.b64encode(bytes.fromhex(sha256)).decode()]
        else:
            parts = sorted(upload.parts)
            self._call("completing the upload of %s" % name, self.client.complete_multipart_upload,
                       Bucket=self.url.host, Key=upload.key, UploadId=upload.upload_id,
                       MultipartUpload={"Parts": [{"PartNumber": number, "ETag": etag,
                                                   "ChecksumSHA256": base64.b64encode(digest).decode()}
                                                  for number, etag, digest in parts]})
            composite = base64.b64encode(hashlib.sha256(b"".join(d for dummy, dummy2, d in parts)).digest()).decode()
            expected = ["%s-%d" % (composite, len(parts)), composite]
        head = self._call("checking %s" % name, self.client.head_object, Bucket=self.url.host, Key=upload.key,
                          ChecksumMode="ENABLED")
        stored = head.get("ChecksumSHA256")
        try:
            if stored:
                self.verified_by = self.CHECKSUM
                if stored not in expected:
                    raise StoreError("%s: S3 computed the checksum %s for %s, not %s as sent: the store or the link "
                                     "corrupts data; the object was deleted" % (self.url, stored, name, expected[0]))
            else:
                self.verified_by = "read back from the store and hashed (it reports no checksum)"
                digest = hashlib.sha256()
                for chunk in self.read_chunks(name, head["ContentLength"]):
                    digest.update(chunk)
                if digest.hexdigest() != sha256:
                    raise StoreError("%s: %s reads back from the store with sha256 %s, not %s as sent: the store or "
                                     "the link corrupts data; the object was deleted" % (
                                         self.url, name, digest.hexdigest(), sha256))
        except BaseException:
            self.remove(name)
            raise
        finally:
            self.seconds["read_back"] += time.monotonic() - began

    def remove(self, name: str) -> None:
        self._call("removing %s" % name, self.client.delete_object, Bucket=self.url.host, Key=self._key(name))


def _parts(chunks: Iterator[bytes]) -> Iterator[bytearray]:
    """`chunks` regrouped into PART_SIZE parts (the last one shorter), each byte copied once."""
    part = bytearray()
    for chunk in chunks:
        view = memoryview(chunk)
        while view:
            taken = view[:PART_SIZE - len(part)]
            part += taken
            view = view[len(taken):]
            if len(part) == PART_SIZE:
                yield part
                part = bytearray()
    if part:
        yield part


def _chain(head: list[bytearray], rest: Iterator[bytearray]) -> Iterator[bytearray]:
    """The parts in `head` (taken out of it, so that it holds none once sent), then the rest."""
    while head:
        yield head.pop(0)
    yield from rest
