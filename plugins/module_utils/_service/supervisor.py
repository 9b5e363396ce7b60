# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Talk to supervisord as supervisorctl does - XML-RPC at the [supervisorctl] serverurl of its configuration - but
from this process: no Python start of supervisorctl per question, and a start that does not wait the program's
startsecs (the caller waits for what it needs, as with systemctl --no-block)."""
from __future__ import annotations

import configparser
import http.client
import os
import socket
import urllib.parse
import xmlrpc.client
from typing import Any

from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError

DEFAULT_SERVER_URL = "http://localhost:9001"

# supervisor's xmlrpc.Faults
BAD_NAME = 10
ALREADY_STARTED = 60
NOT_RUNNING = 70


class SupervisorError(EtcdOpsError):
    """supervisord cannot be found or reached, or refused a call; msg says which and how to fix it."""


def server_of(conf: str) -> tuple[str, str | None, str | None]:
    """(server URL, username, password) from the [supervisorctl] section of `conf`, read as supervisorctl reads it:
    %(here)s is the file's directory, %(ENV_X)s the environment's X."""
    parser = configparser.RawConfigParser(inline_comment_prefixes=(";", "#"), strict=False, interpolation=None)
    try:
        with open(conf) as handle:
            parser.read_file(handle, source=conf)
    except OSError as exc:
        raise SupervisorError("cannot read supervisord's configuration %s: %s: set supervisor_conf to the file "
                              "supervisord runs with." % (conf, exc.strerror or exc)) from None
    except configparser.Error as exc:
        raise SupervisorError("supervisord's configuration %s cannot be parsed: %s" % (conf, exc)) from None
    if not parser.has_section("supervisorctl"):
        raise SupervisorError("supervisord's configuration %s has no [supervisorctl] section, so neither supervisorctl "
                              "nor this module can tell where supervisord listens: add one with serverurl (such as "
                              "unix:///run/supervisor.sock), or set supervisor_conf to the right file." % conf)
    expansions = dict(("ENV_" + key, value) for key, value in os.environ.items())
    expansions["here"] = os.path.dirname(os.path.abspath(conf))
    try:
        url = parser.get("supervisorctl", "serverurl", fallback=DEFAULT_SERVER_URL) % expansions
    except (KeyError, TypeError, ValueError) as exc:
        raise SupervisorError("serverurl in %s cannot be expanded (%s): write it out." % (conf, exc)) from None
    return (url, parser.get("supervisorctl", "username", fallback=None),
            parser.get("supervisorctl", "password", fallback=None))


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class _Transport(xmlrpc.client.Transport):
    def __init__(self, socket_path: str | None, timeout: float) -> None:
        super().__init__()
        self.socket_path = socket_path
        self.timeout = timeout

    def make_connection(self, host: str | tuple[str, dict[str, str]]) -> http.client.HTTPConnection:
        if self.socket_path:
            return _UnixConnection(self.socket_path, self.timeout)
        connection = super().make_connection(host)
        connection.timeout = self.timeout
        return connection


class Supervisord:
    """XML-RPC calls to the supervisord that `conf` names; each call waits at most `timeout` seconds."""

    def __init__(self, conf: str, timeout: float) -> None:
        self.conf = conf
        self.url, username, password = server_of(conf)
        credentials = ""
        if username:
            credentials = urllib.parse.quote(username, safe="") + ":" + urllib.parse.quote(password or "", safe="") + "@"
        if self.url.startswith("unix://"):
            transport = _Transport(self.url[len("unix://"):], timeout)
            endpoint = "http://%slocalhost/RPC2" % credentials
        else:
            parts = urllib.parse.urlsplit(self.url)
            transport = _Transport(None, timeout)
            endpoint = "%s://%s%s/RPC2" % (parts.scheme, credentials, parts.netloc)
        self.proxy = xmlrpc.client.ServerProxy(endpoint, transport=transport, allow_none=True)

    def call(self, method: str, *args: Any, allowed: tuple[int, ...] = ()) -> Any:
        """The result of supervisor.<method>(*args); None for a fault whose code is in `allowed`."""
        try:
            return getattr(self.proxy.supervisor, method)(*args)
        except xmlrpc.client.Fault as fault:
            if fault.faultCode in allowed:
                return None
            raise SupervisorError("supervisord at %s refused %s%r: %s" % (self.url, method, args, fault.faultString))
        except xmlrpc.client.ProtocolError as exc:
            raise SupervisorError("supervisord at %s answered %s %s to %s%s" % (
                self.url, exc.errcode, exc.errmsg, method,
                " (username and password in [supervisorctl] of %s?)" % self.conf if exc.errcode == 401 else ""))
        except (OSError, http.client.HTTPException) as exc:
            raise SupervisorError("cannot reach supervisord at %s (serverurl of %s): %s. Check that supervisord runs "
                                  "and supervisor_conf is its configuration." % (self.url, self.conf, exc)) from None
