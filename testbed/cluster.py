"""Bring the test bed up and down, wait for health, reset data, and install the collection."""
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time

import yaml

from . import inventory, layout, pki, s3, services

VENV_BIN = layout.VENV_PYTHON.parent
MIB = 1024 * 1024
# The source name of the tmpfs mount_data_dir() puts at a member's data dir (as `mount` and /proc/mounts show it).
TMPFS_SOURCE = "etcdops-testbed-data"


def etcdctl(bed, *args, endpoints=None, check=True, timeout=60, client_cert=True, stdin=None):
    """Run etcdctl against the bed's members (default all) with the bed's CA and client certificate; `stdin`, an
    open binary file, feeds e.g. `put KEY` its value."""
    cmd = [str(services.etcd_bin_dir() / "etcdctl"), "--endpoints", ",".join(endpoints or bed.client_urls),
           "--cacert", str(bed.cacert)]
    if client_cert:
        cmd += ["--cert", str(bed.client_cert), "--key", str(bed.client_key)]
    cmd += args
    env = dict(os.environ, ETCDCTL_API="3")
    return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=timeout, env=env, stdin=stdin)


def put_random(bed, key, size, directory, endpoints=None, client_cert=True):
    """Put `size` incompressible bytes (at most 1.5 MiB, etcd's request limit) as `key`."""
    with tempfile.TemporaryFile(dir=directory) as value:
        value.write(os.urandom(size))
        value.seek(0)
        etcdctl(bed, "put", key, endpoints=endpoints, client_cert=client_cert, stdin=value)


def db_size(bed, member):
    return endpoint_status(bed, [member.client_url])[0]["Status"]["dbSize"]


def fill(bed, member, min_bytes):
    """Put incompressible 1 MiB values through `member` until its database holds `min_bytes`."""
    number = 0
    while db_size(bed, member) < min_bytes:
        for dummy in range(50):
            put_random(bed, f"bench/{number:06d}", MIB, bed.root, endpoints=[member.client_url])
            number += 1


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


def remove_restore_leftovers(bed):
    """What restores leave beside each member's data dir: kept and failed dirs, the journal, the staging dir; and
    inside a data dir that is a mount point, the kept, failed and staging dirs beside its member dir."""
    for member in bed.members:
        for path in [*member.root.glob("data.*"), *member.data_dir.glob("member.*")]:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink()


def is_mount_point(path):
    """Whether `path` is in this machine's mount table (bind mounts too, which os.path.ismount misses)."""
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        points = {line.split(" ")[4].replace("\\040", " ") for line in handle}
    return os.path.realpath(path) in points


def mount_data_dir(bed, member, size_bytes):
    """Put `member`'s data dir on a disk of its own, as real control planes often have it: with the member stopped,
    its data is copied onto a tmpfs of `size_bytes` mounted at the data dir, and the member started again there.
    The dir below the mount keeps the data it had (stale once the member runs on), unmount_data_dir() brings it up
    to date."""
    stop_member(bed, member)
    try:
        with tempfile.TemporaryDirectory(dir=bed.root) as saved:
            copy = os.path.join(saved, "data")
            shutil.copytree(member.data_dir, copy, symlinks=True)
            subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_bytes},mode=0700", TMPFS_SOURCE,
                            str(member.data_dir)], check=True)
            try:
                for name in os.listdir(copy):
                    shutil.move(os.path.join(copy, name), member.data_dir / name)
            except BaseException:
                subprocess.run(["umount", str(member.data_dir)], check=True)
                raise
    finally:
        start_member(bed, member)


def unmount_data_dir(bed, member):
    """Undo mount_data_dir(): with the member stopped, its member dir is copied from the tmpfs to the dir below the
    mount (what restores left beside it on the tmpfs goes with the tmpfs), the tmpfs unmounted, and the member started
    again on its data as it is now. Nothing to do when the data dir is no mount point."""
    if not is_mount_point(member.data_dir):
        return
    services.supervisorctl(bed, "stop", member.service, check=False)
    try:
        with tempfile.TemporaryDirectory(dir=bed.root) as saved:
            current = member.data_dir / "member"
            if current.is_dir():
                shutil.copytree(current, os.path.join(saved, "member"), symlinks=True)
            subprocess.run(["umount", str(member.data_dir)], check=True)
            if os.path.isdir(os.path.join(saved, "member")):
                shutil.rmtree(member.data_dir / "member", ignore_errors=True)
                shutil.move(os.path.join(saved, "member"), member.data_dir / "member")
    finally:
        start_member(bed, member)


@contextlib.contextmanager
def data_dir_on_tmpfs(bed, member, size_bytes=1024 * MIB):
    """`member` runs on a tmpfs mounted at its data dir for the duration (mount_data_dir, unmount_data_dir)."""
    mount_data_dir(bed, member, size_bytes)
    try:
        yield member.data_dir
    finally:
        unmount_data_dir(bed, member)


def clear_drill_group(bed):
    """The drill group as a new bed has it: every drill member stopped, no data dir, nothing beside it."""
    services.supervisorctl(bed, "stop", *[m.service for m in bed.drill_members], check=False)
    for member in bed.drill_members:
        for path in [member.data_dir, *member.root.glob("data.*")]:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            elif path.exists():
                path.unlink()


