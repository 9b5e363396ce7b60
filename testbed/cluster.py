"""Bring the test bed up and down, wait for health, reset data, and install the collection."""
import json
import os
import shutil
import subprocess
import time

from . import inventory, layout, pki, services

VENV_BIN = layout.VENV_PYTHON.parent


def etcdctl(bed, *args, endpoints=None, check=True, timeout=60, client_cert=True):
    """Run etcdctl against the bed's members (default all) with the bed's CA and client certificate."""
    cmd = [str(services.etcd_bin_dir() / "etcdctl"), "--endpoints", ",".join(endpoints or bed.client_urls),
           "--cacert", str(bed.cacert)]
    if client_cert:
        cmd += ["--cert", str(bed.client_cert), "--key", str(bed.client_key)]
    cmd += args
    env = dict(os.environ, ETCDCTL_API="3")
    return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=timeout, env=env)


def endpoint_status(bed, endpoints=None):
    out = etcdctl(bed, "endpoint", "status", "-w", "json", endpoints=endpoints).stdout
    return json.loads(out)


def wait_healthy(bed, members=None, timeout=60):
    """Wait until every given member (default all) answers a health check."""
    wait_healthy_urls(bed, [m.client_url for m in (members or bed.members)], timeout=timeout)


def wait_healthy_urls(bed, endpoints, timeout=60, client_cert=True):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        run = etcdctl(bed, "endpoint", "health", "-w", "json", endpoints=endpoints, check=False, timeout=20,
                      client_cert=client_cert)
        try:
            if run.returncode == 0 and all(e["health"] for e in json.loads(run.stdout)):
                return
        except ValueError:
            pass
        last = run.stderr.strip() or run.stdout.strip()
        time.sleep(0.3)
    raise RuntimeError(f"etcd members {endpoints} not healthy after {timeout}s: {last}")


def reset(bed):
    """Delete every key: tests reset data, not processes."""
    etcdctl(bed, "del", "", "--from-key")


def start_member(bed, member):
    services.supervisorctl(bed, "start", member.service, check=False)
    wait_healthy(bed, [member])


def stop_member(bed, member):
    services.supervisorctl(bed, "stop", member.service)


def install_collection(bed):
    """Build the collection tarball and install it where ansible.cfg looks, as a user would."""
    dist = bed.root / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    subprocess.run([str(VENV_BIN / "ansible-galaxy"), "collection", "build", "--force", "--output-path", str(dist),
                    str(layout.REPO)], check=True, capture_output=True, text=True)
    tarball = next(dist.glob("etcdops-dr-*.tar.gz"))
    subprocess.run([str(VENV_BIN / "ansible-galaxy"), "collection", "install", "--force", "--offline",
                    "-p", str(bed.collections_path), str(tarball)], check=True, capture_output=True, text=True)
    return tarball


def up(bed):
    """Create what is missing and start everything; safe to run when already up."""
    bed.root.mkdir(parents=True, exist_ok=True)
    pki.create(bed, layout.SPARE_ADDRESS)
    services.write_ssh(bed)
    services.write_supervisor(bed)
    inventory.write(bed)
    services.start_supervisord(bed)
    wait_healthy(bed)


def down(bed):
    """Stop every process of the bed; files stay (use --purge to remove them)."""
    services.stop_supervisord(bed)


def purge(bed):
    down(bed)
    shutil.rmtree(bed.root, ignore_errors=True)
