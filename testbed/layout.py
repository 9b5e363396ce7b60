"""Where the test bed keeps its files, and who its hosts are."""
import dataclasses
import os
import pathlib

REPO = pathlib.Path(__file__).resolve().parent.parent
VENV_PYTHON = REPO / ".venv" / "bin" / "python"
# A collections root in which ansible_collections/etcdops/dr is this checkout: unit tests import
# through it and ansible-lint resolves etcdops.dr.* through it.
CHECKOUT_COLLECTIONS_ROOT = REPO / ".build" / "pyroot"
CLIENT_PORT = 2379
PEER_PORT = 2380
SSH_PORT = 2222
# A non-root SSH login with sudo, as AWX's usual machine credential (the bed's hosts are this machine).
LOGIN_USER = "etcdops-login"
KUBE_APISERVER_PORT = 6443
BACKUP_SERVER_ADDRESS = "127.0.0.14"
# The backup server's SFTP store: an sshd of its own (its own host key, an SFTP-only login).
SFTP_PORT = 2022
# The backup server's S3-compatible store (moto's server, plain HTTP on loopback), and the bucket it holds.
S3_PORT = 9000
S3_BUCKET = "etcd-backups"
# A single-member scratch etcd (restore checks, auth tests) listens here.
SPARE_ADDRESS = "127.0.0.15"
CLUSTER_TOKEN = "etcdops-testbed"
# The drill group's hosts (drill cluster mode): three more members, stopped until a drill restores into them.
DRILL_SIZE = 3
DRILL_CLUSTER_TOKEN = "etcdops-testbed-drill"
# kube-apiserver hosts apart from the etcd hosts (external etcd): a kube-apiserver stand-in each, no etcd.
APISERVER_HOSTS = 2


@dataclasses.dataclass(frozen=True)
class Member:
    """One etcd member and the host it runs on. All hosts share this machine's filesystem, so
    every path is below the member's own directory."""

    name: str
    address: str
    root: pathlib.Path

    @property
    def service(self):
        return f"etcd-{self.name}"

    @property
    def data_dir(self):
        return self.root / "data"

    @property
    def backup_dir(self):
        return self.root / "backups"

    @property
    def config_file(self):
        return self.root / "etcd.conf.yml"

    @property
    def log_file(self):
        return self.root / "etcd.log"

    @property
    def kubelet_service(self):
        return f"kubelet-{self.name}"

    @property
    def kube_apiserver_service(self):
        return f"kube-apiserver-{self.name}"

    @property
    def manifest_dir(self):
        return self.root / "manifests"

    @property
    def held_manifest_dir(self):
        return self.root / "manifests-held"

    @property
    def pod_log_dir(self):
        return self.root / "pods"

    @property
    def client_url(self):
        return f"https://{self.address}:{CLIENT_PORT}"

    @property
    def peer_url(self):
        return f"https://{self.address}:{PEER_PORT}"


