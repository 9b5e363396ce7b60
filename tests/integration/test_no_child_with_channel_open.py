"""gRPC's fork handlers sometimes kill a child process started while a channel is open (SIGABRT). The one command
seam refuses to start one then; with the channel closed, many tool runs in a row all succeed. Against a live member,
with each real client library, in a process of its own (as a module runs)."""
import json
import os
import subprocess

import pytest

from testbed import layout, services

RUNS = 200
PROBE = r"""
import json, subprocess, sys
from ansible_collections.etcdops.dr.plugins.module_utils._argspec import CONNECTION
from ansible_collections.etcdops.dr.plugins.module_utils._etcd import client as _client
from ansible_collections.etcdops.dr.plugins.module_utils._host import run as _run

library, url, cacert, cert, key, tool, runs = sys.argv[1:8]


class Host:
    # What AnsibleModule.run_command does, for the seam: run a list, return (rc, stdout, stderr).
    started = 0

    def run_command(self, cmd, check_rc=False, environ_update=None):
        Host.started += 1
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        return done.returncode, done.stdout, done.stderr


params = CONNECTION.defaults()
params.update(endpoints=[url], cacert=cacert, cert=cert, key=key, client_library=library)
connection = _client.EtcdConnection(url, params, _client.load_library(library)).open()
report = {"revision": connection.status()["revision"]}
try:
    _run.run(Host(), [tool, "version"])
    report["refused"] = None
except _run.ChannelOpenError as exc:
    report["refused"] = str(exc)
report["started_while_open"] = Host.started
connection.close()
report["rcs"] = [_run.run(Host(), [tool, "version"], check=False).rc for dummy in range(int(runs))]
print(json.dumps(report))
"""


@pytest.mark.parametrize("library", ["pyetcd", "etcd3"])
def test_no_tool_runs_while_a_channel_is_open_and_many_run_after_it_closed(live, library):
    member = live.members[0]
    env = dict(os.environ, PYTHONPATH=str(layout.link_checkout()))
    done = subprocess.run([str(layout.VENV_PYTHON), "-c", PROBE, library, member.client_url, str(live.cacert),
                           str(live.client_cert), str(live.client_key), str(services.etcd_bin_dir() / "etcdutl"),
                           str(RUNS)], capture_output=True, text=True, env=env, check=False, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["revision"] > 0
    assert "etcdutl was to run while 1 gRPC channel(s) to etcd are open" in report["refused"]
    assert report["started_while_open"] == 0
    # A child killed by SIGABRT shows rc -6.
    assert report["rcs"] == [0] * RUNS, sorted(set(report["rcs"]))
