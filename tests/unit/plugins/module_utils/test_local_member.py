"""Finding who listens on etcd's ports and who holds its files, from a /proc tree built in tmp."""
import os

from ansible_collections.etcdops.dr.plugins.module_utils._host import local_member as _local_member

HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"


def fake_proc(tmp_path, tcp=(), tcp6=(), processes=None):
    (tmp_path / "net").mkdir()
    for name, rows in (("tcp", tcp), ("tcp6", tcp6)):
        (tmp_path / "net" / name).write_text(HEADER + "".join(
            "   0: %s 00000000:0000 %s 00000000:00000000 00:00000000 00000000     0        0 %s 1\n" % row
            for row in rows))
    for pid, (cmdline, targets) in (processes or {}).items():
        fd_dir = tmp_path / str(pid) / "fd"
        fd_dir.mkdir(parents=True)
        (tmp_path / str(pid) / "cmdline").write_bytes(cmdline)
        (tmp_path / str(pid) / "stat").write_text("%s (etcd) S 1 2 3\n" % pid)
        for number, target in enumerate(targets):
            os.symlink(target, fd_dir / str(number))
    return str(tmp_path)


def test_listeners_on_the_member_address_and_wildcards_are_found_with_their_process(tmp_path):
    proc = fake_proc(
        tmp_path,
        # 127.0.0.11:2379 LISTEN; 127.0.0.12:2379 LISTEN (another member); 0.0.0.0:2380 LISTEN; an ESTABLISHED one.
        tcp=[("0B00007F:094B", "0A", 100), ("0C00007F:094B", "0A", 101), ("00000000:094C", "0A", 102),
             ("0B00007F:094B", "01", 103)],
        tcp6=[("00000000000000000000000001000000:094B", "0A", 104)],
        processes={7: (b"etcd\0--name\0node1", ["socket:[100]", "socket:[102]", "/var/lib/etcd/member/snap/db"])})
    found = _local_member.listeners_on([("127.0.0.11", 2379), (None, 2380)], proc=proc)
    assert found == [("127.0.0.11", 2379, 7), ("0.0.0.0", 2380, 7)]
    assert _local_member.listeners_on([("::1", 2379)], proc=proc) == [("::1", 2379, None)]
    text = _local_member.describe_listeners(found, proc=proc)
    assert "pid 7 (etcd --name node1) listens on 127.0.0.11:2379" in text
    assert "cannot see" in _local_member.describe_listeners([("::1", 2379, None)], proc=proc)


def test_holders_of_a_file(tmp_path):
    db = tmp_path / "db"
    db.write_text("")
    (tmp_path / "proc").mkdir()
    proc = fake_proc(tmp_path / "proc", processes={9: (b"etcd", [str(db)]), 10: (b"bash", ["/dev/null"])})
    assert _local_member.holders_of(str(db), proc=proc) == [9]


def test_zombies_count_as_exited(tmp_path):
    proc = fake_proc(tmp_path, processes={5: (b"etcd", [])})
    assert _local_member.alive(5, proc=proc)
    (tmp_path / "5" / "stat").write_text("5 (etcd) Z 1 2 3\n")
    assert not _local_member.alive(5, proc=proc)
    assert not _local_member.alive(6, proc=proc)


def test_etcd_activity_names_the_db_holder_and_the_listener(tmp_path):
    data = tmp_path / "data"
    (data / "member" / "snap").mkdir(parents=True)
    db = data / "member" / "snap" / "db"
    db.write_bytes(b"x")
    (tmp_path / "proc").mkdir()
    proc = fake_proc(tmp_path / "proc", tcp=[("0B00007F:094C", "0A", 200)],
                     processes={8: (b"etcd\0--name\0node1", [str(db), "socket:[200]"])})
    found = _local_member.etcd_activity(str(data), ["https://127.0.0.11:2380"], proc=proc)
    assert found == ["pid 8 (etcd --name node1) has %s open" % db,
                     "pid 8 (etcd --name node1) listens on 127.0.0.11:2380"]
    assert _local_member.etcd_activity(str(tmp_path / "none"), ["https://127.0.0.12:2380"], proc=proc) == []
