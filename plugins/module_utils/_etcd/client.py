# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Talk to etcd members through the Python gRPC client (etcd-sdk-python or etcd3).

Private to the collection. Every failure becomes an EtcdError whose message names the endpoint,
the problem and the fix; no library exception or traceback reaches the user.
"""
from __future__ import annotations

import importlib
import os
import socket
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any, cast
from urllib.parse import urlsplit

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.etcdops.dr.plugins.module_utils._host import run as _run
from ansible_collections.etcdops.dr.plugins.module_utils._etcd.proto_fields import wire_fields
from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError

# Import names in the order 'auto' tries them, and the PyPI package that provides each.
LIBRARIES = ("pyetcd", "etcd3")
PACKAGES = {"pyetcd": "etcd-sdk-python", "etcd3": "etcd3"}

# etcd's AlarmType enum (rpc.proto).
ALARM_NAMES = {0: "NONE", 1: "NOSPACE", 2: "CORRUPT"}


class EtcdError(EtcdOpsError):
    """A failure talking to etcd, with the endpoint and gRPC code when there were some."""

    def __init__(self, msg: str, endpoint: str | None = None, code: str | None = None,
                 details: str | list[str] | None = None) -> None:
        super().__init__(msg)
        self.endpoint = endpoint
        self.code = code
        self.details = details


class ClientLibraryMissing(EtcdError):
    """The Python etcd client cannot be used; the message starts as Ansible's missing-library messages do."""

    def __init__(self, msg: str, packages: str = "etcd-sdk-python or etcd3", **kwargs: Any) -> None:
        super().__init__(missing_required_lib(packages) + " " + msg, **kwargs)


def load_library(choice: str = "auto") -> tuple[str, ModuleType, ModuleType]:
    """Import the etcd client; return (name, module, its generated rpc module)."""
    # gRPC core otherwise writes its own log lines (TLS handshake failures...) to stderr.
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    errors = []
    for name in (LIBRARIES if choice == "auto" else (choice,)):
        if name == "etcd3" and "google.protobuf" not in sys.modules:
            # etcd3's generated code is too old for protobuf's C implementations.
            os.environ.setdefault("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python")
        try:
            library = importlib.import_module(name)
            return name, library, importlib.import_module(name + ".etcdrpc")
        except Exception as exc:  # pylint: disable=broad-exception-caught
            # ImportError, or protobuf's TypeError when generated code and runtime disagree.
            errors.append("%s (%s): %s" % (PACKAGES[name], name, exc))
    packages = " or ".join(PACKAGES[name] for name in (LIBRARIES if choice == "auto" else (choice,)))
    raise ClientLibraryMissing(
        "the Python etcd client is not usable: %s. Install %s into the Python that runs the module "
        "(pip install -r requirements.txt of the collection), or point ansible_python_interpreter at a "
        "Python that has it." % ("; ".join(errors), packages), packages=packages, details=errors)


def parse_endpoint(url: str | None) -> tuple[str, str, int]:
    """Split an endpoint URL into (scheme, host, port), or fail naming what is wrong."""
    example = "Use the form https://HOST:2379, for example https://10.0.0.1:2379."
    if not isinstance(url, str) or not url.strip():
        raise EtcdError("endpoint %r is empty. %s" % (url, example), endpoint=url)
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise EtcdError("endpoint %r is not a valid URL (%s). %s" % (url, exc, example), endpoint=url) from None
    if parts.scheme not in ("https", "http"):
        raise EtcdError("endpoint %r must start with https:// or http://. %s" % (url, example), endpoint=url)
    if not parts.hostname:
        raise EtcdError("endpoint %r has no host. %s" % (url, example), endpoint=url)
    if port is None:
        raise EtcdError("endpoint %r has no port (etcd's client port is usually 2379). %s" % (url, example),
                        endpoint=url)
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise EtcdError("endpoint %r must not have a path or query. %s" % (url, example), endpoint=url)
    return parts.scheme, parts.hostname, port


PEM_OPTIONS = {"cacert": "cacert_pem", "cert": "cert_pem", "key": "key_pem"}


def use_pem_text(params: dict[str, Any]) -> None:
    """Give each PEM text option to the client as a file that exists only in this process's memory (a memfd, read
    through /proc/self/fd): the client libraries read paths, and a key written to disk could outlive a killed run."""
    for path_option, pem_option in PEM_OPTIONS.items():
        text = params.get(pem_option)
        if not text:
            continue
        if params.get(path_option):
            raise EtcdError("both %s and %s are set: give the file or its PEM text, not both." % (
                path_option, pem_option))
        if "-----BEGIN " not in text:
            raise EtcdError("%s is not PEM text (no -----BEGIN line): give the whole file's content, or use %s "
                            "for a path." % (pem_option, path_option))
        fd = os.memfd_create("etcdops-" + path_option, os.MFD_CLOEXEC)
        os.write(fd, text.encode() if text.endswith("\n") else (text + "\n").encode())
        params[path_option] = "/proc/self/fd/%d" % fd
        params[pem_option] = None   # checked again later (service control, then the client): one memfd is enough
    if bool(params.get("cert")) != bool(params.get("key")):
        raise EtcdError("a client certificate needs its key: give cert (or cert_pem) and key (or key_pem) together.")


