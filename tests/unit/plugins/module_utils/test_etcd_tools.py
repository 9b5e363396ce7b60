"""Installing etcdutl/etcdctl from an archive or a binary: every check before any tool takes its name."""
import hashlib
import io
import json
import os
import struct
import tarfile
import zipfile

import pytest

from ansible_collections.etcdops.dr.plugins.module_utils._etcd.tools_install import (
    RECORD_NAME, ToolsError, ToolsInstall, architecture_problem, version_problem)
from ansible_collections.etcdops.dr.tests.unit.runner_drive import drive


def fake_binary(version, machine=62, order="<"):
    """An ELF header for `machine` followed by the version the fake `version` command prints."""
    header = b"\x7fELF" + bytes([2, 1 if order == "<" else 2, 1]) + bytes(9) + struct.pack(order + "HH", 2, machine)
    return header + b"\nVERSION=" + version.encode()


class FakeModule:
    """The command seam: `<tool> version` answers with the version written in the binary."""

    def __init__(self, params, tmpdir, check_mode=False):
        self.params = dict(dict(src=None, etcd_version="3.5.1", tools=["etcdutl", "etcdctl"]), **params)
        self.tmpdir, self.check_mode, self.commands = str(tmpdir), check_mode, []

    def run_command(self, cmd, check_rc=False, environ_update=None):
        self.commands.append(cmd)
        with open(cmd[0], "rb") as handle:
            text = handle.read()
        name = os.path.basename(cmd[0]).lstrip(".").split(".")[0]
        return 0, "%s version: %s\nAPI version: 3.5\n" % (name, text.split(b"VERSION=")[1].decode()), ""


def release_archive(path, tools, top="etcd-v3.5.16-linux-amd64"):
    with tarfile.open(path, "w:gz") as archive:
        for name, data in tools.items():
            info = tarfile.TarInfo("%s/%s" % (top, name))
            info.size, info.mode = len(data), 0o755
            archive.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo(top + "/README.md")
        info.size = 2
        archive.addfile(info, io.BytesIO(b"hi"))
    return str(path), hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def dirs(tmp_path):
    (tmp_path / "tmp").mkdir()
    return tmp_path, tmp_path / "bin"


def install(dirs, src, sha256, check_mode=False, **params):
    tmp_path, dest = dirs
    module = FakeModule(dict(src=src, sha256=sha256, dest_dir=str(dest), **params), tmp_path / "tmp", check_mode)
    return drive(ToolsInstall(module.params, module)), module


def test_check_mode_then_install_then_nothing_to_do(dirs):
    tmp_path, dest = dirs
    src, sha = release_archive(tmp_path / "etcd.tar.gz", {"etcdutl": fake_binary("3.5.16"),
                                                          "etcdctl": fake_binary("3.5.16")})
    planned, dummy = install(dirs, src, sha, check_mode=True)
    assert planned["changed"] and not planned["installed"] and not dest.exists()
    assert planned["msg"].startswith("would install etcdctl 3.5.16, etcdutl 3.5.16")
    assert os.listdir(tmp_path / "tmp") == [], "check mode's staged copies are removed"

    done, dummy = install(dirs, src, sha)
    assert done["changed"] and done["installed"]
    assert sorted(os.listdir(dest)) == [RECORD_NAME, "etcdctl", "etcdutl"]
    assert oct((dest / "etcdutl").stat().st_mode & 0o777) == "0o755"
    assert done["tools"]["etcdutl"]["sha256"] == hashlib.sha256(fake_binary("3.5.16")).hexdigest()
    assert json.loads((dest / RECORD_NAME).read_text())["source_sha256"] == sha

    again, module = install(dirs, src, sha)
    assert not again["changed"] and again["installed"] and "already in" in again["msg"]
    probe, dummy = install(dirs, None, sha, check_mode=True)
    assert probe["installed"] and not probe["changed"]
    assert sorted(probe["tools"]) == ["etcdctl", "etcdutl"]


def test_a_tool_changed_on_the_host_is_found_and_put_back(dirs):
    tmp_path, dest = dirs
    src, sha = release_archive(tmp_path / "etcd.tar.gz", {"etcdutl": fake_binary("3.5.16")})
    install(dirs, src, sha)
    (dest / "etcdutl").write_bytes(fake_binary("3.5.2"))
    probe, dummy = install(dirs, None, sha)
    assert not probe["installed"] and "give src" in probe["msg"]
    fixed, dummy = install(dirs, src, sha)
    assert fixed["changed"] and (dest / "etcdutl").read_bytes() == fake_binary("3.5.16")


