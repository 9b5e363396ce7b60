"""A stand-in supervisord for unit tests: a real XML-RPC server on a unix socket, in a thread, with the methods the
supervisor backend calls and supervisor's own fault codes. It records each call; its programs' states are set by
the test. The real supervisord runs in the integration tests."""
import os
import shutil
import socketserver
import tempfile
import threading
import xmlrpc.client
import xmlrpc.server

BAD_NAME, ALREADY_STARTED, NOT_RUNNING = 10, 60, 70


class _Handler(xmlrpc.server.SimpleXMLRPCRequestHandler):
    rpc_paths = ("/RPC2",)
    disable_nagle_algorithm = False  # a TCP option; this is a unix socket

    def address_string(self):
        return "unix"


class _Server(socketserver.UnixStreamServer, xmlrpc.server.SimpleXMLRPCDispatcher):
    """What xmlrpc.server.SimpleXMLRPCServer is, on a unix socket."""

    def __init__(self, path):
        self.logRequests = False
        xmlrpc.server.SimpleXMLRPCDispatcher.__init__(self, allow_none=True)
        socketserver.UnixStreamServer.__init__(self, path, _Handler)


class Supervisord:
    """Programs: {name: statename}. `calls` lists (method, args) as received."""

    def __init__(self, programs, logs=None):
        self.programs = dict(programs)
        self.logs = logs or {}
        self.calls = []
        # A short dir: a unix socket's path must fit in 108 bytes, which a pytest tmp_path may not.
        self.directory = tempfile.mkdtemp(prefix="supervisord-")
        self.socket_path = os.path.join(self.directory, "supervisor.sock")
        self.conf = os.path.join(self.directory, "supervisord.conf")
        with open(self.conf, "w") as handle:
            handle.write("[unix_http_server]\nfile=%(here)s/supervisor.sock\n\n"
                         "[supervisorctl]\nserverurl=unix://%(here)s/supervisor.sock\n")
        self.server = _Server(self.socket_path)
        for name in ("getProcessInfo", "startProcess", "stopProcess", "tailProcessStdoutLog", "tailProcessStderrLog"):
            self.server.register_function(getattr(self, "_" + name), "supervisor." + name)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def stop_serving(self):
        """As a supervisord that died: its socket file is left, nobody listens on it."""
        self.server.shutdown()
        self.server.server_close()

    def close(self):
        self.stop_serving()
        shutil.rmtree(self.directory, ignore_errors=True)

    def _known(self, name):
        if name not in self.programs:
            raise xmlrpc.client.Fault(BAD_NAME, "BAD_NAME: " + name)

    def _getProcessInfo(self, name):
        self.calls.append(("getProcessInfo", (name,)))
        self._known(name)
        word = self.programs[name]
        return dict(name=name, statename=word, description="pid 12, uptime 0:01:00" if word == "RUNNING" else "")

    def _startProcess(self, name, wait):
        self.calls.append(("startProcess", (name, wait)))
        self._known(name)
        if self.programs[name] == "RUNNING":
            raise xmlrpc.client.Fault(ALREADY_STARTED, "ALREADY_STARTED: " + name)
        self.programs[name] = "STARTING"
        return True

    def _stopProcess(self, name, wait):
        self.calls.append(("stopProcess", (name, wait)))
        self._known(name)
        if self.programs[name] not in ("RUNNING", "STARTING"):
            raise xmlrpc.client.Fault(NOT_RUNNING, "NOT_RUNNING: " + name)
        self.programs[name] = "STOPPED"
        return True

    def _tailProcessStdoutLog(self, name, offset, length):
        self.calls.append(("tailProcessStdoutLog", (name, offset, length)))
        text = self.logs.get(name, "")
        return [text, len(text), False]

    def _tailProcessStderrLog(self, name, offset, length):
        self.calls.append(("tailProcessStderrLog", (name, offset, length)))
        return ["", 0, False]