def tls_source(params: dict[str, Any], option: str) -> str | None:
    """What to call the TLS file of `option` in a message: its path, or the PEM option it came from."""
    path = params.get(option)
    return "the text of %s" % PEM_OPTIONS[option] if path and path.startswith("/proc/self/fd/") else path


def check_params(params: dict[str, Any]) -> None:
    """Fail on option combinations or files that cannot work, before any connection is made."""
    use_pem_text(params)
    for url in params["endpoints"]:
        scheme = parse_endpoint(url)[0]
        if scheme == "https" and not params.get("cacert"):
            raise EtcdError(
                "endpoint %s uses TLS but cacert is not set: set cacert to the CA certificate that signed the "
                "etcd server certificates (kubeadm: /etc/kubernetes/pki/etcd/ca.crt), or cacert_pem to its text."
                % url, endpoint=url)
    for option in ("cacert", "cert", "key"):
        path = params.get(option)
        if path and not os.path.isfile(path):
            raise EtcdError("%s file %s does not exist on this host: fix the path in the %s option."
                            % (option, path, option))
        if path and not os.access(path, os.R_OK):
            raise EtcdError("%s file %s is not readable by this user: run as a user that can read it "
                            "(become: true) or fix its permissions." % (option, path))


def _grpc_host(host: str) -> str:
    return "[%s]" % host if ":" in host else host


def explain_rpc_error(endpoint: str, exc: Exception, params: dict[str, Any]) -> EtcdError:
    """Turn a grpc.RpcError into an operator-facing message."""
    code_of, details_of = getattr(exc, "code", None), getattr(exc, "details", None)
    code = code_of() if callable(code_of) else None
    code_name = getattr(code, "name", str(code))
    details = (details_of() if callable(details_of) else None) or str(exc)
    low = details.lower()
    if "certificate verify failed" in low or "certificate_verify_failed" in low:
        why = ("the server's TLS certificate is not signed by the CA in cacert (%s): set cacert to the CA that "
               "signed the etcd server certificates (kubeadm: /etc/kubernetes/pki/etcd/ca.crt), and check that "
               "the certificate is valid for this host name or address" % tls_source(params, "cacert"))
    elif "certificate required" in low or ("handshake" in low and not params.get("cert")):
        why = ("the server requires a client certificate and none was accepted: set cert and key "
               "(kubeadm: /etc/kubernetes/pki/etcd/healthcheck-client.crt and .key)")
    elif any(s in low for s in ("unknown ca", "bad certificate", "certificate unknown", "unsupported certificate",
                                "handshake")):
        why = ("the server rejected the client certificate %s: it must be signed by the CA that etcd trusts for "
               "clients (--trusted-ca-file) and allow client authentication" % tls_source(params, "cert"))
    elif "wrong version number" in low or "record layer" in low or ("http2" in low and "frame" in low):
        why = "TLS and plain-text do not match: the endpoint scheme (https:// or http://) must match how etcd listens"
    elif endpoint.startswith("http://") and "socket closed" in low:
        why = ("the server closed the plain-text connection, so it probably serves TLS: use an https:// endpoint "
               "and set cacert")
    elif "authentication is not enabled" in low:
        why = "user and password are set but authentication is not enabled on this cluster: leave them unset"
    elif "authentication failed" in low or "invalid user id or password" in low:
        why = "etcd rejected user %r or its password: check user and password" % params.get("user")
    elif "user name is empty" in low or "permission denied" in low or "invalid auth token" in low:
        why = ("etcd refused the request (%s): authentication is enabled, so give user and password or a client "
               "certificate whose common name is an etcd user with the needed role" % details)
    elif "connection refused" in low:
        why = "connection refused: etcd is not listening there; check that it runs on that host and the port is right"
    elif code_name == "DEADLINE_EXCEEDED":
        why = ("no answer within command_timeout (%ss): the member may be overloaded or partitioned; raise "
               "command_timeout if the request is expected to be slow" % params.get("command_timeout"))
    elif code_name == "UNAVAILABLE":
        why = "unreachable (%s)" % details
    else:
        why = "request failed: %s %s" % (code_name, details)
    return EtcdError("etcd endpoint %s: %s." % (endpoint, why), endpoint=endpoint, code=code_name, details=details)