def drill_group_leftovers(bed):
    """What a drill left in the drill group: running members, data dirs and what restores put beside them."""
    status = services.supervisorctl(bed, "status", *[m.service for m in bed.drill_members], check=False).stdout
    running = [line.split()[0] for line in status.splitlines() if " RUNNING " in f" {line} "]
    files = [str(p) for m in bed.drill_members for p in [m.data_dir, *m.root.glob("data.*")] if p.exists()]
    return running + files


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
    if not kubelets_running(bed):
        _remove_manifests(bed)
    services.start_supervisord(bed)
    s3.provision(bed)
    wait_healthy(bed)


def down(bed):
    """Stop every process of the bed, including the SSH control masters Ansible left running; files stay (use
    --purge to remove them)."""
    services.stop_supervisord(bed)
    close_ssh_masters(bed)


def close_ssh_masters(bed):
    control_dir = bed.root / "ssh-control"
    if not control_dir.is_dir():
        return
    for socket in control_dir.iterdir():
        # `-O exit` asks the master behind the socket to end; the host name is not used but must be given.
        subprocess.run(["ssh", "-o", f"ControlPath={socket}", "-O", "exit", "localhost"],
                       capture_output=True, timeout=30, check=False)


def purge(bed):
    down(bed)
    shutil.rmtree(bed.root, ignore_errors=True)


def run_as_static_pods(bed):
    """Hand every member from its supervisor program to a kubelet stand-in that runs its static pod."""
    for member in bed.members:
        services.supervisorctl(bed, "stop", member.service)
        member.manifest_dir.mkdir(parents=True, exist_ok=True)
        (member.held_manifest_dir / "etcd.yaml").unlink(missing_ok=True)
        (member.manifest_dir / "etcd.yaml").write_text(yaml.safe_dump(services.static_pod_manifest(member)))
    services.supervisorctl(bed, "start", *[m.kubelet_service for m in bed.members])
    wait_healthy(bed)


def run_as_supervisor_programs(bed):
    """Undo run_as_static_pods: stop the kubelets (and with them the pods), start the programs."""
    services.supervisorctl(bed, "stop", *[m.kubelet_service for m in bed.members])
    _remove_manifests(bed)
    services.supervisorctl(bed, "start", *[m.service for m in bed.members])
    wait_healthy(bed)


@contextlib.contextmanager
def _rewritten_program(bed, member, wait, **program):
    """While inside, the member's supervisor program as write_supervisor(**program) has it (started by supervisor's
    update, and waited for when `wait`); afterwards it runs `etcd --config-file` again, started and healthy."""
    services.supervisorctl(bed, "stop", member.service)
    services.write_supervisor(bed, **program)
    # update re-reads the changed program and, with autostart, starts it.
    services.supervisorctl(bed, "update")
    try:
        if wait:
            wait_healthy(bed, [member])
        yield
    finally:
        services.supervisorctl(bed, "stop", member.service, check=False)
        services.write_supervisor(bed)
        services.supervisorctl(bed, "update")
        start_member(bed, member)


def bad_flag_in_program(bed, member, flag="--no-such-flag"):
    """Give a member's supervisor program a flag etcd refuses; it is stopped (FATAL) while inside."""
    return _rewritten_program(bed, member, False, extra_args={member.name: flag})


def program_command(bed, member, command):
    """Run a member's supervisor program with another command while inside (waited for when it runs etcd)."""
    return _rewritten_program(bed, member, True, commands={member.name: command})


def kubelets_running(bed):
    status = services.supervisorctl(bed, "status", *[m.kubelet_service for m in bed.members], check=False).stdout
    return "RUNNING" in status


def ensure_running(bed):
    """Start any stopped member, under whichever manager runs the members now, and wait for health."""
    static = kubelets_running(bed)
    for member in bed.members:
        if static:
            held = member.held_manifest_dir / "etcd.yaml"
            if held.exists() and not (member.manifest_dir / "etcd.yaml").exists():
                held.rename(member.manifest_dir / "etcd.yaml")
        elif "RUNNING" not in services.supervisorctl(bed, "status", member.service, check=False).stdout:
            services.supervisorctl(bed, "start", member.service, check=False)
    wait_healthy(bed)


def _remove_manifests(bed):
    """Members run as supervisor programs: a manifest left behind would make `auto` pick static_pod."""
    for member in bed.members:
        (member.manifest_dir / "etcd.yaml").unlink(missing_ok=True)
        (member.held_manifest_dir / "etcd.yaml").unlink(missing_ok=True)


def listener_pid(member):
    """The pid of the process listening on the member's client port, from ss (not from the collection)."""
    out = subprocess.run(["ss", "-Hltnp", f"src {member.address}:{layout.CLIENT_PORT}"], capture_output=True,
                         text=True, check=True).stdout
    return out.split("pid=")[1].split(",")[0] if "pid=" in out else None


def inventory_with(bed, path, host, **host_vars):
    """A copy of the bed's inventory at `path` in which `host` has `host_vars` changed."""
    doc = yaml.safe_load(bed.inventory.read_text())
    doc["all"]["children"]["etcd"]["hosts"][host].update(host_vars)
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def inventory_edited(bed, path, hosts=None, drop=(), **host_vars):
    """A copy of the bed's inventory at `path` in which each of `hosts` (default: every member) has the variables in
    `drop` removed and `host_vars` set."""
    doc = yaml.safe_load(bed.inventory.read_text())
    for host in hosts or [m.name for m in bed.members]:
        entry = doc["all"]["children"]["etcd"]["hosts"][host]
        for name in drop:
            entry.pop(name, None)
        entry.update(host_vars)
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def backup_files(member):
    """Names in a member's backup dir, sorted."""
    return sorted(os.listdir(member.backup_dir)) if member.backup_dir.exists() else []
