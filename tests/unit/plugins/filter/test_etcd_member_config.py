"""The member's name, peer URLs and data dir from each way etcd is configured."""
import yaml

from ansible_collections.etcdops.dr.plugins.filter.etcd_member_config import etcd_member_config


def test_etcd_config_file():
    text = yaml.safe_dump({"name": "n1", "data-dir": "/var/lib/etcd",
                           "initial-advertise-peer-urls": "https://10.0.0.1:2380,https://[::1]:2380"})
    assert etcd_member_config(text) == dict(kind="config_file", name="n1", data_dir="/var/lib/etcd", wal_dir=None,
                                            initial_advertise_peer_urls=["https://10.0.0.1:2380", "https://[::1]:2380"])


def test_kubeadm_static_pod():
    text = yaml.safe_dump({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [{"name": "etcd", "command": [
        "etcd", "--name=cp1", "--data-dir=/var/lib/etcd", "--initial-advertise-peer-urls=https://10.0.0.1:2380",
        "--wal-dir", "/wal"]}]}})
    found = etcd_member_config(text)
    assert found["kind"] == "static_pod" and found["name"] == "cp1" and found["wal_dir"] == "/wal"
    assert found["initial_advertise_peer_urls"] == ["https://10.0.0.1:2380"]


def test_environment_file_and_unknown_text():
    found = etcd_member_config('ETCD_NAME="n2"\nexport ETCD_DATA_DIR=/data # comment\n')
    assert found["kind"] == "environment" and found["name"] == "n2" and found["data_dir"] == "/data"
    assert found["initial_advertise_peer_urls"] is None
    assert etcd_member_config("hello")["kind"] == "unknown"


def test_manifest_flags_are_read_as_etcd_reads_them():
    text = yaml.safe_dump({"kind": "Pod", "spec": {"containers": [{"name": "etcd", "command": [
        "/usr/local/bin/etcd", "--client-cert-auth", "-name", "cp2", "-data-dir=/d"]}]}})
    found = etcd_member_config(text)
    assert (found["kind"], found["name"], found["data_dir"]) == ("static_pod", "cp2", "/d")
