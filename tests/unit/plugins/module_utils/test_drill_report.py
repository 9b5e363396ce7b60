"""A drill's judgement and its views: checks from measurements (passed, failed, not run), RTO/RPO and thresholds,
the Markdown and HTML views, and the textfile as prometheus_client's parser reads it."""
import copy
import datetime
import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.etcdops.dr.plugins.module_utils._drill import report

STARTED = 1795700000.0
MANIFEST = {"cluster_id": "21eec193d7787485", "created": "2026-11-26T10:00:00Z", "revision": 101, "key_count": 100,
            "etcd_version": "3.5.1", "sha256": "ab" * 32}
SNAPSHOT = {"path": "/b/etcd-snapshot.db", "status": "ok", "verified_by": ["manifest", "trailer"], "sha256": "ab" * 32,
            "size": 36896, "revision": 101, "key_count": 100, "manifest": MANIFEST, "problems": [], "encryption": None,
            "members": [{"name": "node2", "peer_urls": ["https://10.0.0.2:2380"]}]}
DRILL = {"mode": "scratch", "started": STARTED, "verified": STARTED + 42.5, "finished": STARTED + 43,
         "hosts": ["node2"], "source": "hosts:/b/etcd-snapshot.db",
         "phases": {"fetch": 3.0, "restore": 0.5, "start": 1.0, "verify": 0.2},
         "snapshot": SNAPSHOT, "expected_revision": 101, "expected_revision_max": 101,
         "members": [{"name": "node2", "revision": 101, "key_count": 100, "hash_kv": 7,
                      "resources": {"secrets": 2, "namespaces": 3}}],
         "live": {"cluster_id": "21eec193d7787485", "revision": 108, "resources": {"secrets": 3, "pods": 1}},
         "cluster": {"names": ["node1", "node2", "node3"], "peer_urls": ["https://10.0.0.2:2380"]}, "failure": None}


def drill(**changes):
    measured = copy.deepcopy(DRILL)
    measured.update(changes)
    return measured


def statuses(doc):
    return {check["name"]: check["status"] for check in doc["checks"]}


def test_a_good_drill_passes_with_its_numbers():
    doc = report.build(drill(), "15m", "1d")
    assert doc["result"] == "passed" and doc["failures"] == []
    assert statuses(doc) == {"sha256": "passed", "same_cluster": "passed", "revision": "passed",
                             "key_count": "passed", "kv_hash": "not_run", "rto": "passed", "rpo": "passed"}
    assert doc["rto_seconds"] == 42.5 and doc["rpo_seconds"] == STARTED - datetime.datetime(
        2026, 11, 26, 10, tzinfo=datetime.timezone.utc).timestamp()
    assert doc["revision_gap"] == 7 and doc["max_rto_seconds"] == 900 and doc["max_rpo_seconds"] == 86400
    assert [p["name"] for p in doc["phases"]] == ["fetch", "restore", "start", "verify"]
    assert doc["resources"] == [
        {"resource": "namespaces", "snapshot": 3, "live": 0, "difference": -3},
        {"resource": "pods", "snapshot": 0, "live": 1, "difference": 1},
        {"resource": "secrets", "snapshot": 2, "live": 3, "difference": 1}]
    assert report.summary(doc).startswith("drill passed (scratch mode)")


@pytest.mark.parametrize("changes, failed, words", [
    ({"members": [{"name": "node2", "revision": 100, "key_count": 100, "hash_kv": 7}]}, "revision", "expected 101"),
    ({"members": [{"name": "node2", "revision": 101, "key_count": 99, "hash_kv": 7}]}, "key_count", "node2 99"),
    ({"members": [{"name": "d1", "revision": 101, "key_count": 100, "hash_kv": {"hash": 7}},
                  {"name": "d2", "revision": 101, "key_count": 100, "hash_kv": {"hash": 8}}]}, "kv_hash", "d2 8"),
    ({"snapshot": dict(SNAPSHOT, status="truncated", problems=["ends 4096 bytes early"], verified_by=[])}, "sha256",
     "truncated: ends 4096 bytes early"),
    ({"snapshot": dict(SNAPSHOT, manifest={}, members=[{"name": "other", "peer_urls": ["http://10.9.9.9:2380"]}])},
     "same_cluster", "the backup is of another cluster"),
])
def test_each_check_fails_with_its_detail(changes, failed, words):
    doc = report.build(drill(**changes))
    assert doc["result"] == "failed" and statuses(doc)[failed] == "failed"
    assert any(f.startswith(failed + ": ") and words in f for f in doc["failures"]), doc["failures"]


def test_thresholds_fail_the_drill_and_bad_ones_are_refused():
    doc = report.build(drill(), "40", "1h")
    assert statuses(doc)["rto"] == "failed" and statuses(doc)["rpo"] == "failed"
    assert "rto: RTO 42.5s exceeds drill_max_rto 40.0s" in doc["failures"]
    with pytest.raises(report.ReportError, match="drill_max_rto is 'soon'"):
        report.build(drill(), "soon")
    assert report.seconds("2d", "x") == 172800 and report.seconds("", "x") is None


def test_a_failed_step_is_the_first_failure_and_nothing_is_claimed():
    doc = report.build(drill(failure="the throwaway etcd member exited with code 3", members=[], verified=None),
                       "15m")
    assert doc["failures"][0] == "the throwaway etcd member exited with code 3"
    assert doc["rto_seconds"] is None and statuses(doc)["rto"] == "failed"
    assert statuses(doc)["revision"] == statuses(doc)["key_count"] == "not_run"


