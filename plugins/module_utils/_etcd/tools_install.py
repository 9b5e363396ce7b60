# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Install etcdutl/etcdctl on a host from a release archive or a binary the user supplies: checked by sha256, by
the ELF architecture and by running `version` against the cluster's etcd version, before any takes its name."""
from __future__ import annotations

import json
import os
import platform
import re
import shutil
import struct
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

from ansible_collections.etcdops.dr.plugins.module_utils._argspec import ArgumentSpec
from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError
from ansible_collections.etcdops.dr.plugins.module_utils._host import files
from ansible_collections.etcdops.dr.plugins.module_utils._host.run import CommandError, run
from ansible_collections.etcdops.dr.plugins.module_utils._etcd.version import parse_version, version_text, version_tuple

if TYPE_CHECKING:
    from ansible_collections.etcdops.dr.plugins.module_utils._host.run import HostContext

ARGUMENT_SPEC = ArgumentSpec(dict(
    src=dict(type="path"),
    sha256=dict(type="str", required=True),
    dest_dir=dict(type="path", required=True),
    etcd_version=dict(type="str"),
    tools=dict(type="list", elements="str", default=["etcdutl", "etcdctl"], choices=["etcdutl", "etcdctl"]),
))

# What the last install from an archive put in dest_dir: the archive's sha256 and each tool's.
RECORD_NAME = ".etcdops-dr-tools.json"
ELF_MAGIC = b"\x7fELF"
# ELF e_machine of the architectures etcd releases binaries for, and their name in etcd's release archives.
MACHINES = {
    "x86_64": (62, "linux-amd64"), "amd64": (62, "linux-amd64"),
    "aarch64": (183, "linux-arm64"), "arm64": (183, "linux-arm64"),
    "ppc64le": (21, "linux-ppc64le"), "s390x": (22, "linux-s390x"),
    "riscv64": (243, "linux-riscv64"),
}
MACHINE_NAMES = {62: "x86_64", 183: "aarch64", 21: "ppc64", 22: "s390x", 243: "riscv64", 3: "i386", 40: "arm"}


class ToolsError(EtcdOpsError):
    """The tools cannot be installed as given; msg names the problem and the fix."""


def elf_machine(head: bytes) -> tuple[int, str] | None:
    """(e_machine, byte order) of an ELF file from its first 20 bytes; None when it is not an ELF file."""
    if len(head) < 20 or head[:4] != ELF_MAGIC or head[5] not in (1, 2):
        return None
    order = "little" if head[5] == 1 else "big"
    return struct.unpack("<H" if order == "little" else ">H", head[18:20])[0], order


def architecture_problem(label: str, head: bytes, machine: str | None = None) -> str | None:
    """Why the binary starting with `head` cannot run on this host (another architecture, not ELF), or None."""
    machine = machine or platform.machine()
    found = elf_machine(head)
    if found is None:
        return "%s is not a Linux executable (no ELF header): give etcd's Linux release archive or binary" % label
    expected = MACHINES.get(machine)
    e_machine, order = found
    if expected is None:
        return None if order == sys.byteorder else "%s is %s-endian, this %s host is not" % (label, order, machine)
    if e_machine != expected[0] or order != sys.byteorder:
        return ("%s is built for %s, this host is %s: give etcd's %s archive (etcd-v<version>-%s.tar.gz)" % (
            label, MACHINE_NAMES.get(e_machine, "ELF machine %d" % e_machine), machine, expected[1], expected[1]))
    return None


def source_members(src: str, tools: list[str]) -> Iterator[tuple[str, IO[bytes]]]:
    """(tool name, readable binary) for each wanted tool in `src`: a .tar[.gz|.xz|.bz2] or .zip archive (any dir
    depth), or a single binary named after its tool."""
    if tarfile.is_tarfile(src):
        with tarfile.open(src) as archive:
            for member in archive.getmembers():
                name = os.path.basename(member.name)
                extracted = archive.extractfile(member) if member.isfile() and name in tools else None
                if extracted is not None:
                    yield name, extracted
        return
    if zipfile.is_zipfile(src):
        with zipfile.ZipFile(src) as archive:
            for info in archive.infolist():
                name = os.path.basename(info.filename)
                if not info.is_dir() and name in tools:
                    with archive.open(info) as handle:
                        yield name, handle
        return
    name = os.path.basename(src)
    if name not in tools:
        raise ToolsError("%s is neither an archive (tar, zip) nor a binary named %s: give etcd's release archive, "
                         "or the binary under its own name" % (src, " or ".join(tools)))
    with open(src, "rb") as handle:
        yield name, handle


