"""The fetch action's reading of ssh arguments: compression on (Ansible's default -C) caps the copy to the
controller at zlib's speed, and the action warns."""
import pytest

from ansible_collections.etcdops.dr.plugins.action.etcd_snapshot_fetch import ssh_asks_compression


@pytest.mark.parametrize("words, compressed", [
    (["-C", "-o", "ControlMaster=auto", "-o", "ControlPersist=60s"], True),
    (["-o", "ControlMaster=auto", "-o", "ControlPersist=60s"], False),
    (["-tC"], True),
    (["-oCompression=yes"], True),
    (["-o", "Compression yes"], True),
    (["-o", "compression=YES"], True),
    (["-o", "Compression=no"], False),
    (["-o", "ControlPath=/tmp/-C"], False),
    (["-4", "-v"], False),
    ([], False),
])
def test_compression_is_read_from_ssh_arguments(words, compressed):
    assert ssh_asks_compression(words) is compressed