@dataclasses.dataclass(frozen=True)
class Bed:
    root: pathlib.Path
    members: tuple
    drill_members: tuple = ()
    # kube-apiserver hosts apart from the etcd hosts (group kube_apiservers), as Members for their address and dir.
    apiserver_hosts: tuple = ()

    @property
    def pki(self):
        return self.root / "pki"

    @property
    def cacert(self):
        return self.pki / "ca.crt"

    @property
    def client_cert(self):
        return self.pki / "healthcheck-client.crt"

    @property
    def client_key(self):
        return self.pki / "healthcheck-client.key"

    @property
    def ssh_dir(self):
        return self.root / "ssh"

    @property
    def ssh_key(self):
        return self.ssh_dir / "id_ed25519"

    @property
    def known_hosts(self):
        return self.ssh_dir / "known_hosts"

    @property
    def supervisor_conf(self):
        return self.root / "supervisord.conf"

    @property
    def supervisor_socket(self):
        return self.root / "supervisor.sock"

    @property
    def supervisor_pidfile(self):
        return self.root / "supervisord.pid"

    @property
    def inventory(self):
        return self.root / "inventory.yml"

    @property
    def ansible_cfg(self):
        return self.root / "ansible.cfg"

    @property
    def collections_path(self):
        return self.root / "collections"

    @property
    def backup_server_dir(self):
        return self.root / "backup-server"

    @property
    def sftp_root(self):
        """The SFTP server's files; the store is its dir `backups`."""
        return self.root / "sftp-root"

    @property
    def sftp_store_dir(self):
        return self.sftp_root / "backups"

    @property
    def sftp_store(self):
        """The store as the etcd hosts reach it (backup_stores entry): URL, login key, known_hosts."""
        return {"url": f"sftp://root@{BACKUP_SERVER_ADDRESS}:{SFTP_PORT}{self.sftp_store_dir}",
                "key_file": str(self.ssh_dir / "store_id_ed25519"),
                "known_hosts": str(self.ssh_dir / "store_known_hosts")}

    @property
    def s3_credentials(self):
        return self.root / "s3-credentials.json"

    @property
    def s3_store(self):
        """The S3 store as a backup_stores entry (its key is made when the bed comes up)."""
        import json  # pylint: disable=import-outside-toplevel
        credentials = json.loads(self.s3_credentials.read_text())
        return {"url": f"s3://{S3_BUCKET}/cluster-a", "endpoint_url": f"http://{BACKUP_SERVER_ADDRESS}:{S3_PORT}",
                "region": "us-east-1", "access_key": credentials["access_key"],
                "secret_key": credentials["secret_key"]}

    @property
    def initial_cluster(self):
        return ",".join(f"{m.name}={m.peer_url}" for m in self.members)

    @property
    def drill_initial_cluster(self):
        return ",".join(f"{m.name}={m.peer_url}" for m in self.drill_members)

    @property
    def report_dir(self):
        """Where the drills' reports go on the controller (the tests' and the demo's)."""
        return self.root / "drill-reports"

    @property
    def drill_work_dir(self):
        return self.root / "drill-work"

    @property
    def client_urls(self):
        return [m.client_url for m in self.members]

    def member(self, name):
        for member in self.members:
            if member.name == name:
                return member
        raise KeyError(name)


def member_address(number):
    """node1-3 listen on 127.0.0.11-13; a larger bed (benchmarks) goes on from 127.0.0.16, past the backup
    server's and the scratch member's addresses."""
    return f"127.0.0.{10 + number if number <= 3 else 12 + number}"


def bed(root=None, size=3):
    """The bed rooted at `root` (default: $ETCDOPS_TESTBED_DIR or <repo>/.testbed), with `size` members."""
    root = pathlib.Path(root or os.environ.get("ETCDOPS_TESTBED_DIR") or REPO / ".testbed").resolve()
    members = tuple(
        Member(name=f"node{i}", address=member_address(i), root=root / "hosts" / f"node{i}")
        for i in range(1, size + 1)
    )
    drill_members = tuple(
        Member(name=f"drill{i}", address=f"127.0.0.{30 + i}", root=root / "hosts" / f"drill{i}")
        for i in range(1, layout_drill_size(size) + 1))
    apiserver_hosts = tuple(
        Member(name=f"apiserver{i}", address=f"127.0.0.{40 + i}", root=root / "hosts" / f"apiserver{i}")
        for i in range(1, (APISERVER_HOSTS if size == 3 else 0) + 1))
    return Bed(root=root, members=members, drill_members=drill_members, apiserver_hosts=apiserver_hosts)


def layout_drill_size(size):
    """The 3-member bed of the tests and the demo has a drill group; a benchmark's larger bed does not."""
    return DRILL_SIZE if size == 3 else 0


def link_checkout():
    """Create CHECKOUT_COLLECTIONS_ROOT (if missing) and return it."""
    link = CHECKOUT_COLLECTIONS_ROOT / "ansible_collections" / "etcdops" / "dr"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.symlink(REPO, link)
        except FileExistsError:
            pass   # another test process made it first
    return CHECKOUT_COLLECTIONS_ROOT
