"""etcd_snapshot against a member with a large database (over 100 MiB, on the spare address), faulted
mid-stream: the member is killed, or the destination fills up. Either way the module fails saying why,
and no file is left, neither under the final name nor as a temp file."""
import os
import signal
import threading
import time

import pytest

from testbed import faults, scratch

MODULE = "etcdops.dr.etcd_snapshot"
MIB = 1 << 20
VALUES = 112


@pytest.fixture(scope="module")
def big_member(bed, tmp_path_factory):
    """A single-member etcd holding VALUES incompressible 1 MiB values."""
    data_dir = tmp_path_factory.mktemp("big") / "data"
    member = scratch.ScratchMember(bed, data_dir, name="big").start()
    try:
        member.load(VALUES, MIB)
        yield member
    finally:
        member.stop()


@pytest.fixture
def running_big_member(big_member):
    if big_member.process.poll() is not None:
        big_member.start()
    return big_member


def snapshot_in_background(ansible, bed, member, dest):
    """Start etcd_snapshot on node1 in a thread; returns (thread, box) where box["run"] gets the result."""
    args = {"endpoint": member.client_url, "cacert": str(bed.cacert), "dest_dir": str(dest)}
    box = {}
    thread = threading.Thread(target=lambda: box.update(run=ansible.module(MODULE, args, hosts="node1",
                                                                           defaults=False)))
    thread.start()
    return thread, box


def wait_for_partial(dest, min_bytes, timeout=120):
    """Wait until the module's temp file in `dest` holds min_bytes; returns its path."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name in os.listdir(dest) if dest.exists() else []:
            path = dest / name
            try:
                if name.endswith(".partial") and path.stat().st_size >= min_bytes:
                    return path
            except FileNotFoundError:
                pass
        time.sleep(0.001)
    raise AssertionError(f"no temp file of {min_bytes} bytes appeared in {dest}")


def test_source_member_killed_mid_stream_leaves_no_file(running_big_member, bed, ansible, tmp_path):
    member = running_big_member
    dest = tmp_path / "backups"
    thread, box = snapshot_in_background(ansible, bed, member, dest)
    partial = wait_for_partial(dest, 8 * MIB)
    member.process.send_signal(signal.SIGKILL)
    thread.join(timeout=300)
    result = box["run"].results["node1"]
    assert result["failed"] and result["changed"] is False, result
    assert result["msg"].startswith(f"the snapshot stream broke: etcd endpoint {member.client_url}: "), result["msg"]
    assert result["msg"].endswith("the partial file was removed and nothing was written."), result["msg"]
    assert os.listdir(dest) == [], f"left behind: {os.listdir(dest)} (the temp file was {partial.name})"


def test_destination_filling_up_mid_stream_leaves_no_file(running_big_member, bed, ansible, tmp_path):
    member = running_big_member
    db_size = os.path.getsize(member.data_dir / "member" / "snap" / "db")
    dest = tmp_path / "backups"
    # Room for the snapshot when the module checks, then something else takes it.
    with faults.small_filesystem(dest, db_size + 4 * MIB):
        thread, box = snapshot_in_background(ansible, bed, member, dest)
        wait_for_partial(dest, MIB)
        filler = faults.fill(str(dest))
        thread.join(timeout=300)
        result = box["run"].results["node1"]
        assert result["failed"] and result["changed"] is False, result
        assert "No space left on device" in result["msg"] and "no file took the final name" in result["msg"], result
        assert os.listdir(dest) == [os.path.basename(filler)]
