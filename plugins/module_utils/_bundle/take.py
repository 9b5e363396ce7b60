# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The control-plane bundle of one host, as the etcd_bundle module takes it beside a snapshot: the files a kubeadm
control plane cannot be rebuilt without (its CAs and their keys, sa.key, the static pod manifests, the kubeconfigs,
kubeadm's and the kubelet's configuration) and the EncryptionConfiguration kube-apiserver names, in one archive
encrypted on this host to the backup's recipients (archive.py has the format). Retention ranks bundles by the
snapshot they belong to, as etcd_snapshot_prune ranks snapshots, so a set is kept or removed as one."""
from __future__ import annotations

import datetime
import glob
import hashlib
import json
import os
from typing import TYPE_CHECKING, Any

from ansible_collections.etcdops.dr.plugins.module_utils._argspec import ArgumentSpec
from ansible_collections.etcdops.dr.plugins.module_utils._bundle import archive
from ansible_collections.etcdops.dr.plugins.module_utils._bundle.archive import BundleError
from ansible_collections.etcdops.dr.plugins.module_utils._crypto.envelope import public_key
from ansible_collections.etcdops.dr.plugins.module_utils._crypto.stream import Sealer
from ansible_collections.etcdops.dr.plugins.module_utils._host import files as _files
from ansible_collections.etcdops.dr.plugins.module_utils._host.member_config import (
    Unreadable, _pod_host_path, _yaml_load, parse_flags, read_text)
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot import retention
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.file import MANIFEST_SUFFIX, companion_of, ensure_dir

if TYPE_CHECKING:
    from ansible_collections.etcdops.dr.plugins.module_utils._host.run import HostContext

# kubeadm's layout: the CAs and keys (etcd's, the cluster's, the front proxy's, sa.key), the static pod manifests,
# the kubeconfigs, a kubeadm config file where sites keep one, and the kubelet's configuration kubeadm wrote.
KUBEADM_PATHS = [
    "/etc/kubernetes/pki/**",
    "/etc/kubernetes/manifests/*.yaml",
    "/etc/kubernetes/*.conf",
    "/etc/kubernetes/kubeadm*.yaml",
    "/var/lib/kubelet/config.yaml",
    "/var/lib/kubelet/kubeadm-flags.env",
]
ENCRYPTION_FLAG = "--encryption-provider-config"

ARGUMENT_SPEC = ArgumentSpec(dict(
    dest_dir=dict(type="path", required=True),
    snapshot_name=dict(type="str", required=True),
    host_label=dict(type="str", required=True),
    member=dict(type="dict", default={}, options=dict(name=dict(type="str"), peer_url=dict(type="str"),
                                                      client_url=dict(type="str"))),
    paths=dict(type="list", elements="str", default=KUBEADM_PATHS),
    kube_apiserver_manifest=dict(type="path", default="/etc/kubernetes/manifests/kube-apiserver.yaml"),
    recipients=dict(type="list", elements="str", default=[], no_log=True),
    plaintext=dict(type="bool", default=False),
    owner=dict(type="str"),
    group=dict(type="str"),
    prefix=dict(type="str", default="etcd-snapshot"),
    keep_last=dict(type="int", default=0),
    max_age=dict(type="str", default=""),
))


def encryption_config_path(manifest: str) -> str | None:
    """The host path of the file kube-apiserver's static pod names with --encryption-provider-config, or None when
    there is no such manifest or flag."""
    if not os.path.exists(manifest):
        return None
    where = "kube-apiserver manifest %s" % manifest
    doc = _yaml_load(read_text(manifest, "kube-apiserver manifest"), where)
    spec = (doc or {}).get("spec") or {} if isinstance(doc, dict) else {}
    for container in spec.get("containers") or []:
        argv = [str(arg) for arg in (container.get("command") or []) + (container.get("args") or [])]
        value = parse_flags(argv[1:]).get(ENCRYPTION_FLAG[2:])
        if value:
            try:
                return _pod_host_path(spec, container, value)
            except Unreadable as exc:
                raise BundleError("%s: %s; kube-apiserver's EncryptionConfiguration cannot be bundled from the "
                                  "host" % (where, exc)) from None
    return None


def expand(patterns: list[str]) -> tuple[list[str], list[str]]:
    """(files, unmatched patterns): the regular files and symlinks the glob patterns name (** across dirs), sorted."""
    found: set[str] = set()
    unmatched = []
    for pattern in patterns:
        if not os.path.isabs(pattern):
            raise BundleError("bundle path %r is relative: give absolute paths (globs allowed, ** for every dir "
                              "below)" % pattern)
        matches = [path for path in glob.glob(pattern, recursive=True)
                   if os.path.islink(path) or os.path.isfile(path)]
        if not matches:
            unmatched.append(pattern)
        found.update(os.path.normpath(path) for path in matches)
    return sorted(found), unmatched


class Bundle:
    """One host's bundle for one snapshot. `result` is what the module returns."""

    def __init__(self, params: dict[str, Any], host: HostContext) -> None:
        self.params = params
        self.host = host
        self.recipients: list[tuple[str, bytes]] = []
        self.manifest: dict[str, Any] = {}
        self.path = ""
        # This snapshot's bundle is not here yet with these files: apply() writes it.
        self.to_write = False
        self.result: dict[str, Any] = dict(changed=False, path=None, manifest_path=None, sha256=None, size=None,
                                           encrypted=None, files=[], unmatched=[], encryption_provider_config=None,
                                           removed=[])

    def plan(self) -> None:
        params, result = self.params, self.result
        self.recipients = [public_key(text, "recipients[%d]" % index) for index, text in enumerate(params["recipients"])]
        if not self.recipients and not params["plaintext"]:
            raise BundleError("the control-plane bundle holds the cluster's CA keys, sa.key and the Secrets' "
                              "encryption keys: give recipients to encrypt it to (backup_encryption_recipients), or "
                              "set plaintext (backup_bundle_plaintext: true) to accept it unencrypted. Nothing was "
                              "written.")
        paths, unmatched = expand(params["paths"])
        encryption_config = encryption_config_path(params["kube_apiserver_manifest"])
        if encryption_config:
            if not os.path.isfile(encryption_config):
                raise BundleError("kube-apiserver names %s with %s, and there is no such file: without it the "
                                  "Secrets in the snapshot cannot be read. Nothing was written." % (
                                      encryption_config, ENCRYPTION_FLAG))
            paths = sorted(set(paths) | {os.path.normpath(encryption_config)})
        if not paths:
            raise BundleError("none of the bundle paths matches a file on this host (%s): give the paths of this "
                              "control plane's files (backup_bundle_paths), or turn the bundle off (backup_bundle: "
                              "false). Nothing was written." % ", ".join(params["paths"]))
        entries = [archive.describe(path) for path in paths]
        total = sum(entry["size"] for entry in entries)
        if total > archive.MAX_BYTES:
            raise BundleError("the bundle paths match %d bytes in %d files, more than the %d a control plane's "
                              "files take: narrow backup_bundle_paths. Nothing was written." % (
                                  total, len(entries), archive.MAX_BYTES))
        self.manifest = dict(format=archive.FORMAT, host=params["host_label"], snapshot=params["snapshot_name"],
                             member=params["member"] or {}, encryption_provider_config=encryption_config,
                             files=entries)
        encrypted = bool(self.recipients)
        self.path = os.path.join(params["dest_dir"],
                                 archive.bundle_name(params["snapshot_name"], params["host_label"], encrypted))
        result.update(path=self.path, manifest_path=self.path + MANIFEST_SUFFIX, encrypted=encrypted,
                      files=[{key: entry[key] for key in ("path", "size", "mode", "owner", "group", "type", "sha256")}
                             for entry in entries],
                      unmatched=unmatched, encryption_provider_config=encryption_config)
        held = self._held()
        if held:
            result.update(sha256=held["sha256"], size=held["size"])
        self.to_write = not held
        result["changed"] = self.to_write
        self._plan_retention()

    def _contents_sha256(self) -> str:
        return hashlib.sha256(json.dumps(self.manifest, sort_keys=True).encode("utf-8")).hexdigest()

    def _held(self) -> dict[str, Any] | None:
        """The manifest of this snapshot's bundle already written here with these very files, else None."""
        try:
            with open(self.path + MANIFEST_SUFFIX, "rb") as handle:
                held = json.loads(handle.read())
        except (OSError, ValueError):
            return None
        if held.get("contents_sha256") != self._contents_sha256() or not os.path.isfile(self.path):
            return None
        if os.path.getsize(self.path) != held.get("size") or _files.file_sha256(self.path) != held.get("sha256"):
            return None
        return held

    def _plan_retention(self) -> None:
        params = self.params
        directory = params["dest_dir"]
        names = os.listdir(directory) if os.path.isdir(directory) else []
        by_snapshot: dict[str, list[str]] = {}
        for name in names:
            snapshot = companion_of(name)
            if snapshot and archive.bundle_host(name.removesuffix(MANIFEST_SUFFIX)) == params["host_label"]:
                by_snapshot.setdefault(snapshot, []).append(name)
        dummy, remove = retention.rank(by_snapshot, params["prefix"], params["keep_last"],
                                       retention.parse_max_age(params["max_age"]), [params["snapshot_name"]],
                                       datetime.datetime.now(datetime.timezone.utc))
        self.result["removed"] = sorted(os.path.join(directory, name) for snapshot, dummy in remove
                                        for name in by_snapshot.get(snapshot, []))
        self.result["changed"] = self.result["changed"] or bool(self.result["removed"])

    def would(self) -> str:
        return self._summary("would bundle", "would remove")

    def apply(self) -> None:
        params, result = self.params, self.result
        if self.to_write:
            ensure_dir(params["dest_dir"])
            uid, gid = _files.owner_ids(params["owner"], params["group"])
            handle, temp_path = _files.temp_file_in(params["dest_dir"], os.path.basename(self.path))
            try:
                if self.recipients:
                    sealer = Sealer(handle, self.recipients)
                    archive.write(sealer, self.manifest)  # type: ignore[arg-type]
                    sealer.close()
                    sha256, size = sealer.digest.hexdigest(), sealer.size
                else:
                    hashing = _HashingWriter(handle)
                    archive.write(hashing, self.manifest)  # type: ignore[arg-type]
                    sha256, size = hashing.digest.hexdigest(), hashing.size
                if uid is not None or gid is not None:
                    os.fchown(handle.fileno(), -1 if uid is None else uid, -1 if gid is None else gid)
                _files.commit(handle, temp_path, self.path)
            except BaseException:
                _files.discard(handle, temp_path)
                raise
            outer = dict(kind="control-plane-bundle", format=archive.FORMAT, name=os.path.basename(self.path),
                         host=params["host_label"], member=self.manifest["member"], snapshot=params["snapshot_name"],
                         sha256=sha256, size=size,
                         encrypted=bool(self.recipients), recipients=[ident for ident, dummy in self.recipients],
                         files=len(self.manifest["files"]), contents_sha256=self._contents_sha256(),
                         encryption_provider_config=self.manifest["encryption_provider_config"],
                         created=_files.utc_stamp())
            _files.write_atomic(self.path + MANIFEST_SUFFIX,
                                (json.dumps(outer, indent=2, sort_keys=True) + "\n").encode("utf-8"))
            if uid is not None or gid is not None:
                os.chown(self.path + MANIFEST_SUFFIX, -1 if uid is None else uid, -1 if gid is None else gid)
            result.update(sha256=sha256, size=size)
        for path in result["removed"]:
            os.unlink(path)
        if result["removed"]:
            _files.fsync_dir(params["dest_dir"])

    def done(self) -> str:
        return self._summary("bundled", "removed")

    def _summary(self, verb: str, removing: str) -> str:
        what = ("%s %d files into %s%s" % (verb, len(self.result["files"]), self.path,
                                           "" if self.result["encrypted"] else " UNENCRYPTED")
                if self.to_write else "the bundle %s is already there" % self.path)
        if self.result["unmatched"]:
            what += "; no file matched %s" % ", ".join(self.result["unmatched"])
        if self.result["removed"]:
            what += "; %s %d older bundle file(s)" % (removing, len(self.result["removed"]))
        return what


class _HashingWriter:
    """A file-like writer that hashes and counts what passes through to `out`."""

    def __init__(self, out: Any) -> None:
        self.out = out
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.out.write(data)
        self.digest.update(data)
        self.size += len(data)
        return len(data)