def test_a_tool_of_another_minor_version_is_refused_and_nothing_changes(dirs):
    tmp_path, dest = dirs
    src, sha = release_archive(tmp_path / "etcd.tar.gz", {"etcdutl": fake_binary("3.6.4"),
                                                          "etcdctl": fake_binary("3.6.4")})
    with pytest.raises(ToolsError, match=r"etcdctl 3\.6\.4 from .* does not match the cluster's etcd 3\.5\.1 "
                                         r"\(major\.minor must be equal\): give etcd v3\.5\.x's release archive"):
        install(dirs, src, sha)
    assert not dest.exists(), "the dest dir this run created is removed again"
    dest.mkdir()
    (dest / "etcdutl").write_bytes(b"old")
    with pytest.raises(ToolsError):
        install(dirs, src, sha)
    assert os.listdir(dest) == ["etcdutl"] and (dest / "etcdutl").read_bytes() == b"old"


def test_wrong_sha256_architecture_and_content_are_named(dirs):
    tmp_path, dest = dirs
    src, sha = release_archive(tmp_path / "etcd.tar.gz", {"etcdutl": fake_binary("3.5.16", machine=183)})
    with pytest.raises(ToolsError, match="has sha256 %s, not the expected 0{64}" % sha):
        install(dirs, src, "0" * 64)
    with pytest.raises(ToolsError, match="is not a sha256"):
        install(dirs, src, "abc")
    with pytest.raises(ToolsError, match=r"etcdutl from .* is built for aarch64, this host is x86_64: give etcd's "
                                         r"linux-amd64 archive"):
        install(dirs, src, sha)
    empty, empty_sha = release_archive(tmp_path / "other.tar.gz", {"etcd": fake_binary("3.5.16")})
    with pytest.raises(ToolsError, match="holds no etcdutl or etcdctl"):
        install(dirs, empty, empty_sha)
    stray = tmp_path / "notes.txt"
    stray.write_text("x")
    with pytest.raises(ToolsError, match="neither an archive"):
        install(dirs, str(stray), hashlib.sha256(b"x").hexdigest())
    assert not dest.exists()


def test_a_zip_archive_and_a_single_binary_install(dirs):
    tmp_path, dest = dirs
    path = tmp_path / "etcd.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("etcd-v3.5.16-windows-amd64/etcdctl", fake_binary("3.5.16"))
    done, dummy = install(dirs, str(path), hashlib.sha256(path.read_bytes()).hexdigest())
    assert sorted(done["tools"]) == ["etcdctl"]
    binary = tmp_path / "etcdutl"
    binary.write_bytes(fake_binary("3.5.16"))
    done, dummy = install(dirs, str(binary), hashlib.sha256(binary.read_bytes()).hexdigest(), etcd_version=None)
    assert done["changed"] and "not compared with the cluster's" in done["msg"]
    assert (dest / "etcdutl").read_bytes() == binary.read_bytes()


def test_architecture_and_version_rules():
    assert architecture_problem("t", fake_binary("1", 62), "x86_64") is None
    assert "built for x86_64, this host is aarch64" in architecture_problem("t", fake_binary("1", 62), "aarch64")
    assert "not a Linux executable" in architecture_problem("t", b"#!/bin/sh\n" + bytes(20), "x86_64")
    assert "big-endian" in architecture_problem("t", fake_binary("1", 99, ">"), "mips")
    assert version_problem("etcdutl", (3, 5, 16), "3.5.1", "a") is None
    assert version_problem("etcdutl", (3, 5, 16), "v3.4.23", "a").startswith("etcdutl 3.5.16 from a does not match")
    assert "does not report a version" in version_problem("etcdutl", None, "3.5.1", "a")


def test_the_installed_tools_are_returned_as_the_roles_variables(dirs):
    tmp_path, dest = dirs
    src, sha = release_archive(tmp_path / "etcd.tar.gz", {"etcdutl": fake_binary("3.5.16")})
    done, dummy = install(dirs, src, sha)
    assert done["ansible_facts"] == {"etcd_etcdutl": str(dest / "etcdutl")}
    probe, dummy = install(dirs, None, "1" * 64)
    assert probe["ansible_facts"] == {} and not probe["installed"]
