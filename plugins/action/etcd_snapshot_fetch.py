# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fetch a backup and its manifest to the controller: through a private staging dir, verified by sha256, 0600,
fsynced, linked under its final name; never replacing a different file. Optionally the copy is then checked as
etcd_snapshot_info checks a file, and retention applied in the controller's dir - here, in this process, with the
same runners as the modules: no module run on the controller."""
from __future__ import annotations

import json
import os
import shlex
import shutil
import tempfile
from collections.abc import Callable, Iterable
from typing import Any

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError
from ansible_collections.etcdops.dr.plugins.module_utils._host import files as _files
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.check import check_file, find_tool, read_status
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.file import (
    MANIFEST_RESERVE, MANIFEST_SUFFIX, BackupFileError, check_destination, ensure_dir)
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.retention import Prune
from ansible_collections.etcdops.dr.plugins.plugin_utils._controller import ControllerHost

ARGUMENT_SPEC = dict(
    src=dict(type="str", required=True),
    dest_dir=dict(type="path", required=True),
    sha256=dict(type="str"),
    size=dict(type="int"),
    manifest=dict(type="bool"),
    verify=dict(type="bool", default=False),
    etcdutl=dict(type="path"),
    prefix=dict(type="str", default="etcd-snapshot"),
    keep_last=dict(type="int", default=0),
    max_age=dict(type="str", default=""),
)


# Where a copy the login user can read is made when the task becomes another user: disk-backed by convention.
HANDOVER_PARENT = "/var/tmp"


def _seal(path: str) -> None:
    """Make a fetched file private and durable before it gets its final name."""
    os.chmod(path, 0o600)
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _place(ready: Iterable[tuple[str, str]]) -> None:
    """Give each staged file its final name, refusing to replace anything (link fails if the name exists); if one
    cannot be placed, the ones placed before it are taken back."""
    placed = []
    try:
        for staged, final in ready:
            os.link(staged, final)
            placed.append(final)
    except BaseException:
        for final in placed:
            os.unlink(final)
        raise


def ssh_asks_compression(words: list[str]) -> bool:
    """Whether ssh arguments turn compression on: -C (alone or among other single-letter flags) or
    -o Compression=yes (also written -oCompression=yes or "Compression yes")."""
    for before, word in zip([""] + words, words):
        option = word[2:] if word.startswith("-o") and len(word) > 2 else word if before == "-o" else None
        if option is not None:
            if option.lower().replace("=", " ").split() == ["compression", "yes"]:
                return True
        elif word.startswith("-") and word[1:].isalpha() and "C" in word[1:]:
            return True
    return False


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        self._task_vars = task_vars
        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        src = self._remote_expand_user(args["src"])
        dest = os.path.join(args["dest_dir"], os.path.basename(src))
        result.update(changed=False, src=src, dest=dest, manifest_dest=None, size=None, sha256=args["sha256"],
                      verified=None, retention=None)
        controller = ControllerHost(self._task.check_mode)
        try:
            # Retention is checked before anything is fetched: a bad setting fails the run before the transfer.
            pruned = self._retention(args, dest, controller)
            result["retention"] = pruned.result if pruned else None
            if args["size"] is not None and (args["sha256"] or self._task.check_mode):
                # The caller just wrote the file and says what it holds, or checks before it is written: the host is
                # not asked.
                remote: dict[str, Any] = dict(size=args["size"], checksum=args["sha256"])
            else:
                remote = self._remote_stat(src, task_vars, want_sha256=not args["sha256"])
            expected = args["sha256"] or remote.get("checksum")
            if not expected and not self._task.check_mode:
                raise AnsibleError("the host could not compute the sha256 of %s; give sha256" % src)
            result.update(size=remote["size"], sha256=expected)
            has_manifest = (args["manifest"] if args["manifest"] is not None else bool(
                self._remote_stat(src + MANIFEST_SUFFIX, task_vars, want_sha256=False, missing_ok=True)))
            result["manifest_dest"] = dest + MANIFEST_SUFFIX if has_manifest else None
            if os.path.lexists(dest) and expected:
                self._already_there(result, dest, expected, has_manifest)
                if result.get("failed"):
                    return result
            else:
                self._fetch(args, src, result, controller)
        except (BackupFileError, AnsibleError, OSError, EtcdOpsError) as exc:
            result.update(failed=True, changed=False, msg="fetching %s to %s failed: %s; nothing took the final "
                                                          "name." % (src, dest, getattr(exc, "msg", None) or exc))
            return result
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        # Retention runs once the file is in place, whether this run fetched it or found it there already.
        if pruned is not None:
            try:
                if not self._task.check_mode:
                    pruned.apply()
            except EtcdOpsError as exc:
                result.update(failed=True, msg="%s; but retention in %s failed: %s" % (
                    result["msg"], args["dest_dir"], exc.msg))
            result["changed"] = result["changed"] or bool(pruned.result["changed"])
        return result

    def _fetch(self, args: dict[str, Any], src: str, result: dict[str, Any], controller: ControllerHost) -> None:
        """Fetch src to result's dest (in check mode, say so), verified, and with `verify` checked, before it takes
        its name."""
        dest, size = result["dest"], result["size"]
        check_destination(args["dest_dir"], size + MANIFEST_RESERVE)
        result["changed"] = True
        if self._task.check_mode:
            result["msg"] = "would fetch %s (%d bytes) to %s" % (src, size, dest)
            return
        ensure_dir(args["dest_dir"])
        checks = (lambda staged: self._check_copy(staged, result, args, controller)) if args["verify"] else None
        self._fetch_verified(src, dest, result["sha256"], with_manifest=bool(result["manifest_dest"]), check=checks)
        if self._ssh_compression():
            result["warnings"] = [
                "ssh compresses this connection (-C in ssh_args, Ansible's default): zlib limits the copy to the "
                "controller to about 30-40 MB/s of incompressible data, slower than a fast network; set ssh_args "
                "without -C ([ssh_connection] ssh_args = -o ControlMaster=auto -o ControlPersist=60s) and close "
                "open control masters. See docs/backup.md."]
        result["msg"] = "fetched %s to %s (%d bytes, sha256 verified%s)" % (
            src, dest, size, ", checked as a snapshot" if args["verify"] else "")

    @staticmethod
    def _retention(args: dict[str, Any], dest: str, controller: ControllerHost) -> Prune | None:
        """Retention in dest_dir, planned (its settings checked) with the fetched file kept; None when unset."""
        if not args["keep_last"] and not args["max_age"]:
            return None
        pruned = Prune(dict(path=args["dest_dir"], prefix=args["prefix"], keep_last=args["keep_last"],
                            max_age=args["max_age"], keep=[dest]), controller)
        pruned.plan()
        return pruned

    @staticmethod
    def _check_copy(staged: str, result: dict[str, Any], args: dict[str, Any], controller: ControllerHost) -> None:
        """Check the staged copy, before it takes its name, as etcd_snapshot_info checks a file - its manifest, its
        database, etcd's own tool (etcdutl on the controller, when it has one) - without hashing it again: the fetch
        just found it to have the sha256 of the file verified on the host. Raises BackupFileError saying why."""
        report = check_file(staged, copy_of=result["sha256"])
        tool, argv = find_tool(controller, args["etcdutl"])
        if tool and argv and report["status"] in ("ok", "unverified") and not report["encryption"]:
            read_status(controller, report, tool, argv)
        report["path"] = result["dest"]
        result["verified"] = report
        if report["status"] != "ok":
            raise BackupFileError("the copy failed its check on the controller: it is %s: %s. The snapshot on the "
                                  "host is whole; no retention was applied" % (
                                      report["status"].replace("_", " "), "; ".join(report["problems"])))

    def _ssh_compression(self) -> bool:
        """Whether the ssh connection's arguments ask for compression (-C, or -o Compression=yes)."""
        if self._connection.transport not in ("ssh", "ansible.builtin.ssh", "ansible.legacy.ssh"):
            return False
        words = []
        for option in ("ssh_args", "ssh_common_args", "ssh_extra_args"):
            try:
                words += shlex.split(self._connection.get_option(option) or "")
            except (KeyError, ValueError):
                continue
        return ssh_asks_compression(words)

    def _remote_stat(self, path: str, task_vars: dict[str, Any] | None, want_sha256: bool,
                     missing_ok: bool = False) -> dict[str, Any]:
        stat = self._execute_module(
            module_name="ansible.builtin.stat", task_vars=task_vars,
            module_args=dict(path=path, follow=True, get_checksum=want_sha256, checksum_algorithm="sha256",
                             get_mime=False, get_attributes=False))
        if stat.get("failed"):
            raise AnsibleError("cannot read %s on the host: %s" % (path, stat.get("msg")))
        info = stat["stat"]
        if not info["exists"] and missing_ok:
            return {}
        if not info["exists"] or not info.get("isreg"):
            raise AnsibleError("%s is not a file on the host" % path)
        return info

    def _already_there(self, result: dict[str, Any], dest: str, expected: str, has_manifest: bool) -> dict[str, Any]:
        actual = _files.file_sha256(dest)
        if actual != expected:
            result.update(failed=True, msg="%s already exists on the controller with sha256 %s, not %s: refusing to "
                                           "replace it; move it away or choose another dest_dir."
                                           % (dest, actual, expected))
            return result
        if has_manifest and not os.path.lexists(dest + MANIFEST_SUFFIX):
            result["changed"] = True
            if not self._task.check_mode:
                self._fetch_verified(result["src"], dest, expected, with_file=False, with_manifest=True)
        result["msg"] = "%s is already on the controller with sha256 %s" % (dest, expected)
        return result

    def _fetch_verified(self, src: str, dest: str, expected: str, with_file: bool = True,
                        with_manifest: bool = True, check: Callable[[str], None] | None = None) -> None:
        """Stage the file and its manifest in a private dir, verify both (and with `check`, the staged file), then
        rename the file and then the manifest into place (a manifest never stands without its file)."""
        staging = tempfile.mkdtemp(prefix=".etcdops-fetch.", dir=os.path.dirname(dest))
        handover = None
        try:
            login = self._login_user_if_become_differs()
            if login:
                handover = self._hand_over(login, ([src] if with_file else []) + (
                    [src + MANIFEST_SUFFIX] if with_manifest else []))
                src = os.path.join(handover, os.path.basename(src))
            ready = []
            if with_file:
                staged = os.path.join(staging, os.path.basename(dest))
                self._connection.fetch_file(src, staged)
                actual = _files.file_sha256(staged)
                if actual != expected:
                    raise BackupFileError("the fetched file's sha256 is %s, not %s: the transfer was cut or "
                                          "corrupted" % (actual, expected))
                ready.append((staged, dest))
            if with_manifest:
                staged = os.path.join(staging, os.path.basename(dest) + MANIFEST_SUFFIX)
                self._connection.fetch_file(src + MANIFEST_SUFFIX, staged)
                try:
                    with open(staged, "rb") as handle:
                        recorded = json.load(handle).get("sha256")
                except (ValueError, AttributeError):
                    raise BackupFileError("the manifest %s%s is not a JSON object" % (src, MANIFEST_SUFFIX)) from None
                if recorded != expected:
                    raise BackupFileError("the manifest %s%s records sha256 %s, not the file's %s" % (
                        src, MANIFEST_SUFFIX, recorded, expected))
                ready.append((staged, dest + MANIFEST_SUFFIX))
            for staged, dummy in ready:
                _seal(staged)
            if check and with_file:
                check(ready[0][0])
            _place(ready)
            _files.fsync_dir(os.path.dirname(dest))
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            if handover:
                self._builtin("ansible.builtin.file", dict(path=handover, state="absent"))

    def _login_user_if_become_differs(self) -> str | None:
        """The SSH login user when the task becomes another user (AWX's usual machine credential: a login user
        with sudo): the file transfer runs as the login user and cannot read the backup, root-owned 0600."""
        become = self._connection.become
        if not become:
            return None
        done = self._low_level_execute_command("id -un", sudoable=False)
        login = done.get("stdout", "").strip()
        if done.get("rc") != 0 or not login:
            raise AnsibleError("cannot tell the login user on the host (id -un: %s)" % (done.get("stderr") or "").strip())
        return None if login == (become.get_option("become_user") or "root") else login

    def _hand_over(self, login: str, paths: list[str]) -> str:
        """Copies of `paths` the login user can read, in a private dir on the host (0700; the files 0600, both
        owned by that user) under the host's /var/tmp (on disk, unlike a tmpfs /tmp). The caller removes it."""
        made = self._builtin("ansible.builtin.tempfile",
                             dict(state="directory", path=HANDOVER_PARENT, prefix="etcdops-fetch."))
        handover = made["path"]
        try:
            for path in paths:
                self._builtin("ansible.builtin.copy", dict(src=path, remote_src=True, mode="0600", owner=login,
                                                           dest=os.path.join(handover, os.path.basename(path))))
            self._builtin("ansible.builtin.file", dict(path=handover, state="directory", mode="0700", owner=login))
        except AnsibleError:
            self._builtin("ansible.builtin.file", dict(path=handover, state="absent"))
            raise
        return handover

    def _builtin(self, module: str, args: dict[str, Any]) -> dict[str, Any]:
        done = self._execute_module(module_name=module, module_args=args, task_vars=self._task_vars)
        if done.get("failed"):
            raise AnsibleError("%s on the host failed while handing the file to the login user: %s" % (
                module, done.get("msg")))
        return done
