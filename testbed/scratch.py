"""A throw-away single-member etcd on the spare loopback address: used to read back the keys of a
restored data dir, and to test password authentication apart from the main cluster."""
import contextlib
import subprocess

from . import cluster, layout, services


class ScratchMember:
    def __init__(self, bed, data_dir, name="scratch"):
        self.bed = bed
        self.data_dir = data_dir
        self.name = name
        self.client_url = f"https://{layout.SPARE_ADDRESS}:{layout.CLIENT_PORT}"
        self.peer_url = f"http://{layout.SPARE_ADDRESS}:{layout.PEER_PORT}"
        self.log = data_dir.parent / f"{name}-etcd.log"
        self.process = None

    def start(self, extra_args=()):
        pki = self.bed.pki / "scratch"
        cmd = [str(services.etcd_bin_dir() / "etcd"), "--name", self.name, "--data-dir", str(self.data_dir),
               "--listen-client-urls", self.client_url, "--advertise-client-urls", self.client_url,
               "--listen-peer-urls", self.peer_url, "--initial-advertise-peer-urls", self.peer_url,
               "--initial-cluster", f"{self.name}={self.peer_url}",
               "--listen-metrics-urls", f"http://{layout.SPARE_ADDRESS}:2381",
               "--cert-file", str(pki / "server.crt"), "--key-file", str(pki / "server.key"), *extra_args]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        cluster.wait_healthy_urls(self.bed, [self.client_url], client_cert=False)
        return self

    def etcdctl(self, *args, check=True):
        return cluster.etcdctl(self.bed, *args, endpoints=[self.client_url], check=check, client_cert=False)

    def load(self, count, size):
        """Put `count` incompressible values of `size` bytes (at most 1.5 MiB, etcd's request limit)."""
        for number in range(count):
            cluster.put_random(self.bed, f"load/{number:06d}", size, self.data_dir.parent, endpoints=[self.client_url],
                               client_cert=False)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


@contextlib.contextmanager
def scratch_member(bed, data_dir, **kwargs):
    member = ScratchMember(bed, data_dir, **kwargs)
    try:
        yield member.start()
    finally:
        member.stop()


def restore_copy(bed, db_file, data_dir, skip_hash_check=True, name="scratch"):
    """`etcdutl snapshot restore` a snapshot or copied db into `data_dir`, for a scratch member."""
    cmd = [str(services.etcd_bin_dir() / "etcdutl"), "snapshot", "restore", str(db_file), "--data-dir", str(data_dir),
           "--name", name, "--initial-cluster", f"{name}=http://{layout.SPARE_ADDRESS}:{layout.PEER_PORT}",
           "--initial-advertise-peer-urls", f"http://{layout.SPARE_ADDRESS}:{layout.PEER_PORT}"]
    if skip_hash_check:
        cmd.append("--skip-hash-check")
    return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300)


def key_values(etcdctl):
    """{key: value} of every key, read with an etcdctl function (a ScratchMember's, or cluster.etcdctl bound to a
    bed); values must be single lines."""
    lines = etcdctl("get", "", "--from-key").stdout.splitlines()
    return dict(zip(lines[0::2], lines[1::2]))