def test_a_live_cluster_that_did_not_answer_is_shown_as_not_read():
    doc = report.build(drill(live={"error": "no etcd endpoint answered"}))
    assert doc["live"] == {"read": False, "cluster_id": None, "revision": None, "error": "no etcd endpoint answered"}
    assert doc["revision_gap"] is None and all(row["live"] is None for row in doc["resources"])
    assert "not read (no etcd endpoint answered)" in report.page(doc)


def test_the_views():
    doc = report.build(drill(), "15m")
    page = report.page(doc)
    assert not re.search(r"""(src|href)\s*=|<script|url\(""", page) and "<svg" in page
    assert "<td>secrets</td>" in page and "RTO" in page
    markdown = report.markdown(doc)
    assert "| secrets | 2 | 3 | +1 |" in markdown and "| kv_hash | not_run |" in markdown
    families = {f.name: f for f in text_string_to_metric_families(report.textfile(doc, 'prod "eu"'))}
    success = families["etcdops_drill_last_success"].samples[0]
    assert success.value == 1 and success.labels == {"cluster": 'prod "eu"', "mode": "scratch"}
    assert families["etcdops_drill_rto_seconds"].samples[0].value == 42.5
    assert {s.labels["phase"] for s in families["etcdops_drill_phase_seconds"].samples} == {
        "fetch", "restore", "start", "verify"}
    failed = report.build(drill(failure="x", members=[], verified=None))
    failed_families = {f.name: f for f in text_string_to_metric_families(report.textfile(failed, "etcd"))}
    assert failed_families["etcdops_drill_last_success"].samples[0].value == 0
    assert "etcdops_drill_rto_seconds" not in failed_families


def bundle_entry(host, archive="passed", certificates="passed", secrets="passed", decrypted=5, failed=0):
    summary = {"samples": decrypted + failed, "decrypted": decrypted, "unencrypted": 0, "kms": 0, "failed": failed,
               "stale": 0, "notes": [], "failures": [], "config": {"writer": {"kind": "aescbc", "keys": ["key1"]}}}
    return {"name": "s.db.bundle-%s.tar.enc" % host, "host": host, "member": {"name": host}, "encrypted": True,
            "files": 9, "encryption_provider_config": "/etc/kubernetes/enc.yaml",
            "archive": {"status": archive, "detail": "archive of %s" % host},
            "certificates": {"status": certificates, "detail": "certs of %s" % host, "certificates": [
                {"path": "/etc/kubernetes/pki/ca.crt", "subject": "CN=kubernetes", "issuer": "CN=kubernetes",
                 "not_after": "2035-01-01T00:00:00+00:00", "days_left": 3000, "expired": False, "is_ca": True,
                 "chains": True}], "problems": []},
            "secrets": {"status": secrets, "detail": "secrets of %s" % host, "summary": summary}}


def test_bundle_checks_are_reported_per_bundle_and_a_failed_one_fails_the_drill():
    checked = {"found": 2, "checked_on": "controller", "secrets_sampled": 5, "sample_problem": None, "not_run": None,
               "bundles": [bundle_entry("node1"), bundle_entry("node2", secrets="failed", decrypted=0, failed=5)]}
    doc = report.build(drill(bundles=checked))
    assert {k: v for k, v in statuses(doc).items() if k.startswith("bundle")} == {
        "bundle_archive:node1": "passed", "bundle_certificates:node1": "passed", "bundle_secrets:node1": "passed",
        "bundle_archive:node2": "passed", "bundle_certificates:node2": "passed", "bundle_secrets:node2": "failed"}
    assert doc["result"] == "failed" and doc["failures"] == ["bundle_secrets:node2: secrets of node2"]
    assert doc["bundles"]["bundles"][0]["secrets_counts"]["decrypted"] == 5
    assert "## Control-plane bundles" in report.markdown(doc) and "Control-plane bundles</h2>" in report.page(doc)
    good = report.build(drill(bundles=dict(checked, bundles=[bundle_entry("node1")])))
    assert good["result"] == "passed" and report.summary(good).endswith(
        "; control-plane bundles: node1 whole, certificates chain, 5 of 5 sampled Secrets decrypted")
    damaged = report.build(drill(bundles=dict(checked, bundles=[bundle_entry(
        "node1", archive="failed", certificates="not_run", secrets="not_run")])))
    assert damaged["result"] == "failed" and "node1 DAMAGED" in report.bundle_summary(damaged)


def test_no_bundle_is_no_check_and_bundles_left_elsewhere_are_a_check_not_run():
    none = report.build(drill(bundles={"found": 0, "bundles": [], "not_run": "no control-plane bundle beside the "
                                       "snapshot"}))
    assert not [k for k in statuses(none) if k.startswith("bundle")] and none["result"] == "passed"
    assert "no control-plane bundle beside the snapshot" in report.markdown(none)
    away = report.build(drill(bundles={"not_run": "the backup was fetched from node1"}))
    assert statuses(away)["bundles"] == "not_run" and away["result"] == "passed"
    assert "bundle check not run: the backup was fetched from node1" in report.summary(away)
    assert "bundles" not in statuses(report.build(drill()))
