"""etcdops.dr.prepare turns bare hosts (the system Python without the etcd client, no etcdutl on PATH) into hosts the
other playbooks run on: the client from a package index (node1) or a wheelhouse copied from the controller
(node2, node3), etcd's tools from a release archive checked by sha256, architecture and version, and host_vars for
later runs; check, apply, re-apply and check again. Bad inputs are refused before anything changes."""
import functools
import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import tarfile
import threading

import pytest
import yaml

from testbed import layout, services

HOST_PYTHON = "/usr/bin/python3"
WHEELHOUSE = layout.REPO / ".venv" / "wheelhouse"


def recap(run):
    """{host: {ok: n, changed: n, ...}} from the play recap."""
    found = {}
    for line in run.stdout.splitlines():
        match = re.match(r"^(\S+)\s+: (.*)$", line)
        if match and "changed=" in line:
            found[match.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(2))}
    return found


def release_archive(tmp_path, version="3.5.1", patch=None):
    """An etcd release archive (etcd-v<version>-linux-amd64.tar.gz) of the bed's own tools; `patch` edits each
    binary's bytes first."""
    top = "etcd-v%s-linux-amd64" % version
    path = tmp_path / (top + ".tar.gz")
    with tarfile.open(path, "w:gz", compresslevel=1) as archive:
        for name in ("etcdutl", "etcdctl"):
            data = (services.etcd_bin_dir() / name).read_bytes()
            source = tmp_path / name
            source.write_bytes(patch(data) if patch else data)
            archive.add(source, arcname="%s/%s" % (top, name))
            source.unlink()
    return str(path), hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def package_index(tmp_path_factory):
    """A PEP 503 simple index of the wheelhouse, served over HTTP on loopback; yields (url, requested paths)."""
    root = tmp_path_factory.mktemp("index")
    for wheel in WHEELHOUSE.glob("*.whl"):
        project = re.sub(r"[-_.]+", "-", wheel.name.split("-")[0]).lower()
        (root / "simple" / project).mkdir(parents=True, exist_ok=True)
        shutil.copy(wheel, root / "simple" / project / wheel.name)
        (root / "simple" / project / "index.html").write_text('<a href="%s">%s</a>\n' % (wheel.name, wheel.name))
    requested = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            requested.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield "http://127.0.0.1:%d/simple/" % server.server_address[1], requested
    server.shutdown()


def bare_inventory(bed, tmp_path, index_url=None):
    """The bed's etcd hosts as bare hosts: no interpreter named (discovery finds the system Python) and no etcd
    tools; each host prepares into dirs of its own (the hosts share one filesystem)."""
    inventory = yaml.safe_load(bed.inventory.read_text())
    del inventory["all"]["vars"]["ansible_python_interpreter"]
    etcd = inventory["all"]["children"]["etcd"]
    etcd["vars"].pop("etcd_etcdutl", None)
    etcd["vars"].pop("etcd_etcdctl", None)
    for name, host in etcd["hosts"].items():
        staging = tmp_path / "hosts" / name / "staging"
        staging.mkdir(parents=True)
        host.update(prepare_venv_dir=str(tmp_path / "hosts" / name / "venv"),
                    prepare_etcd_tools_dir=str(tmp_path / "hosts" / name / "bin"), prepare_staging_dir=str(staging))
        if index_url and name == "node1":
            host["prepare_pip_index_url"] = index_url
        else:
            host["prepare_wheelhouse"] = str(WHEELHOUSE)
    inventory["all"]["children"] = {"etcd": etcd}
    path = tmp_path / "inventory" / "hosts.yml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(inventory, sort_keys=False))
    return path


def test_bare_hosts_get_the_client_and_tools_and_then_run_a_backup(clean_backups, ansible, tmp_path, package_index):
    bed = clean_backups
    assert subprocess.run([HOST_PYTHON, "-c", "import grpc"], capture_output=True, check=False).returncode != 0, (
        "the system Python must lack the client for this test to mean anything")
    index_url, requested = package_index
    inventory = bare_inventory(bed, tmp_path, index_url)
    host_vars = inventory.parent / "host_vars"
    src, sha256 = release_archive(tmp_path)
    extra = {"prepare_etcd_tools_src": src, "prepare_etcd_tools_sha256": sha256,
             "prepare_host_vars_dir": str(host_vars)}
    hosts = tmp_path / "hosts"

    def prepare(check=False):
        run = ansible.playbook("etcdops.dr.prepare", "-i", str(inventory), check=check, extra_vars=extra)
        assert run.rc == 0, run.output
        return recap(run)

    planned = prepare(check=True)
    assert all(planned[m.name]["changed"] > 0 for m in bed.members), planned
    assert not host_vars.exists() and all(sorted(os.listdir(hosts / m.name)) == ["staging"] for m in bed.members), (
        "check mode changed nothing")

    done = prepare()
    for member in bed.members:
        assert done[member.name]["changed"] > 0
        venv_python = hosts / member.name / "venv" / "bin" / "python"
        subprocess.run([str(venv_python), "-c", "import pyetcd, grpc, paramiko, boto3, cryptography"], check=True)
        tools = hosts / member.name / "bin"
        for name in ("etcdutl", "etcdctl"):
            assert (tools / name).read_bytes() == (services.etcd_bin_dir() / name).read_bytes()
            assert oct((tools / name).stat().st_mode & 0o777) == "0o755"
        assert yaml.safe_load((host_vars / member.name / "etcdops_dr_prepare.yml").read_text()) == {
            "ansible_python_interpreter": str(venv_python),
            "etcd_etcdutl": str(tools / "etcdutl"), "etcd_etcdctl": str(tools / "etcdctl")}
        assert os.listdir(hosts / member.name / "staging") == [], "no archive or wheel stays behind"
    # node1 asked the index (the others installed from the wheelhouse, with no index).
    assert any(path.startswith("/simple/grpcio/") for path in requested), requested

    assert all(counts["changed"] == 0 for counts in prepare().values())
    assert all(counts["changed"] == 0 for counts in prepare(check=True).values())

    # A later run reads the host_vars: the backup runs on the hosts' prepared Python with the installed etcdutl.
    run = ansible.playbook("etcdops.dr.backup", "-i", str(inventory))
    assert run.rc == 0, run.output
    play = [{"hosts": "etcd", "gather_facts": False, "tasks": [
        {"name": "Run the module under test", "etcdops.dr.etcd_snapshot_info": {
            "path": "{{ etcd_backup_dir }}", "etcdutl": "{{ etcd_etcdutl }}"}, "ignore_errors": True},
    ]}]
    info = ansible.playbook(play, "-i", str(inventory))
    found = [snapshot for result in info.results.values() for snapshot in result["snapshots"]]
    assert len(found) == 1 and found[0]["status"] == "ok" and found[0]["tool"] == "etcdutl", info.results


