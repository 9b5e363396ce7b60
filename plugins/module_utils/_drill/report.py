# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A drill's report: one JSON document (docs/drill.md gives its schema) judged from what the drill measured, and
three views of it: Markdown, a self-contained HTML page, and a Prometheus textfile."""
from __future__ import annotations

import datetime
import html
import json
import os
import re
from typing import TYPE_CHECKING, Any

from ansible_collections.etcdops.dr.plugins.module_utils._argspec import ArgumentSpec
from ansible_collections.etcdops.dr.plugins.module_utils._drill.bundles import SAMPLE, bundles_beside, check_bundles
from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError
from ansible_collections.etcdops.dr.plugins.module_utils._etcd.resources import compare
from ansible_collections.etcdops.dr.plugins.module_utils._host.files import write_atomic
from ansible_collections.etcdops.dr.plugins.module_utils._runner import planned
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.retention import RetentionError, parse_max_age

if TYPE_CHECKING:
    from ansible_collections.etcdops.dr.plugins.module_utils._host.run import HostContext

SCHEMA_VERSION = 1
PHASES = ("fetch", "decrypt", "preflight", "stop", "restore", "start", "verify")
PLAIN_SECONDS = re.compile(r"^\s*\d+(?:\.\d+)?\s*$")


class ReportError(EtcdOpsError):
    """The drill's measurements or thresholds cannot make a report; msg says which."""


def seconds(value: Any, name: str) -> float | None:
    """Seconds from 900, '900', or an age as retention's max_age takes it ('15m', '24h', '7d', '2w'); None for an
    empty value."""
    if value in (None, "", 0, "0"):
        return None
    if PLAIN_SECONDS.match(str(value)):
        return float(value)
    try:
        return parse_max_age(str(value))
    except RetentionError:
        raise ReportError("%s is %r: give seconds (900) or a number with s, m, h, d or w (15m, 24h, 7d)"
                          % (name, value)) from None


