"""Error mapping of the shared etcd client layer, through its one seam: the client library object
whose gRPC stubs send the requests (faked here), and the TCP dial before it."""
import os
import socket
import subprocess
import sys
import types

import grpc
import pytest

from ansible_collections.etcdops.dr.plugins.module_utils._etcd import client as _client
from ansible_collections.etcdops.dr.plugins.module_utils._host import run as _run
from ansible_collections.etcdops.dr.plugins.module_utils._etcd.proto_fields import wire_fields

PARAMS = dict(endpoints=["https://10.0.0.1:2379"], cacert=None, cert=None, key=None, user=None, password=None,
              dial_timeout=1, command_timeout=2, client_library="auto")


class FakeRpcError(grpc.RpcError):
    def __init__(self, code, details):
        super().__init__(details)
        self._code = code
        self._details = details

    def code(self):
        return self._code

    def details(self):
        return self._details


class FakeStub:
    def __init__(self, error):
        self.error = error
        self.calls = []

    def __getattr__(self, method):
        def send(request, timeout, credentials=None, metadata=None):
            self.calls.append((method, timeout))
            raise self.error
        return send


def fake_library(error=None, init_error=None):
    def client(**kwargs):
        if init_error:
            raise init_error
        return types.SimpleNamespace(maintenancestub=FakeStub(error), clusterstub=FakeStub(error),
                                     call_credentials=None, metadata=None, close=lambda: None, kwargs=kwargs)
    rpc = types.SimpleNamespace(StatusRequest=lambda: "status-request")
    return ("pyetcd", types.SimpleNamespace(client=client), rpc)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    monkeypatch.setattr(_client, "dial", lambda host, port, timeout: None)


def status_error(code, details, **params):
    conn = _client.EtcdConnection("https://10.0.0.1:2379", dict(PARAMS, **params), fake_library(FakeRpcError(code, details)))
    with conn:
        with pytest.raises(_client.EtcdError) as err:
            conn.status()
    return err.value


TLS = "failed to connect to all addresses; last error: UNKNOWN: ipv4:10.0.0.1:2379: Tls handshake failed (TSI_PROTOCOL_FAILURE): "


@pytest.mark.parametrize("details, params, expected", [
    (TLS + "SSL_ERROR_SSL: CERTIFICATE_VERIFY_FAILED: unable to get local issuer certificate", {"cacert": "/ca.crt"},
     "not signed by the CA in cacert (/ca.crt)"),
    (TLS + "SSL_ERROR_SSL: CERTIFICATE_VERIFY_FAILED: unable to get local issuer certificate",
     {"cacert": "/proc/self/fd/5"}, "not signed by the CA in cacert (the text of cacert_pem)"),
    (TLS + "SSLV3_ALERT_BAD_CERTIFICATE", {}, "requires a client certificate"),
    (TLS + "SSLV3_ALERT_BAD_CERTIFICATE", {"cert": "/proc/self/fd/6", "key": "/proc/self/fd/7"},
     "rejected the client certificate the text of cert_pem"),
    (TLS + "SSLV3_ALERT_BAD_CERTIFICATE", {"cert": "/c.crt", "key": "/c.key"}, "rejected the client certificate /c.crt"),
    (TLS + "TLSV1_ALERT_UNKNOWN_CA", {"cert": "/c.crt", "key": "/c.key"}, "rejected the client certificate"),
    ("ipv4:10.0.0.1:2379: Failed to connect to remote host: Connection refused", {}, "connection refused"),
])
def test_tls_and_connection_failures_are_explained(details, params, expected):
    error = status_error(grpc.StatusCode.UNAVAILABLE, details, **params)
    assert expected in error.msg
    assert error.msg.startswith("etcd endpoint https://10.0.0.1:2379: ")
    assert error.code == "UNAVAILABLE" and error.details == details