def test_wrong_inputs_are_refused_before_anything_changes(live, ansible, tmp_path):
    bed = live
    inventory = bare_inventory(bed, tmp_path)
    tools_dir = tmp_path / "hosts" / "node1" / "bin"
    staging = tmp_path / "hosts" / "node1" / "staging"
    # The client is already there (the bed's Python): these runs exercise the tools' checks only.
    base = {"prepare_venv": False, "prepare_host_python": str(layout.VENV_PYTHON)}

    def refused(extra, *expected):
        run = ansible.playbook("etcdops.dr.prepare", "-i", str(inventory), "--limit", "node1",
                               extra_vars=dict(base, **extra))
        assert run.rc != 0, run.output
        for text in expected:
            assert text in run.output, run.output
        assert not tools_dir.exists() and os.listdir(staging) == [], "nothing was installed or left behind"

    src, sha256 = release_archive(tmp_path)
    refused({"prepare_etcd_tools_src": src, "prepare_etcd_tools_sha256": "0" * 64},
            "has sha256 %s, not the given %s: a wrong or damaged download" % (sha256, "0" * 64), "Nothing was changed")
    refused({"prepare_etcd_tools_src": src, "prepare_etcd_tools_sha256": "abc"},
            "prepare_etcd_tools_sha256 must be the sha256 (64 hex digits)")
    refused({"prepare_etcd_tools_src": src, "prepare_etcd_tools_sha256": sha256, "prepare_etcd_version": "3.4.23"},
            "etcdctl 3.5.1 from", "etcd-v3.5.1-linux-amd64.tar.gz does not match the cluster's etcd 3.4.23 (major.minor must be equal): give etcd "
            "v3.4.x's release archive")

    # The same tools built for arm64 (their ELF header says so) are refused on this x86_64 host.
    arm_dir = tmp_path / "arm"
    arm_dir.mkdir()
    arm, arm_sha256 = release_archive(arm_dir, patch=lambda data: data[:18] + (183).to_bytes(2, "little") + data[20:])
    refused({"prepare_etcd_tools_src": arm, "prepare_etcd_tools_sha256": arm_sha256},
            "is built for aarch64, this host is x86_64: give etcd's linux-amd64 archive")

    # No member answers and no version is given: the run says how to go on.
    unreachable = {"etcd_client_url": "https://127.0.0.1:1"}
    run = ansible.playbook("etcdops.dr.prepare", "-i", str(inventory), "--limit", "node1",
                           extra_vars=dict(base, prepare_etcd_tools_src=src, prepare_etcd_tools_sha256=sha256,
                                           **unreachable))
    assert run.rc != 0 and "no member of the cluster told its version" in run.output, run.output
    assert "give prepare_etcd_version" in run.output and not tools_dir.exists()

    # With the version given, the same run installs the tools (the archive named relative to the working directory).
    run = ansible.playbook("etcdops.dr.prepare", "-i", str(inventory), "--limit", "node1",
                           extra_vars=dict(base, prepare_etcd_tools_src=os.path.relpath(src),
                                           prepare_etcd_tools_sha256=sha256,
                                           prepare_etcd_version="3.5.0", **unreachable))
    assert run.rc == 0, run.output
    record = json.loads((tools_dir / ".etcdops-dr-tools.json").read_text())
    assert record["source_sha256"] == sha256 and sorted(record["tools"]) == ["etcdctl", "etcdutl"]


def test_the_role_installs_what_requirements_txt_lists():
    listed = [line.strip() for line in (layout.REPO / "requirements.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    defaults = yaml.safe_load((layout.REPO / "roles" / "prepare" / "defaults" / "main.yml").read_text())
    spec = yaml.safe_load((layout.REPO / "roles" / "prepare" / "meta" / "argument_specs.yml").read_text())
    assert defaults["prepare_pip_packages"] == listed
    assert spec["argument_specs"]["main"]["options"]["prepare_pip_packages"]["default"] == listed
