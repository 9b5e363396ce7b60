"""The S3 store's requests as they leave botocore (caught before they are sent): bodies go unsigned, bound to the
signature by the SHA-256 checksum header instead, which the store checks."""
import base64
import hashlib
import io
import os

import pytest
from botocore import awsrequest

from ansible_collections.etcdops.dr.plugins.module_utils._store import s3
from ansible_collections.etcdops.dr.plugins.module_utils._store.url import parse


class _Body(io.BytesIO):
    """A response body as botocore reads it: whole (stream) or in pieces (read)."""

    def stream(self, **_):
        yield self.getvalue()


def _reply(request, status=200, body=b"", headers=None):
    return awsrequest.AWSResponse(request.url, status, headers or {}, _Body(body))


def _store_that_records(sent):
    store = s3.S3Store(parse("s3://etcd-backups/cluster-a/"), {
        "endpoint_url": "http://127.0.0.1:9", "region": "us-east-1", "access_key": "AKIDEXAMPLE",
        "secret_key": "secret"})
    store.__enter__()

    def answer(request, **_):
        sent.append(request)
        if request.method == "POST" and "uploads" in request.url:
            return _reply(request, body=b"<InitiateMultipartUploadResult><UploadId>u-1</UploadId>"
                                        b"</InitiateMultipartUploadResult>")
        return _reply(request, headers={"ETag": '"etag-%d"' % len(sent), "Content-Length": "0"})

    store.client.meta.events.register("before-send.s3", answer)
    return store


def _header(request, name):
    value = request.headers[name]
    return value.decode() if isinstance(value, bytes) else value


def _signed_headers(request):
    return _header(request, "Authorization").split("SignedHeaders=")[1].split(",")[0].split(";")


def test_parts_go_unsigned_with_their_sha256_in_a_signed_header():
    sent = []
    data = os.urandom(s3.PART_SIZE + 4321)
    store = _store_that_records(sent)
    try:
        digest = hashlib.sha256(data).hexdigest()
        upload = store.stage("snapshot.db", iter([data]), len(data), lambda: digest)
    finally:
        store.close()
    parts = [r for r in sent if r.method == "PUT" and "partNumber=" in r.url]
    assert len(parts) == 2 and len(upload.parts) == 2
    for request, expected in zip(sorted(parts, key=lambda r: r.url), (data[:s3.PART_SIZE], data[s3.PART_SIZE:])):
        assert _header(request, "X-Amz-Content-SHA256") == "UNSIGNED-PAYLOAD"
        assert _header(request, "x-amz-checksum-sha256") == base64.b64encode(hashlib.sha256(expected).digest()).decode()
        assert {"x-amz-checksum-sha256", "x-amz-content-sha256"} <= set(_signed_headers(request))


def test_a_small_file_goes_unsigned_with_its_sha256_in_a_signed_header():
    sent = []
    data = b"a manifest"
    store = _store_that_records(sent)
    try:
        digest = hashlib.sha256(data).hexdigest()
        upload = store.stage("snapshot.db.json", iter([data]), len(data), lambda: digest)
        with pytest.raises(s3.StoreError, match="reads back from the store with sha256"):
            # This store answers HEAD with no checksum, and the read-back gets no bytes: refused.
            store.commit(upload, "snapshot.db.json", digest)
    finally:
        store.close()
    put = [r for r in sent if r.method == "PUT"][0]
    assert _header(put, "X-Amz-Content-SHA256") == "UNSIGNED-PAYLOAD"
    assert _header(put, "x-amz-checksum-sha256") == base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert {"x-amz-checksum-sha256", "x-amz-content-sha256"} <= set(_signed_headers(put))