def _iso_epoch(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
    except ValueError:
        return None


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check(name: str, status: str, detail: str) -> dict[str, str]:
    return dict(name=name, status=status, detail=detail)


def _snapshot_checks(snapshot: dict[str, Any], cluster: dict[str, Any], live: dict[str, Any]) -> list[dict[str, str]]:
    checks = []
    manifest = snapshot.get("manifest") or {}
    whole = snapshot.get("status") in ("ok", "unverified")
    verified_by = snapshot.get("verified_by") or []
    detail = "sha256 %s, verified by %s" % (snapshot.get("sha256"), " and ".join(verified_by) or "nothing")
    if not whole:
        status = str(snapshot.get("status")).replace("_", " ")
        detail = "the file is %s: %s" % (status, "; ".join(snapshot.get("problems") or []))
    elif not manifest:
        detail += " (no manifest beside it to compare with)"
    checks.append(_check("sha256", "passed" if whole and verified_by else "failed", detail))
    members = snapshot.get("members") or []
    names, peers = set(cluster.get("names") or []), set(cluster.get("peer_urls") or [])
    recorded = manifest.get("cluster_id")
    if not members and not recorded:
        checks.append(_check("same_cluster", "not_run", "the snapshot lists no members and has no manifest"))
    else:
        same = (recorded and recorded == live.get("cluster_id")) or any(
            m.get("name") in names or peers & set(m.get("peer_urls") or []) for m in members)
        shown = ", ".join("%s at %s" % (m.get("name"), " ".join(m.get("peer_urls") or [])) for m in members)
        checks.append(_check("same_cluster", "passed" if same else "failed", (
            "the snapshot's members (%s) are members of the drilled inventory" % shown) if same else (
            "the backup is of another cluster: its members are %s (cluster id %s), none of them in the inventory "
            "(%s)" % (shown or "not recorded", recorded or "not recorded", ", ".join(sorted(names))))))
    return checks


def _member_checks(drill: dict[str, Any]) -> list[dict[str, str]]:
    members = drill.get("members") or []
    snapshot = drill.get("snapshot") or {}
    if not members:
        why = "no drilled member was read (the drill stopped before)"
        return [_check(name, "not_run", why) for name in ("revision", "key_count", "kv_hash")]
    low, high = drill.get("expected_revision"), drill.get("expected_revision_max") or drill.get("expected_revision")
    revisions = ["%s %s" % (m["name"], m.get("revision")) for m in members]
    if low is None:
        revision = _check("revision", "not_run", "the snapshot's database gave no revision to expect")
    else:
        good = all(m.get("revision") is not None and low <= m["revision"] <= high for m in members)
        revision = _check("revision", "passed" if good else "failed", "expected %s%s (snapshot revision %s); %s" % (
            low, "" if low == high else " to %s" % high, snapshot.get("revision"), ", ".join(revisions)))
    wanted = snapshot.get("key_count")
    recorded = (snapshot.get("manifest") or {}).get("key_count")
    counts = ["%s %s" % (m["name"], m.get("key_count")) for m in members]
    if wanted is None:
        keys = _check("key_count", "not_run", "the snapshot's keys were not counted")
    else:
        good = all(m.get("key_count") == wanted for m in members) and recorded in (None, wanted)
        keys = _check("key_count", "passed" if good else "failed", "snapshot %s keys%s; %s" % (
            wanted, "" if recorded is None else ", manifest %s" % recorded, ", ".join(counts)))
    if len(members) < 2:
        kv_hash = _check("kv_hash", "not_run", "one member (scratch mode): nothing to compare its KV hash with (%s)"
                         % _hash(members[0]))
    else:
        hashes = {_hash(m) for m in members}
        kv_hash = _check("kv_hash", "passed" if len(hashes) == 1 and None not in hashes else "failed",
                         ", ".join("%s %s" % (m["name"], _hash(m)) for m in members))
    return [revision, keys, kv_hash]


def _hash(member: dict[str, Any]) -> int | None:
    """The KV hash of a member reading: the scratch module's number, or etcd_cluster_info's {hash, revision}."""
    value = member.get("hash_kv")
    return value.get("hash") if isinstance(value, dict) else value


BUNDLE_PARTS = ("archive", "certificates", "secrets")


def _bundle_checks(bundles: dict[str, Any] | None) -> list[dict[str, str]]:
    """One check per bundle and part (bundle_archive:<host>, ...); one not-run check when they could not be looked
    at; none when there is no bundle beside the snapshot."""
    if not bundles:
        return []
    if not bundles.get("bundles"):
        why = bundles.get("not_run")
        return [_check("bundles", "not_run", why)] if why and not bundles.get("found") == 0 else []
    return [_check("bundle_%s:%s" % (part, entry.get("host")), entry[part]["status"], entry[part]["detail"])
            for entry in bundles["bundles"] for part in BUNDLE_PARTS]


def _bundle_section(bundles: dict[str, Any] | None) -> dict[str, Any]:
    """The report's view of the bundle check: per bundle its parts, certificates and Secrets' counts."""
    bundles = bundles or {}
    entries = []
    for entry in bundles.get("bundles") or []:
        summary = entry["secrets"].get("summary") or {}
        entries.append(dict(
            name=entry.get("name"), host=entry.get("host"), member=(entry.get("member") or {}).get("name"),
            encrypted=entry.get("encrypted"), files=entry.get("files"),
            encryption_provider_config=entry.get("encryption_provider_config"),
            **{part: dict(status=entry[part]["status"], detail=entry[part]["detail"]) for part in BUNDLE_PARTS},
            certificates_list=[{name: cert.get(name) for name in ("path", "subject", "not_after", "days_left",
                                                                  "chains", "is_ca")}
                               for cert in entry["certificates"].get("certificates") or []],
            secrets_counts={name: summary.get(name) for name in ("samples", "decrypted", "unencrypted", "kms",
                                                                 "failed", "stale")} if summary else None,
            secrets_notes=summary.get("notes") or [], secrets_failures=summary.get("failures") or [],
            secrets_config=summary.get("config")))
    return dict(found=bundles.get("found"), checked_on=bundles.get("checked_on"),
                secrets_sampled=bundles.get("secrets_sampled"), sample_problem=bundles.get("sample_problem"),
                not_run=bundles.get("not_run"), bundles=entries)


def _threshold_check(name: str, value: float | None, limit: float | None, option: str) -> dict[str, str]:
    if limit is None:
        return _check(name, "not_run", "no %s given" % option)
    if value is None:
        return _check(name, "failed", "%s is %ss but the %s could not be measured" % (option, limit, name.upper()))
    good = value <= limit
    return _check(name, "passed" if good else "failed", "%s %.1fs %s %s %.1fs" % (
        name.upper(), value, "within" if good else "exceeds", option, limit))


def build(drill: dict[str, Any], max_rto: Any = None, max_rpo: Any = None) -> dict[str, Any]:
    """The report document from what the drill measured (the role's `drill` dict)."""
    limit_rto, limit_rpo = seconds(max_rto, "drill_max_rto"), seconds(max_rpo, "drill_max_rpo")
    snapshot = drill.get("snapshot") or {}
    manifest = snapshot.get("manifest") or {}
    live = drill.get("live") or {}
    started, verified = drill["started"], drill.get("verified")
    phases = {name: round(float(value), 3) for name, value in (drill.get("phases") or {}).items() if value is not None}
    created = _iso_epoch(manifest.get("created"))
    if created is None and snapshot.get("mtime") is not None:
        created = float(snapshot["mtime"])
    rto = round(verified - started, 3) if verified is not None and not drill.get("failure") else None
    rpo = round(started - created, 3) if created is not None else None
    snapshot_revision = manifest.get("revision") or snapshot.get("revision")
    gap = (live["revision"] - snapshot_revision
           if live.get("revision") is not None and snapshot_revision is not None else None)
    checks = _snapshot_checks(snapshot, drill.get("cluster") or {}, live) + _member_checks(drill)
    checks += _bundle_checks(drill.get("bundles"))
    checks.append(_threshold_check("rto", rto, limit_rto, "drill_max_rto"))
    checks.append(_threshold_check("rpo", rpo, limit_rpo, "drill_max_rpo"))
    drilled = drill["resources"] if "resources" in drill else (drill.get("members") or [{}])[0].get("resources")
    failures = [drill["failure"]] if drill.get("failure") else []
    failures += ["%s: %s" % (c["name"], c["detail"]) for c in checks if c["status"] == "failed"]
    return dict(
        schema_version=SCHEMA_VERSION, mode=drill["mode"], result="failed" if failures else "passed",
        failures=failures, started=_iso(started), finished=_iso(drill.get("finished") or verified or started),
        drill_hosts=drill.get("hosts") or [],
        snapshot=dict(path=snapshot.get("path"), source=drill.get("source"), sha256=snapshot.get("sha256"),
                      size=snapshot.get("size"), created=_iso(created), revision=snapshot_revision,
                      key_count=snapshot.get("key_count"), cluster_id=manifest.get("cluster_id"),
                      etcd_version=manifest.get("etcd_version"), encrypted=bool(snapshot.get("encryption"))),
        rto_seconds=rto, rpo_seconds=rpo, revision_gap=gap, max_rto_seconds=limit_rto, max_rpo_seconds=limit_rpo,
        phases=[dict(name=name, seconds=phases[name]) for name in PHASES if name in phases],
        checks=checks, members=[dict(name=m.get("name"), revision=m.get("revision"), key_count=m.get("key_count"),
                                     hash_kv=_hash(m)) for m in drill.get("members") or []],
        live=dict(read=bool(live.get("revision") is not None), cluster_id=live.get("cluster_id"),
                  revision=live.get("revision"), error=live.get("error")),
        resources=compare(drilled, live.get("resources")) if drilled is not None else [],
        bundles=_bundle_section(drill.get("bundles")),
    )


def summary(doc: dict[str, Any]) -> str:
    """One line for the play's output and for set_stats."""
    if doc["result"] == "failed":
        return "drill FAILED (%s mode): %s" % (doc["mode"], "; ".join(doc["failures"]))
    return "drill passed (%s mode): %s restored and verified; RTO %s, RPO %s%s%s" % (
        doc["mode"], doc["snapshot"]["path"], _human(doc["rto_seconds"]), _human(doc["rpo_seconds"]),
        "" if doc["revision_gap"] is None else ", %d revisions behind the live cluster" % doc["revision_gap"],
        bundle_summary(doc))


def bundle_summary(doc: dict[str, Any]) -> str:
    """The bundle check in a few words for the summary line ("" when there was no bundle to check)."""
    section = doc.get("bundles") or {}
    entries = section.get("bundles") or []
    if not entries:
        return "; bundle check not run: %s" % section["not_run"] if section.get("not_run") and section.get(
            "found") != 0 else ""
    parts = []
    for entry in entries:
        counts = entry["secrets_counts"] or {}
        states = {part: entry[part]["status"] for part in BUNDLE_PARTS}
        if states["archive"] != "passed":
            parts.append("%s %s" % (entry["host"], "not opened" if states["archive"] == "not_run" else "DAMAGED"))
            continue
        secrets = ("%d of %d sampled Secrets decrypted" % (counts.get("decrypted") or 0, counts.get("samples") or 0)
                   if states["secrets"] == "passed" and counts.get("decrypted") else
                   "Secrets stored unencrypted" if states["secrets"] == "passed" else
                   "Secrets not checked" if states["secrets"] == "not_run" else
                   "%d of %d sampled Secrets NOT decrypted" % (counts.get("failed") or 0, counts.get("samples") or 0))
        certificates = {"passed": "certificates chain", "failed": "certificates FAILED",
                        "not_run": "no certificate"}[states["certificates"]]
        parts.append("%s whole, %s, %s" % (entry["host"], certificates, secrets))
    return "; control-plane bundles: %s" % "; ".join(parts)


def _human(value: float | None) -> str:
    if value is None:
        return "not measured"
    if value < 120:
        return "%.1fs" % value
    if value < 7200:
        return "%.1fm" % (value / 60)
    return "%.1fh" % (value / 3600)


def markdown(doc: dict[str, Any]) -> str:
    snap = doc["snapshot"]
    lines = ["# etcd DR drill: %s" % doc["result"].upper(), "",
             "%s mode, started %s on %s." % (doc["mode"], doc["started"], ", ".join(doc["drill_hosts"]) or "-"), ""]
    lines += ["- **Failed:** %s" % failure for failure in doc["failures"]]
    lines += ["- **RTO** %s (drill_max_rto %s)" % (_human(doc["rto_seconds"]), _limit(doc["max_rto_seconds"])),
              "- **RPO** %s (drill_max_rpo %s)%s" % (
                  _human(doc["rpo_seconds"]), _limit(doc["max_rpo_seconds"]),
                  "" if doc["revision_gap"] is None else "; %d revisions behind the live cluster" % doc["revision_gap"]),
              "- **Snapshot** `%s` (%s), %s bytes, revision %s, %s keys, taken %s%s" % (
                  snap["path"], snap["sha256"], snap["size"], snap["revision"], snap["key_count"], snap["created"],
                  ", encrypted" if snap["encrypted"] else ""), "",
              "## Phases", "", "| Phase | Seconds |", "|---|---:|"]
    lines += ["| %s | %.1f |" % (p["name"], p["seconds"]) for p in doc["phases"]]
    lines += ["", "## Checks", "", "| Check | Result | Detail |", "|---|---|---|"]
    lines += ["| %s | %s | %s |" % (c["name"], c["status"], c["detail"].replace("|", "\\|")) for c in doc["checks"]]
    lines += _bundle_markdown(doc["bundles"])
    if doc["resources"]:
        lines += ["", "## Kubernetes objects", "", "| Resource | Snapshot | Live | Difference |", "|---|---:|---:|---:|"]
        lines += ["| %s | %s | %s | %s |" % (r["resource"], r["snapshot"], _dash(r["live"]), _signed(r["difference"]))
                  for r in doc["resources"]]
    return "\n".join(lines) + "\n"


def _bundle_markdown(section: dict[str, Any]) -> list[str]:
    if not section["bundles"]:
        return ["", "## Control-plane bundles", "", section["not_run"] or "none checked"] if section["not_run"] else []
    lines = ["", "## Control-plane bundles", "", "%d beside the snapshot; %s Secrets sampled from the snapshot's "
             "database%s." % (section["found"], _dash(section["secrets_sampled"]), (
                 " (%s)" % section["sample_problem"]) if section["sample_problem"] else ""), "",
             "| Bundle | Archive | Certificates | Secrets |", "|---|---|---|---|"]
    for entry in section["bundles"]:
        lines.append("| %s (%s) | %s | %s | %s |" % (
            entry["name"], entry["host"], *("%s: %s" % (entry[part]["status"], entry[part]["detail"].replace(
                "|", "\\|")) for part in BUNDLE_PARTS)))
    for entry in section["bundles"]:
        if entry["certificates_list"]:
            lines += ["", "Certificates of %s:" % entry["host"], "", "| Certificate | Subject | Expires | Days left "
                      "| Chains |", "|---|---|---|---:|---|"]
            lines += ["| %s | %s | %s | %s | %s |" % (c["path"], c["subject"], c["not_after"], c["days_left"],
                                                      c["chains"]) for c in entry["certificates_list"]]
    return lines


def _limit(value: float | None) -> str:
    return "not set" if value is None else _human(value)


def _dash(value: Any) -> str:
    return "-" if value is None else str(value)


def _signed(value: int | None) -> str:
    return "-" if value is None else "%+d" % value if value else "0"


STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:60em;color:#1d2330;padding:0 1em}
h1{font-size:1.6em}h1 .passed{color:#0a7d32}h1 .failed{color:#b3261e}
.cards{display:flex;gap:1em;flex-wrap:wrap}.card{border:1px solid #d5dae3;border-radius:8px;padding:.7em 1em;
min-width:10em}.card b{display:block;font-size:1.5em}table{border-collapse:collapse;width:100%;margin:.5em 0 1.5em}
th,td{border-bottom:1px solid #e3e7ee;padding:.35em .6em;text-align:left;vertical-align:top}td.n{text-align:right}
.passed{color:#0a7d32;font-weight:600}.failed{color:#b3261e;font-weight:600}.not_run{color:#8a6d00}
ul.failures li{color:#b3261e}code{font-size:.9em}
"""
COLORS = ("#3b6fd1", "#8e44ad", "#16a085", "#d35400", "#2c3e50", "#c0392b", "#27ae60")


def _timeline(phases: list[dict[str, Any]]) -> str:
    """The phases as one horizontal bar per phase, placed on a shared time axis (inline SVG)."""
    total = sum(p["seconds"] for p in phases) or 1.0
    width, left, row = 640, 90, 26
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img" aria-label="phase timeline">'
             % (left + width + 70, row * len(phases) + 10)]
    at = 0.0
    for index, phase in enumerate(phases):
        x = left + width * at / total
        w = max(1.0, width * phase["seconds"] / total)
        y = 5 + index * row
        parts.append('<text x="%d" y="%d" font-size="13">%s</text>' % (4, y + 16, html.escape(phase["name"])))
        parts.append('<rect x="%.1f" y="%d" width="%.1f" height="18" rx="3" fill="%s"/>'
                     % (x, y + 2, w, COLORS[index % len(COLORS)]))
        parts.append('<text x="%.1f" y="%d" font-size="12">%.1fs</text>' % (x + w + 4, y + 16, phase["seconds"]))
        at += phase["seconds"]
    parts.append("</svg>")
    return "".join(parts)


def page(doc: dict[str, Any]) -> str:
    """The report as one HTML page with no external resources (no scripts, styles or fonts fetched)."""
    esc = html.escape
    snap = doc["snapshot"]
    cards = [("Result", doc["result"]), ("RTO", _human(doc["rto_seconds"])), ("RPO", _human(doc["rpo_seconds"])),
             ("Revision gap", _dash(doc["revision_gap"])), ("Keys", _dash(snap["key_count"])),
             ("Size", "%s bytes" % _dash(snap["size"]))]
    out = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           "<title>etcd DR drill %s %s</title><style>%s</style></head><body>" % (
               esc(doc["started"] or ""), esc(doc["result"]), STYLE),
           '<h1>etcd DR drill: <span class="%s">%s</span></h1>' % (doc["result"], doc["result"].upper()),
           "<p>%s mode, started %s on %s. Snapshot <code>%s</code> (sha256 <code>%s</code>), taken %s%s.</p>" % (
               esc(doc["mode"]), esc(doc["started"] or ""), esc(", ".join(doc["drill_hosts"])), esc(str(snap["path"])),
               esc(str(snap["sha256"])), esc(str(snap["created"])), ", encrypted" if snap["encrypted"] else "")]
    if doc["failures"]:
        out.append('<ul class="failures">%s</ul>' % "".join("<li>%s</li>" % esc(f) for f in doc["failures"]))
    out.append('<div class="cards">%s</div>' % "".join(
        '<div class="card">%s<b>%s</b></div>' % (esc(name), esc(str(value))) for name, value in cards))
    out.append("<h2>Phases</h2>%s" % _timeline(doc["phases"]) if doc["phases"] else "<h2>Phases</h2><p>none ran</p>")
    out.append("<h2>Checks</h2><table><tr><th>Check</th><th>Result</th><th>Detail</th></tr>%s</table>" % "".join(
        '<tr><td>%s</td><td class="%s">%s</td><td>%s</td></tr>' % (
            esc(c["name"]), c["status"], esc(c["status"].replace("_", " ")), esc(c["detail"])) for c in doc["checks"]))
    if doc["resources"]:
        out.append("<h2>Kubernetes objects</h2><table><tr><th>Resource</th><th>Snapshot</th><th>Live</th>"
                   "<th>Difference</th></tr>%s</table>" % "".join(
                       '<tr><td>%s</td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td></tr>' % (
                           esc(r["resource"]), r["snapshot"], _dash(r["live"]), _signed(r["difference"]))
                       for r in doc["resources"]))
    section = doc["bundles"]
    if section["bundles"]:
        out.append("<h2>Control-plane bundles</h2><p>%d beside the snapshot; %s Secrets sampled from its database%s."
                   "</p><table><tr><th>Bundle</th><th>Archive</th><th>Certificates</th><th>Secrets</th></tr>%s</table>"
                   % (section["found"], esc(_dash(section["secrets_sampled"])), esc(
                       " (%s)" % section["sample_problem"] if section["sample_problem"] else ""), "".join(
                       "<tr><td>%s<br>%s</td>%s</tr>" % (esc(entry["host"] or ""), esc(entry["name"] or ""), "".join(
                           '<td><span class="%s">%s</span> %s</td>' % (
                               entry[part]["status"], esc(entry[part]["status"].replace("_", " ")),
                               esc(entry[part]["detail"])) for part in BUNDLE_PARTS))
                       for entry in section["bundles"])))
    elif section["not_run"]:
        out.append("<h2>Control-plane bundles</h2><p>%s</p>" % esc(section["not_run"]))
    live = doc["live"]
    out.append("<p>Live cluster: %s.</p>" % esc(
        "cluster %s at revision %s" % (live["cluster_id"], live["revision"]) if live["read"]
        else "not read (%s)" % (live["error"] or "not asked")))
    out.append("</body></html>\n")
    return "\n".join(out)


def _label(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def textfile(doc: dict[str, Any], cluster: str) -> str:
    """The last drill's metrics in node_exporter's textfile collector format."""
    labels = '{cluster="%s",mode="%s"}' % (_label(cluster), _label(doc["mode"]))
    snap = doc["snapshot"]
    finished = _iso_epoch(doc["finished"])
    metrics = [
        ("etcdops_drill_last_run_timestamp_seconds", "When the last drill finished (Unix time).", finished),
        ("etcdops_drill_last_success", "1 when the last drill passed, 0 when it failed.",
         1 if doc["result"] == "passed" else 0),
        ("etcdops_drill_rto_seconds", "Recovery time of the last drill: its start to a verified member.",
         doc["rto_seconds"]),
        ("etcdops_drill_rpo_seconds", "Age of the drilled snapshot when the drill started.", doc["rpo_seconds"]),
        ("etcdops_drill_revision_gap", "Revisions the live cluster was ahead of the drilled snapshot.",
         doc["revision_gap"]),
        ("etcdops_drill_snapshot_size_bytes", "Size of the drilled snapshot file.", snap["size"]),
        ("etcdops_drill_snapshot_keys", "Keys in the drilled snapshot.", snap["key_count"]),
    ]
    lines = []
    for name, help_text, value in metrics:
        if value is None:
            continue
        lines += ["# HELP %s %s" % (name, help_text), "# TYPE %s gauge" % name, "%s%s %s" % (name, labels, value)]
    if doc["phases"]:
        name = "etcdops_drill_phase_seconds"
        lines += ["# HELP %s Seconds each phase of the last drill took." % name, "# TYPE %s gauge" % name]
        lines += ['%s{cluster="%s",mode="%s",phase="%s"} %s' % (
            name, _label(cluster), _label(doc["mode"]), _label(p["name"]), p["seconds"]) for p in doc["phases"]]
    return "\n".join(lines) + "\n"


def as_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


# The report's views written beside each other: (kind, file suffix, render).
VIEWS = (("json", ".json", as_json), ("markdown", ".md", markdown), ("html", ".html", page))

ARGUMENT_SPEC = ArgumentSpec(dict(
    drill=dict(type="dict", required=True),
    dest_dir=dict(type="path", required=True),
    name=dict(type="str", required=True),
    max_rto=dict(type="str"),
    max_rpo=dict(type="str"),
    cluster=dict(type="str", default="etcd"),
    bundles_snapshot=dict(type="path"),
    decryption_key=dict(type="str", no_log=True),
    bundles_sample=dict(type="int", default=SAMPLE),
))


class DrillReport:
    """The etcd_drill_report module: plan() judges the drill and renders the report (check mode stops there);
    apply() writes its views into dest_dir. Every run writes them: `changed` is true unless in check mode."""

    def __init__(self, params: dict[str, Any], host: HostContext) -> None:
        self.params = params
        self.host = host
        self.doc: dict[str, Any] | None = None
        # Empty until the report is built: a drill that cannot make one returns the message alone.
        self.result: dict[str, Any] = {}

    def plan(self) -> None:
        """Raises ReportError for a name that is not a plain file name or measurements that make no report."""
        params = self.params
        if "/" in params["name"] or params["name"] in ("", ".", ".."):
            raise ReportError("name %r must be a plain file name (no /): the reports go into dest_dir"
                              % params["name"])
        drill = params["drill"]
        if params["bundles_snapshot"]:
            # On the controller, in this process: the bundles beside the snapshot's copy here, opened in memory.
            drill = dict(drill, bundles=dict(check_bundles(
                params["bundles_snapshot"], bundles_beside(params["bundles_snapshot"]), params["decryption_key"],
                params["bundles_sample"]), checked_on="controller"))
        try:
            doc = self.doc = build(drill, params["max_rto"], params["max_rpo"])
        except (ReportError, KeyError, TypeError, ValueError) as exc:
            raise ReportError("the drill's measurements cannot make a report: %s" % getattr(exc, "msg", repr(exc))
                              ) from None
        base = os.path.join(params["dest_dir"], params["name"])
        files = {kind: base + suffix for kind, suffix, dummy in VIEWS}
        files["textfile"] = base + ".prom"
        self.result.update(changed=not self.host.check_mode, report=doc, passed=doc["result"] == "passed",
                           summary=summary(doc), files=files, textfile=textfile(doc, params["cluster"]))

    def would(self) -> str:
        return self.result["summary"]

    def apply(self) -> None:
        """Raises OSError when dest_dir cannot be written."""
        files = self.result["files"]
        os.makedirs(self.params["dest_dir"], mode=0o755, exist_ok=True)
        for kind, dummy, render in VIEWS:
            write_atomic(files[kind], render(planned(self.doc)).encode("utf-8"), mode=0o644)
        write_atomic(files["textfile"], self.result["textfile"].encode("utf-8"), mode=0o644)

    def done(self) -> str:
        return self.result["summary"]

    def failed(self, exc: Exception) -> str:
        # A report that cannot be written returns the report alone; one that cannot be made, nothing.
        self.result.clear()
        if isinstance(exc, EtcdOpsError):
            return exc.msg
        self.result["report"] = self.doc
        return "cannot write the drill's reports into %s: %s; give a dest_dir this user can write" % (
            self.params["dest_dir"], exc)