def dial(host: str, port: int, timeout: float) -> None:
    """Open and close a TCP connection: tells 'nothing there' apart from TLS and auth problems."""
    with socket.create_connection((host, port), timeout=timeout):
        pass


class EtcdConnection:
    """One endpoint, through whichever client library was loaded.

    The library object is used for channel, TLS and authentication; requests go to its gRPC stubs
    directly so that error details (which the libraries drop) reach the message.
    """

    def __init__(self, endpoint: str, params: dict[str, Any], library: tuple[str, ModuleType, ModuleType]) -> None:
        self.endpoint = endpoint
        self.params = params
        self.library_name, self.library, self.rpc = library
        scheme, self.host, self.port = parse_endpoint(endpoint)
        self.timeout = params["command_timeout"]
        # The library's client (etcd3.Etcd3Client, pyetcd.Etcd3Client) while open.
        self._client: Any = None
        self._tls = scheme == "https"

    def open(self) -> EtcdConnection:
        import grpc  # pylint: disable=import-outside-toplevel
        try:
            dial(self.host, self.port, self.params["dial_timeout"])
        except socket.timeout:
            raise EtcdError("etcd endpoint %s: no TCP connection within dial_timeout (%ss): check the address, the "
                            "port and firewalls" % (self.endpoint, self.params["dial_timeout"]),
                            endpoint=self.endpoint) from None
        except OSError as exc:
            reason = "connection refused: etcd is not listening there; check that it runs on that host and the " \
                     "port is right" if isinstance(exc, ConnectionRefusedError) else "cannot connect (%s)" % exc
            raise EtcdError("etcd endpoint %s: %s." % (self.endpoint, reason), endpoint=self.endpoint) from None
        try:
            self._client = self.library.client(
                host=_grpc_host(self.host), port=self.port, timeout=self.timeout,
                ca_cert=self.params.get("cacert") if self._tls else None,
                cert_cert=self.params.get("cert") if self._tls else None,
                cert_key=self.params.get("key") if self._tls else None,
                user=self.params.get("user"), password=self.params.get("password"))
        except grpc.RpcError as exc:
            raise explain_rpc_error(self.endpoint, exc, self.params) from None
        _run.channel_opened(self)
        return self

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        _run.channel_closed(self)

    def __enter__(self) -> EtcdConnection:
        return self.open()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def call(self, stub: str, method: str, request: Any, timeout: float | None = None) -> Any:
        """Send one request; the single place where requests leave the collection."""
        import grpc  # pylint: disable=import-outside-toplevel
        try:
            return getattr(getattr(self._client, stub), method)(
                request, timeout or self.timeout,
                credentials=self._client.call_credentials, metadata=self._client.metadata)
        except grpc.RpcError as exc:
            raise explain_rpc_error(self.endpoint, exc, self.params) from None

    def stream(self, stub: str, method: str, request: Any, timeout: float) -> Iterator[Any]:
        """Send one request whose answer is a stream; yield its messages. `timeout` bounds the whole
        stream, so long streams (snapshots) need their own, longer one."""
        import grpc  # pylint: disable=import-outside-toplevel
        try:
            yield from getattr(getattr(self._client, stub), method)(
                request, timeout, credentials=self._client.call_credentials, metadata=self._client.metadata)
        except grpc.RpcError as exc:
            raise explain_rpc_error(self.endpoint, exc, self.params) from None

    def status(self) -> dict[str, Any]:
        response = self.call("maintenancestub", "Status", self.rpc.StatusRequest())
        extra = wire_fields(response.SerializeToString())
        return dict(
            cluster_id=member_hex(response.header.cluster_id),
            member_id=member_hex(response.header.member_id),
            revision=response.header.revision,
            version=response.version,
            db_size=response.dbSize,
            db_size_in_use=extra.get(9, [None])[-1],
            leader_id=member_hex(response.leader) if response.leader else None,
            raft_index=response.raftIndex,
            raft_term=response.raftTerm,
            raft_applied_index=extra.get(7, [None])[-1],
            is_learner=bool(extra.get(10, [0])[-1]),
            # A string field: its values are bytes.
            errors=[cast(bytes, value).decode("utf-8", "replace") for value in extra.get(8, [])],
        )

    def members(self) -> list[dict[str, Any]]:
        response = self.call("clusterstub", "MemberList", self.rpc.MemberListRequest())
        return [_member_entry(member) for member in response.members]

    def alarms(self) -> list[dict[str, str]]:
        request = self.rpc.AlarmRequest(action=self.rpc.AlarmRequest.GET, memberID=0)
        response = self.call("maintenancestub", "Alarm", request)
        return [dict(member_id=member_hex(alarm.memberID), alarm=ALARM_NAMES.get(int(alarm.alarm), str(alarm.alarm)))
                for alarm in response.alarms]

    def health(self) -> dict[str, Any]:
        """This member's status, or EtcdError unless it has a leader, reports no errors and serves a
        linearizable read (the check `etcdctl endpoint health` makes; a read refused for lack of
        permission still proves the member serves)."""
        status = self.status()
        if not status["leader_id"]:
            raise EtcdError("etcd endpoint %s answers but sees no leader (no quorum yet: a member serves only once "
                            "a majority of members run)." % self.endpoint, endpoint=self.endpoint)
        if status["errors"]:
            raise EtcdError("etcd endpoint %s reports errors: %s." % (self.endpoint, "; ".join(status["errors"])),
                            endpoint=self.endpoint)
        try:
            # A learner serves serializable reads only ("rpc not supported for learner").
            self.call("kvstub", "Range", self.rpc.RangeRequest(key=b"health", serializable=status["is_learner"]))
        except EtcdError as exc:
            if exc.code != "PERMISSION_DENIED":
                raise
        return status

    def raw_call(self, method: str, request: bytes, response_class: Any, timeout: float | None = None) -> Any:
        """Send `request` (serialized by hand) to the Cluster service's `method`: learners (isLearner,
        MemberPromote, etcd 3.4) are newer than the client libraries' generated code. `response_class` parses the
        answer (a generated message with the same field numbers; fields it lacks stay readable with wire_fields)."""
        import grpc  # pylint: disable=import-outside-toplevel
        call = self._client.channel.unary_unary("/etcdserverpb.Cluster/" + method,
                                                request_serializer=lambda data: data,
                                                response_deserializer=response_class.FromString)
        try:
            return call(request, timeout=timeout or self.timeout, credentials=self._client.call_credentials,
                        metadata=self._client.metadata)
        except grpc.RpcError as exc:
            raise explain_rpc_error(self.endpoint, exc, self.params) from None

    def member_add(self, peer_urls: list[str], learner: bool) -> dict[str, Any]:
        """Add a member (a learner when `learner`); returns {member: {id, peer_urls}, members: [...]} as members()
        has them, the new member among them with no name until it starts."""
        request = b"".join(_length_delimited(1, url.encode()) for url in peer_urls)
        if learner:
            request += _varint_field(2, 1)
        response = self.raw_call("MemberAdd", request, self.rpc.MemberAddResponse)
        return dict(member=_member_entry(response.member), members=[_member_entry(m) for m in response.members])

    def member_remove(self, member_id: str) -> None:
        self.call("clusterstub", "MemberRemove", self.rpc.MemberRemoveRequest(ID=int(member_id, 16)))

    def member_promote(self, member_id: str) -> None:
        """Make learner `member_id` a voting member; etcd refuses while it has not caught up with the leader."""
        self.raw_call("MemberPromote", _varint_field(1, int(member_id, 16)), self.rpc.MemberListResponse)

    def count_keys(self, revision: int = 0) -> int:
        """Live keys at `revision` (0: the newest) in this member's own store (a serializable read)."""
        request = self.rpc.RangeRequest(key=b"\0", range_end=b"\0", count_only=True, serializable=True,
                                        revision=revision)
        return self.call("kvstub", "Range", request).count

    def hash_kv(self, revision: int) -> dict[str, Any]:
        try:
            response = self.call("maintenancestub", "HashKV", self.rpc.HashKVRequest(revision=revision))
        except EtcdError as exc:
            # A restore with --mark-compacted leaves the newest revision compacted, and etcd refuses HashKV at a
            # compacted revision until the next write; at revision 0 (the newest) it answers. Use that only when
            # the newest still is `revision`.
            if exc.code != "OUT_OF_RANGE":
                raise
            response = self.call("maintenancestub", "HashKV", self.rpc.HashKVRequest(revision=0))
            if response.header.revision != revision:
                raise
        return dict(hash=response.hash, compact_revision=response.compact_revision, revision=revision)


def _member_entry(member: Any) -> dict[str, Any]:
    return dict(
        id=member_hex(member.ID),
        name=member.name,
        peer_urls=list(member.peerURLs),
        client_urls=list(member.clientURLs),
        is_learner=bool(wire_fields(member.SerializeToString()).get(5, [0])[-1]),
    )


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _varint_field(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _length_delimited(number: int, data: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def member_hex(member_id: int) -> str:
    """Member and cluster ids as etcdctl prints them (hex), which JSON consumers cannot round."""
    return "%x" % member_id


def connect_all(params: dict[str, Any]) -> list[EtcdConnection]:
    """Validate the options, load the client and return one unopened connection per endpoint."""
    check_params(params)
    library = load_library(params["client_library"])
    return [EtcdConnection(url, params, library) for url in params["endpoints"]]
