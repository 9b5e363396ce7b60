"""Integration fixtures: the live 3-member test bed and a runner for real ansible-playbook runs over SSH."""
import json
import os
import shutil
import subprocess

import pytest
import yaml

from testbed import cluster, layout

ANSIBLE_PLAYBOOK = str(layout.VENV_PYTHON.parent / "ansible-playbook")
# A test-only callback saves what module() runs return on each host (tests/integration/callback).
CALLBACK_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "callback")
MODULE_TASK = "Run the module under test"
CONNECTION_DEFAULTS = {
    "endpoints": "{{ groups['etcd'] | map('extract', hostvars, 'etcd_client_url') | list }}",
    "cacert": "{{ etcd_cacert }}",
    "cert": "{{ etcd_cert }}",
    "key": "{{ etcd_key }}",
}


class Run:
    def __init__(self, proc, results):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.results = results

    @property
    def output(self):
        return self.stdout + self.stderr


class Ansible:
    """Runs ansible-playbook against the test bed's inventory, as a user would."""

    def __init__(self, bed, tmp_path):
        self.bed = bed
        self.tmp = tmp_path

    def env(self):
        return dict(os.environ, ANSIBLE_CONFIG=str(self.bed.ansible_cfg), ANSIBLE_NOCOLOR="1",
                    ANSIBLE_FORCE_COLOR="0", ANSIBLE_CALLBACK_PLUGINS=CALLBACK_DIR,
                    ANSIBLE_CALLBACKS_ENABLED="save_module_results,interrupt_before_task", ETCDOPS_SAVE_DIR=str(self.tmp),
                    ETCDOPS_SAVE_TASK=MODULE_TASK)

    def command(self, playbook, *args, check=False, extra_vars=None):
        """The ansible-playbook command line for a playbook (a path, or a list of plays written to a file first)."""
        if not isinstance(playbook, (str, os.PathLike)):
            path = self.tmp / "playbook.yml"
            path.write_text(yaml.safe_dump(playbook, sort_keys=False))
            playbook = path
        cmd = [ANSIBLE_PLAYBOOK, str(playbook), *args]
        if check:
            cmd.append("--check")
        if extra_vars:
            cmd += ["-e", json.dumps(extra_vars)]
        return cmd

    def start(self, playbook, *args, extra_vars=None, env=None, output=None):
        """Start a playbook in its own process group (to kill the whole controller at once); output to a file."""
        return subprocess.Popen(self.command(playbook, *args, extra_vars=extra_vars), stdout=output,
                                stderr=subprocess.STDOUT, env=dict(self.env(), **(env or {})), start_new_session=True)

    def playbook(self, playbook, *args, check=False, extra_vars=None, env=None):
        """Run a playbook (a path, or a list of plays written to a file first)."""
        cmd = self.command(playbook, *args, check=check, extra_vars=extra_vars)
        proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(self.env(), **(env or {})), timeout=600,
                              check=False)
        results = {}
        for path in self.tmp.glob("result-*.json"):
            results[path.stem[len("result-"):]] = json.loads(path.read_text())
            path.unlink()
        return Run(proc, results)

    def module(self, module, args=None, hosts="etcd", check=False, host_vars=None, defaults=True):
        """Run one module on `hosts`; results[host] is what the module returned there."""
        task = {"name": MODULE_TASK, module: args or {}, "ignore_errors": True}
        if host_vars:
            task["vars"] = host_vars
        play = {
            "hosts": hosts, "gather_facts": False,
            "module_defaults": {"group/etcdops.dr.etcd": CONNECTION_DEFAULTS} if defaults else {},
            "tasks": [task],
        }
        return self.playbook([play], check=check)


@pytest.fixture(scope="session")
def bed():
    """The test bed, up once per session; its processes are stopped at the end."""
    the_bed = layout.bed()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # A bed a killed worker left runs in that worker's network namespace, out of reach of this one's (its
        # supervisord still answers on its unix socket): stop it, and start afresh here.
        cluster.down(the_bed)
    cluster.up(the_bed)
    cluster.install_collection(the_bed)
    yield the_bed
    if os.environ.get("ETCDOPS_KEEP_TESTBED") != "1":
        cluster.down(the_bed)


@pytest.fixture
def live(bed):
    """The test bed with every member running and no keys (data reset, processes kept)."""
    cluster.ensure_running(bed)
    cluster.reset(bed)
    return bed


@pytest.fixture
def clean_backups(live):
    """The live bed with every member's backup dir empty."""
    for member in live.members:
        for name in cluster.backup_files(member):
            path = member.backup_dir / name
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
    return live


@pytest.fixture
def ansible(bed, tmp_path):
    return Ansible(bed, tmp_path)
