# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What runs on this host: which processes listen on etcd's ports or hold its files open (Linux /proc)."""
from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Iterator, Sequence
from urllib.parse import urlsplit

PROC = "/proc"
TCP_LISTEN = "0A"
WILDCARDS = ("0.0.0.0", "::")


def _decode_address(hex_address: str) -> str:
    """/proc/net/tcp{,6} print addresses as 32-bit words in host (little-endian) byte order."""
    raw = bytes.fromhex(hex_address)
    swapped = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, swapped)


def listening_sockets(proc: str = PROC) -> list[tuple[str, int, str]]:
    """[(address, port, inode)] of every listening TCP socket on this host."""
    found = []
    for table in ("tcp", "tcp6"):
        try:
            with open(os.path.join(proc, "net", table)) as handle:
                lines = handle.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != TCP_LISTEN:
                continue
            address, port = fields[1].split(":")
            found.append((_decode_address(address), int(port, 16), fields[9]))
    return found


def url_address(url: str) -> tuple[str | None, int | None]:
    """(ip or None, port) that a client or peer URL binds to; None for a host that does not resolve."""
    parts = urlsplit(url)
    try:
        infos = socket.getaddrinfo(parts.hostname, None)
        ip = str(infos[0][4][0]) if infos else None
    except (socket.gaierror, UnicodeError):
        ip = None
    return ip, parts.port


def _open_files(pid: int, proc: str) -> Iterator[str]:
    fd_dir = os.path.join(proc, str(pid), "fd")
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return
    for name in names:
        try:
            yield os.readlink(os.path.join(fd_dir, name))
        except OSError:
            continue


def _pids(proc: str) -> list[int]:
    try:
        return [int(name) for name in os.listdir(proc) if name.isdigit()]
    except OSError:
        return []


def describe_process(pid: int, proc: str = PROC) -> str:
    """'pid 42 (etcd --name node1 ...)' from /proc/<pid>/cmdline, shortened."""
    try:
        with open(os.path.join(proc, str(pid), "cmdline"), "rb") as handle:
            cmdline = handle.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        cmdline = "exited"
    if len(cmdline) > 160:
        cmdline = cmdline[:157] + "..."
    return "pid %s (%s)" % (pid, cmdline)


def listeners_on(addresses: Sequence[tuple[str | None, int | None]],
                 proc: str = PROC) -> list[tuple[str, int, int | None]]:
    """Who listens on any of `addresses` [(ip or None for any, port)]: [(address, port, pid or None)].

    A listener on a wildcard address covers every ip. The pid is None when this user cannot see it."""
    wanted = []
    for address, port, inode in listening_sockets(proc):
        for ip, want_port in addresses:
            if port == want_port and (ip is None or address == ip or address in WILDCARDS):
                wanted.append((address, port, inode))
                break
    if not wanted:
        return []
    owners = {}
    inodes = {"socket:[%s]" % inode for dummy, dummy2, inode in wanted}
    for pid in _pids(proc):
        for target in _open_files(pid, proc):
            if target in inodes:
                owners[target] = pid
    return [(address, port, owners.get("socket:[%s]" % inode)) for address, port, inode in wanted]


def alive(pid: int, proc: str = PROC) -> bool:
    """True unless the process has exited (a zombie has exited too)."""
    try:
        with open(os.path.join(proc, str(pid), "stat")) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def holders_of(path: str, proc: str = PROC) -> list[int]:
    """Pids of the processes that have `path` open."""
    real = os.path.realpath(path)
    return sorted(pid for pid in _pids(proc) if pid != os.getpid() and real in set(_open_files(pid, proc)))


def etcd_activity(data_dir: str, urls: Iterable[str], proc: str = PROC) -> list[str]:
    """What shows that etcd runs on this host: processes holding the member's db open, listeners on its URLs."""
    db = os.path.join(data_dir, "member", "snap", "db")
    found = ["%s has %s open" % (describe_process(pid, proc), db)
             for pid in (holders_of(db, proc) if os.path.exists(db) else [])]
    listeners = listeners_on([url_address(url) for url in urls], proc)
    if listeners:
        found.append(describe_listeners(listeners, proc))
    return found


def describe_listeners(listeners: Iterable[tuple[str, int, int | None]], proc: str = PROC) -> str:
    return "; ".join("%s listens on %s:%s" % (describe_process(pid, proc) if pid else "a process this user cannot "
                                              "see (run with become: true)", address, port)
                     for address, port, pid in listeners)