def test_wrong_password_in_constructor_is_explained():
    error = FakeRpcError(grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: authentication failed, invalid user ID or password")
    conn = _client.EtcdConnection("https://10.0.0.1:2379", dict(PARAMS, user="root", password="x"),
                                  fake_library(init_error=error))
    with pytest.raises(_client.EtcdError) as err:
        conn.open()
    assert "rejected user 'root' or its password" in err.value.msg
    assert "'x'" not in err.value.msg


@pytest.mark.parametrize("code, details, expected", [
    (grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded", "no answer within command_timeout (2s)"),
    (grpc.StatusCode.FAILED_PRECONDITION, "etcdserver: authentication is not enabled", "authentication is not enabled"),
    (grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: user name is empty", "authentication is enabled"),
    (grpc.StatusCode.PERMISSION_DENIED, "etcdserver: permission denied", "authentication is enabled"),
    (grpc.StatusCode.UNAVAILABLE, "something new", "unreachable (something new)"),
    (grpc.StatusCode.INTERNAL, "boom", "request failed: INTERNAL boom"),
])
def test_server_answers_are_explained(code, details, expected):
    assert expected in status_error(code, details).msg


def test_requests_carry_the_command_timeout():
    stub_error = FakeRpcError(grpc.StatusCode.INTERNAL, "x")
    with _client.EtcdConnection("https://10.0.0.1:2379", PARAMS, fake_library(stub_error)) as conn:
        with pytest.raises(_client.EtcdError):
            conn.status()
        assert conn._client.maintenancestub.calls == [("Status", 2)]


def test_plain_http_endpoint_gets_no_tls_files():
    with _client.EtcdConnection("http://[::1]:2379", dict(PARAMS, cacert="/ca.crt"), fake_library()) as conn:
        assert conn._client.kwargs["host"] == "[::1]"
        assert conn._client.kwargs["ca_cert"] is None


class CommandHost:
    """A module whose one command seam records what it would run."""

    def __init__(self):
        self.ran = []

    def run_command(self, cmd, check_rc=False, environ_update=None):
        self.ran.append(cmd)
        return 0, "", ""


def test_no_command_runs_while_a_channel_is_open():
    host = CommandHost()
    conn = _client.EtcdConnection("https://10.0.0.1:2379", PARAMS, fake_library()).open()
    try:
        with pytest.raises(_run.ChannelOpenError, match="etcdutl was to run while 1 gRPC channel"):
            _run.run(host, ["etcdutl", "version"])
        assert host.ran == []
    finally:
        conn.close()
    _run.run(host, ["etcdutl", "version"])
    assert host.ran == [["etcdutl", "version"]]


@pytest.mark.parametrize("error, expected", [
    (ConnectionRefusedError(111, "Connection refused"), "connection refused"),
    (socket.timeout("timed out"), "no TCP connection within dial_timeout (1s)"),
    (socket.gaierror(-2, "Name or service not known"), "cannot connect"),
])
def test_dial_failures_are_explained(monkeypatch, error, expected):
    def dial(host, port, timeout):
        raise error
    monkeypatch.setattr(_client, "dial", dial)
    with pytest.raises(_client.EtcdError) as err:
        _client.EtcdConnection("https://10.0.0.1:2379", PARAMS, fake_library()).open()
    assert expected in err.value.msg


@pytest.mark.parametrize("url, expected", [
    ("10.0.0.1:2379", "must start with https:// or http://"),
    ("https://10.0.0.1", "has no port"),
    ("https://10.0.0.1:70000", "is not a valid URL"),
    ("https://:2379", "has no host"),
    ("https://10.0.0.1:2379/v3", "must not have a path"),
    ("", "is empty"),
])
def test_malformed_endpoints_are_refused(url, expected):
    with pytest.raises(_client.EtcdError) as err:
        _client.parse_endpoint(url)
    assert expected in err.value.msg


def test_tls_endpoint_without_cacert_is_refused_before_connecting():
    with pytest.raises(_client.EtcdError) as err:
        _client.check_params(dict(PARAMS))
    assert "cacert is not set" in err.value.msg


def test_missing_certificate_file_is_named(tmp_path):
    ca = tmp_path / "ca.crt"
    ca.write_text("x")
    with pytest.raises(_client.EtcdError) as err:
        _client.check_params(dict(PARAMS, cacert=str(ca), cert=str(tmp_path / "nope.crt"), key=str(ca)))
    assert "cert file %s does not exist" % (tmp_path / "nope.crt") in err.value.msg


PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"


def test_pem_text_is_given_to_the_client_as_an_in_memory_file_checked_once():
    params = dict(PARAMS, cacert_pem=PEM, cert_pem=PEM, key_pem=PEM.replace("CERTIFICATE", "PRIVATE KEY"))
    _client.check_params(params)
    for option in ("cacert", "cert", "key"):
        path = params[option]
        assert path.startswith("/proc/self/fd/") and params[option + "_pem"] is None
        target = os.readlink(path)
        assert target.startswith("/memfd:etcdops-%s" % option), target
        with open(path, encoding="ascii") as handle:
            assert handle.read().endswith("-----END %s-----\n" % ("PRIVATE KEY" if option == "key" else "CERTIFICATE"))
    first = {option: params[option] for option in ("cacert", "cert", "key")}
    _client.check_params(params)   # a second check (service control, then the client) keeps the same files
    assert {option: params[option] for option in ("cacert", "cert", "key")} == first


@pytest.mark.parametrize("extra, expected", [
    (dict(cacert="/etc/ca.crt", cacert_pem=PEM), "both cacert and cacert_pem are set"),
    (dict(cacert_pem="/etc/kubernetes/pki/etcd/ca.crt"), "cacert_pem is not PEM text (no -----BEGIN line)"),
    (dict(cacert_pem=PEM, cert_pem=PEM), "a client certificate needs its key"),
])
def test_wrong_pem_text_is_refused_before_connecting(extra, expected):
    with pytest.raises(_client.EtcdError) as err:
        _client.check_params(dict(PARAMS, **extra))
    assert expected in err.value.msg


def test_missing_library_names_the_package(monkeypatch):
    def refuse(name):
        raise ImportError("No module named %r" % name)
    monkeypatch.setattr(_client.importlib, "import_module", refuse)
    with pytest.raises(_client.ClientLibraryMissing) as err:
        _client.load_library("auto")
    assert "etcd-sdk-python" in err.value.msg and "etcd3" in err.value.msg and "pip install" in err.value.msg
    with pytest.raises(_client.ClientLibraryMissing) as err:
        _client.load_library("etcd3")
    assert "etcd-sdk-python" not in err.value.msg


LOAD_ONE = """
import sys
from ansible_collections.etcdops.dr.plugins.module_utils._etcd import client
loaded, module, rpc = client.load_library(sys.argv[1])
assert loaded == sys.argv[1] and hasattr(module, "client") and hasattr(rpc, "HashKVRequest"), loaded
print("loaded", loaded)
"""


def test_both_real_libraries_load():
    # Each in a Python of its own, as a module run loads one: etcd3's generated code and etcd-sdk-python's register
    # the same .proto files, so which protobuf implementation a process uses depends on which it imported first.
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(_client.__file__)))))
    for name in ("pyetcd", "etcd3"):
        done = subprocess.run([sys.executable, "-c", LOAD_ONE, name], capture_output=True, text=True, check=False,
                              env=dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.dirname(root)))))
        assert done.returncode == 0 and done.stdout.strip() == "loaded " + name, done.stderr


def test_wire_fields_reads_fields_the_generated_code_lacks():
    # StatusResponse with dbSize(3)=20480, dbSizeInUse(9)=16384, errors(8)="NOSPACE", isLearner(10)=1
    data = bytes([0x18]) + bytes([0x80, 0xA0, 0x01]) + bytes([0x48, 0x80, 0x80, 0x01]) \
        + bytes([0x42, 7]) + b"NOSPACE" + bytes([0x50, 1]) + bytes([0x0D, 1, 2, 3, 4])
    fields = wire_fields(data)
    assert fields[3] == [20480] and fields[9] == [16384] and fields[8] == [b"NOSPACE"] and fields[10] == [1]
    with pytest.raises(ValueError):
        wire_fields(bytes([0x48, 0x80]))
