# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A restore onto new hosts (restore_new_hosts), decided on the controller before any host is touched: which lost
member each new host replaces, and so which control-plane bundle it gets. The bundles are the ones taken beside the
snapshot (<snapshot>.bundle-<host>.tar[.enc], each with a .json manifest naming its member). A host names the member
it replaces with restore_new_host_of, or keeps that member's name; anything else is ambiguous and refused."""
from __future__ import annotations

import glob
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.file import companion_of


def bundles_beside(snapshot: str) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """({old member name: bundle manifest with `path`}, problems) of the bundles beside the snapshot file."""
    found: dict[str, dict[str, Any]] = {}
    problems = []
    directory, name = os.path.split(snapshot)
    for path in sorted(glob.glob(os.path.join(glob.escape(directory), glob.escape(name) + ".bundle-*.json"))):
        if companion_of(os.path.basename(path)) != name:
            continue
        try:
            with open(path) as handle:
                manifest = json.load(handle)
        except (OSError, ValueError) as exc:
            problems.append("the bundle manifest %s cannot be read (%s)." % (path, exc))
            continue
        member = (manifest.get("member") or {}).get("name")
        bundle = path[:-len(".json")]
        if not member:
            problems.append("%s records no member name: the new host that takes its place cannot be told." % path)
        elif not os.path.isfile(bundle):
            problems.append("%s has a manifest but the bundle itself is missing." % bundle)
        elif member in found:
            problems.append("two bundles beside the snapshot were taken beside member %s: %s and %s." % (
                member, found[member]["path"], bundle))
        else:
            found[member] = dict(manifest, path=bundle)
    return found, problems


def plan(hosts: Sequence[str], hostvars: Mapping[str, Any], snapshot: str) -> dict[str, Any]:
    """{ok, problems, mapping {host: {old_member, bundle, old_peer_url}}, shown}."""
    bundles, problems = bundles_beside(snapshot)
    if not bundles and not problems:
        problems.append("there is no control-plane bundle beside %s (<snapshot>.bundle-<host>.tar.enc and its .json): "
                        "a rebuild on new hosts needs the bundles the backup took (backup_bundle). Copy them beside "
                        "the snapshot." % snapshot)
    mapping: dict[str, dict[str, Any]] = {}
    taken: dict[str, str] = {}
    unresolved = []
    for host in hosts:
        own = hostvars[host]
        namesake = own.get("etcd_member_name") if own.get("etcd_member_name") in bundles else None
        old = own.get("restore_new_host_of") or namesake
        if not old:
            unresolved.append(host)
            continue
        if old not in bundles:
            problems.append("%s: restore_new_host_of is %s, and no bundle beside the snapshot was taken beside that "
                            "member (bundles of: %s)." % (host, old, ", ".join(sorted(bundles)) or "none"))
            continue
        if old in taken:
            problems.append("%s and %s both replace member %s: give each new host a member of its own "
                            "(restore_new_host_of)." % (taken[old], host, old))
            continue
        taken[old] = host
        mapping[host] = dict(old_member=old, bundle=bundles[old]["path"],
                             old_peer_url=bundles[old]["member"].get("peer_url"),
                             old_client_url=bundles[old]["member"].get("client_url"))
    if unresolved:
        left = [name for name in sorted(bundles) if name not in taken]
        problems.append("which lost member each of %s replaces is not said: set restore_new_host_of on each (one of "
                        "%s), e.g. %s." % (", ".join(unresolved), ", ".join(left) or "no bundle left",
                                           "; ".join("%s: restore_new_host_of=%s" % pair
                                                     for pair in zip(unresolved, left)) or "-"))
    missing = sorted(set(bundles) - set(taken))
    if missing and not unresolved:
        problems.append("the snapshot's bundles include members %s, which no new host replaces: give the play one new "
                        "host per lost member." % ", ".join(missing))
    shown = ", ".join("%s (%s) -> %s as %s (%s)" % (
        entry["old_member"], entry["old_peer_url"], host, hostvars[host].get("etcd_member_name"),
        hostvars[host].get("etcd_peer_url")) for host, entry in mapping.items())
    return dict(ok=not problems, problems=problems, mapping=mapping, shown=shown)