def version_problem(name: str, found: tuple[int, ...] | None, etcd_version: str | None, source: str) -> str | None:
    """Why a tool of version `found` does not fit a cluster running `etcd_version` (major.minor must be equal:
    etcd's on-disk format and its restore flags follow the minor release), or None."""
    wanted = version_tuple(etcd_version)
    if found is None:
        return "%s from %s does not report a version (`%s version`)" % (name, source, name)
    if wanted and found[:2] != wanted[:2]:
        return ("%s %s from %s does not match the cluster's etcd %s (major.minor must be equal): give etcd v%d.%d.x's "
                "release archive" % (name, version_text(found), source, version_text(wanted), wanted[0], wanted[1]))
    return None


class ToolsInstall:
    """One host's install. plan() checks the sha256 and what dest_dir holds; when the tools must be installed, check
    mode stages and checks them in the module's temp dir there and then, while apply() stages them beside their final
    names and names them (install(): the one function of both modes). `result` holds the module's return values."""

    def __init__(self, params: dict[str, Any], host: HostContext) -> None:
        self.host = host
        self.params = params
        self.sha256 = (self.params["sha256"] or "").strip().lower()
        self.dest_dir = self.params["dest_dir"]
        self.result: dict[str, Any] = dict(changed=False, installed=False, tools={}, etcd_version=self.params[
            "etcd_version"], dest_dir=self.dest_dir)
        self._staged: dict[str, str] = {}
        # The tools are to be installed from src (plan() found them missing or not the archive's).
        self.pending = False
        self.message = ""

    def _path(self, name: str) -> str:
        return os.path.join(self.dest_dir, name)

    def _record(self) -> dict[str, Any]:
        try:
            with open(os.path.join(self.dest_dir, RECORD_NAME), encoding="utf-8") as handle:
                record = json.load(handle)
        except (OSError, ValueError):
            return {}
        return record if isinstance(record, dict) else {}

    def _version(self, name: str, path: str, source: str) -> tuple[int, ...] | None:
        try:
            found = parse_version(run(self.host, [path, "version"], why="%s from %s does not run" % (
                name, source)).stdout)
        except CommandError as exc:
            raise ToolsError(exc.msg) from None
        problem = version_problem(name, found, self.params["etcd_version"], source)
        if problem:
            raise ToolsError(problem)
        return found

    def check_installed(self) -> bool:
        """Whether dest_dir holds the tools the archive with this sha256 installed, unchanged, and of the cluster's
        version; fills result['tools'] when it does."""
        record = self._record()
        recorded = record.get("tools") or {}
        if record.get("source_sha256") != self.sha256 or not recorded:
            return False
        tools = {}
        for name, digest in recorded.items():
            path = self._path(name)
            if not os.path.isfile(path) or files.file_sha256(path) != digest:
                return False
            tools[name] = dict(path=path, sha256=digest, version=version_text(self._version(name, path, path)),
                               changed=False)
        self.result.update(installed=True, tools=tools)
        return True

    def stage(self) -> None:
        """Check src's sha256, unpack each wanted tool beside its final name (in check mode, in the module's temp
        dir), and check its architecture and version. Raises ToolsError before anything takes a final name."""
        src = self.params["src"]
        if not os.path.isfile(src):
            raise ToolsError("%s is not a file on the host" % src)
        actual = files.file_sha256(src)
        if actual != self.sha256:
            raise ToolsError("%s has sha256 %s, not the expected %s: a wrong or damaged download; compare it with the "
                             "release's SHA256SUMS" % (src, actual, self.sha256))
        staging_dir = self.host.tmpdir if self.host.check_mode else self.dest_dir
        try:
            for name, handle in source_members(src, self.params["tools"]):
                if name in self._staged:
                    raise ToolsError("%s holds more than one %s: give etcd's release archive" % (src, name))
                out, path = files.temp_file_in(staging_dir, name, 0o755)
                self._staged[name] = path
                with out:
                    shutil.copyfileobj(handle, out)
                    out.flush()
                    os.fsync(out.fileno())
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
            raise ToolsError("cannot read %s: %s" % (src, exc)) from None
        if not self._staged:
            raise ToolsError("%s holds no %s: give etcd's release archive (etcd-v<version>-linux-<arch>.tar.gz)" % (
                src, " or ".join(self.params["tools"])))
        for name, path in sorted(self._staged.items()):
            label = "%s from %s" % (name, src)
            with open(path, "rb") as handle:
                problem = architecture_problem(label, handle.read(20))
            if problem:
                raise ToolsError(problem)
            digest = files.file_sha256(path)
            found = self._version(name, path, src)
            final = self._path(name)
            same = os.path.isfile(final) and files.file_sha256(final) == digest
            self.result["tools"][name] = dict(path=final, sha256=digest, version=version_text(found), changed=not same)

    def _new_record(self) -> dict[str, Any]:
        return dict(source_sha256=self.sha256, tools={name: info["sha256"] for name, info in self.result["tools"].items()})

    def name_staged(self, record: dict[str, Any] | None) -> None:
        """Give each staged tool its final name (unless the same file is there) and write the new record."""
        for name, info in sorted(self.result["tools"].items()):
            if info["changed"]:
                os.rename(self._staged.pop(name), info["path"])
        if record:
            files.write_atomic(os.path.join(self.dest_dir, RECORD_NAME), json.dumps(record, indent=1).encode(), 0o644)
        files.fsync_dir(self.dest_dir)

    def discard_staged(self) -> None:
        for path in self._staged.values():
            try:
                os.unlink(path)
            except OSError:
                pass
        self._staged.clear()

    def plan(self) -> None:
        """Refuse a malformed sha256; find whether dest_dir holds the archive's tools already; in check mode, stage
        and check them as apply() would. Raises ToolsError, OSError."""
        if not re.match(r"^[0-9a-f]{64}$", self.sha256):
            raise ToolsError("sha256 %r is not a sha256 (64 hex digits): give the archive's line from the release's "
                             "SHA256SUMS" % self.params["sha256"])
        if self.check_installed():
            self.message = "%s from the archive with sha256 %s already in %s" % (
                ", ".join(sorted(self.result["tools"])), self.sha256, self.dest_dir)
            return
        if self.params["src"] is None:
            self.message = "the tools from the archive with sha256 %s are not in %s (give src to install them)" % (
                self.sha256, self.dest_dir)
            return
        self.pending = True
        if self.host.check_mode:
            self.install()

    def would(self) -> str:
        return self._finish()

    def apply(self) -> None:
        if self.pending:
            self.install()

    def done(self) -> str:
        return self._finish()

    def failed(self, exc: Exception) -> str:
        self.result["changed"] = False
        return "etcd tools not installed: %s; %s is unchanged." % (getattr(exc, "msg", None) or exc, self.dest_dir)

    def _finish(self) -> str:
        # As facts, the names the other roles read (and an AWX job template with fact storage keeps).
        self.result["ansible_facts"] = {"etcd_" + name: info["path"] for name, info in self.result["tools"].items()}
        return self.message

    def install(self) -> None:
        """Stage and check the tools from src, and in check mode say what would change; else name them. A failure
        leaves dest_dir as it was."""
        check_mode = self.host.check_mode
        missing_dir = not os.path.isdir(self.dest_dir)
        if missing_dir and not check_mode:
            os.makedirs(self.dest_dir, 0o755)
        try:
            self.stage()
            record = self._new_record()
            new_record = None if self._record() == record else record
            changed = missing_dir or bool(new_record) or any(info["changed"] for info in self.result["tools"].values())
            if not check_mode:
                self.name_staged(new_record)
        except BaseException:
            self.discard_staged()
            if missing_dir and not check_mode:
                os.rmdir(self.dest_dir)
            raise
        self.discard_staged()
        self.result.update(changed=changed, installed=not check_mode)
        done = ", ".join("%s %s" % (name, info["version"]) for name, info in sorted(self.result["tools"].items()))
        verb = ("would install" if check_mode else "installed") if changed else "already had"
        self.message = "%s %s from %s in %s%s" % (
            verb, done, self.params["src"], self.dest_dir,
            "" if self.params["etcd_version"] else "; their version was not compared with the cluster's (no etcd_version)")
