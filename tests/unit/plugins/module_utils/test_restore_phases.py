"""The restore's phases on one member: each plans every step before it changes anything, runs the standalone
modules' runners in order, names the step that failed and records it in a journal of this run only; the finish
records the verified restore whatever becomes of kube-apiserver; the rollback phase touches nothing without a journal.
Service and kube-apiserver runners are faked; the journal, the data dirs and the rollback are real."""
import hashlib
import os

import pytest

from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError
from ansible_collections.etcdops.dr.plugins.module_utils._host import local_member
from ansible_collections.etcdops.dr.plugins.module_utils._restore import journal, phases
from ansible_collections.etcdops.dr.tests.unit.runner_drive import Host


class Calls:
    """Fake etcd_service and kube_apiserver runners, recording (what, state, call); `fail` {(what, state, call)}."""

    def __init__(self, monkeypatch, fail=()):
        self.seen = []
        self.fail = set(fail)
        monkeypatch.setattr(phases.member_service, "MemberService", lambda params, host: self.runner("etcd", params))
        monkeypatch.setattr(phases.kube_apiserver, "KubeApiserver",
                            lambda params, host: self.runner("kube-apiserver", params))

    def runner(self, what, params):
        calls = self

        class Fake:
            result = dict(changed=True)

            def _call(self, call):
                calls.seen.append((what, params["state"], call))
                if (what, params["state"], call) in calls.fail:
                    raise EtcdOpsError("%s %s failed" % (what, params["state"]))

            def plan(self):
                self._call("plan")

            def apply(self):
                self._call("apply")

            def would(self):
                return "would %s %s" % (params["state"], what)

            def done(self):
                return "%s %s" % (what, params["state"])

        return Fake()

    def applied(self):
        return [(what, state) for what, state, call in self.seen if call == "apply"]


def params(tmp_path, phase, **extra):
    values = phases.ARGUMENT_SPEC.defaults()
    values.update(phase=phase, run_id="R1", name="n1", peer_url="https://10.0.0.1:2380",
                  client_url="https://10.0.0.1:2379", data_dir=str(tmp_path / "data"), snapshot="/s.db",
                  sha256="ab" * 32, cluster_token="t", kubernetes="true")
    values.update(extra)
    return values


def run(phase):
    """As run_module drives it; a failure goes through the phase's failed(), as fail_json's message would."""
    try:
        phase.plan()
        if phase.host.check_mode:
            return phase.would()
        phase.apply()
        return phase.done()
    except (EtcdOpsError, OSError) as exc:
        phase.failed(exc)
        raise


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(local_member, "etcd_activity", lambda data_dir, urls: [])
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "own").write_text("own")
    return tmp_path / "data"


def test_the_stop_plans_every_step_before_it_records_or_stops_anything(tmp_path, data_dir, monkeypatch):
    calls = Calls(monkeypatch, fail={("etcd", "stopped", "plan")})
    stop = phases.make(params(tmp_path, "stop"), Host())
    with pytest.raises(phases.StepFailed) as failed:
        run(stop)
    assert failed.value.step == "etcd_stop" and stop.result["failed_step"] == "etcd_stop"
    assert calls.applied() == [] and journal.read(str(data_dir)) is None
    calls = Calls(monkeypatch)
    done = run(phases.make(params(tmp_path, "stop"), Host()))
    assert calls.applied() == [("kube-apiserver", "stopped"), ("etcd", "stopped")]
    assert journal.read(str(data_dir))["step"] == "planned" and journal.read(str(data_dir))["kubernetes"] is True
    assert done.startswith("stop: recorded in") and done.endswith("kube-apiserver stopped; etcd stopped")
    # The leader's first run stops only kube-apiserver; its second, etcd (the plan is recorded already).
    calls = Calls(monkeypatch)
    run(phases.make(params(tmp_path, "stop", stop_etcd=False), Host()))
    assert calls.applied() == [("kube-apiserver", "stopped")]


def test_a_failure_is_recorded_in_a_journal_of_this_run_only(tmp_path, data_dir, monkeypatch):
    journal.record(str(data_dir), "R0", "verified")
    Calls(monkeypatch, fail={("etcd", "started", "apply")})
    with pytest.raises(phases.StepFailed):
        run(phases.make(params(tmp_path, "start"), Host()))
    assert "failures" not in journal.read(str(data_dir)), "another run's journal stays as it was"
    journal.record(str(data_dir), "R1", "planned")
    start = phases.make(params(tmp_path, "start"), Host())
    with pytest.raises(phases.StepFailed):
        run(start)
    assert start.result["failure_in_journal"] is True
    assert [(f["step"], f["msg"]) for f in journal.read(str(data_dir))["failures"]] == [
        ("etcd_start", "etcd started failed")]


def test_the_finish_records_the_verified_restore_even_when_kube_apiserver_does_not_start(
        tmp_path, data_dir, monkeypatch):
    journal.record(str(data_dir), "R1", "planned")
    journal.record(str(data_dir), "R1", "started")
    for stamp in ("R0", "R1"):
        (tmp_path / ("data.pre-restore-" + stamp)).mkdir()
    Calls(monkeypatch, fail={("kube-apiserver", "started", "apply")})
    finish = phases.make(params(tmp_path, "finish"), Host())
    with pytest.raises(phases.StepFailed) as failed:
        run(finish)
    assert failed.value.step == "kube_apiserver_start"
    entry = journal.read(str(data_dir))
    assert entry["step"] == "verified" and finish.result["journal_recorded"] is True
    assert [f["step"] for f in entry["failures"]] == ["kube_apiserver_start"]
    assert sorted(os.listdir(tmp_path)) == ["data", "data.etcdops-restore.json", "data.pre-restore-R1"]


def test_the_rollback_phase_without_a_journal_stops_and_moves_nothing(tmp_path, data_dir, monkeypatch):
    calls = Calls(monkeypatch)
    undo = phases.make(params(tmp_path, "undo", kubernetes="false"), Host())
    run(undo)
    assert calls.applied() == [("etcd", "started")] and undo.result["rolls_back"] is False
    assert "it has no restore journal" in undo.result["rollback_msg"]
    assert sorted(os.listdir(tmp_path)) == ["data"] and (data_dir / "own").read_text() == "own"


def test_the_rollback_phase_puts_back_what_the_journal_says_and_starts_kube_apiserver_it_records(
        tmp_path, data_dir, monkeypatch):
    kept = tmp_path / "data.pre-restore-R1"
    journal.record(str(data_dir), "R1", "planned", kubernetes=True)
    journal.record(str(data_dir), "R1", "staged", kept_data_dir=str(kept))
    data_dir.rename(kept)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "restored").write_text("new")
    journal.record(str(data_dir), "R1", "swapped")
    calls = Calls(monkeypatch)
    checked = phases.make(params(tmp_path, "undo", run_id="R2"), Host(check_mode=True))
    assert "put back" in run(checked) and calls.applied() == []
    assert (tmp_path / "data" / "restored").exists()
    undo = phases.make(params(tmp_path, "undo", run_id="R2"), Host())
    run(undo)
    assert calls.applied() == [("etcd", "stopped"), ("etcd", "started"), ("kube-apiserver", "started")]
    assert (data_dir / "own").read_text() == "own" and (tmp_path / "data.failed-restore-R2" / "restored").exists()
    assert journal.read(str(data_dir))["step"] == "rolled_back"


def test_the_rollback_phase_fails_when_the_cluster_does_not_come_back(tmp_path, data_dir, monkeypatch):
    Calls(monkeypatch)
    down = dict(healthy=False, quorum=False, health_problems=["10.0.0.1:2379: connection refused"])
    monkeypatch.setattr(phases.cluster_info, "read", lambda connection, **asked: dict(down))
    undo = phases.make(params(tmp_path, "undo", kubernetes="false", read_cluster=True, accept_quorum=True,
                              health_retries=2, health_delay=0), Host())
    with pytest.raises(phases.StepFailed) as failed:
        run(undo)
    assert failed.value.step == "cluster_wait" and undo.result["cluster"]["healthy"] is False
    assert "did not become healthy or reach quorum: 10.0.0.1:2379: connection refused" in str(failed.value)


@pytest.mark.parametrize("how", ["renamed", "copied"])
def test_a_snapshot_sent_from_the_controller_is_put_in_place_private_and_whole(tmp_path, monkeypatch, how):
    sent = tmp_path / "tmp" / "snapshot"
    sent.parent.mkdir()
    snapshot = tmp_path / "restore" / "etcd-snapshot-1.db"
    if how == "copied":
        def cross_device(source, destination):
            raise OSError(18, "Invalid cross-device link")
        monkeypatch.setattr(phases.os, "replace", cross_device)
    preflight = phases.make(params(tmp_path, "preflight", src=str(sent), snapshot=str(snapshot)), Host())

    def send(content):
        sent.write_bytes(content)
        sent.chmod(0o644)
        return hashlib.sha256(content).hexdigest()

    preflight._place(str(sent), str(snapshot), send(b"snapshot bytes"))
    assert snapshot.read_bytes() == b"snapshot bytes" and oct(snapshot.stat().st_mode & 0o777) == "0o600"
    assert oct(snapshot.parent.stat().st_mode & 0o777) == "0o700"
    assert preflight.result["placed"] == str(snapshot) and preflight.result["changed"] is True
    assert [path.name for path in snapshot.parent.iterdir()] == [snapshot.name], "no temp file is left"
    # A file of that name (a copy an earlier run placed) is replaced whole...
    preflight._place(str(sent), str(snapshot), send(b"newer bytes"))
    assert snapshot.read_bytes() == b"newer bytes"
    # ...but never by a transfer that was cut or corrupted on its way.
    expected = send(b"newest bytes")
    sent.write_bytes(b"newest byt")
    with pytest.raises(EtcdOpsError, match="not %s.*Nothing was stopped" % expected):
        preflight._place(str(sent), str(snapshot), expected)
    assert snapshot.read_bytes() == b"newer bytes"
    assert [path.name for path in snapshot.parent.iterdir()] == [snapshot.name]


def test_the_finish_records_the_verified_restore_even_when_a_leftover_cannot_go(tmp_path, data_dir, monkeypatch):
    """A leftover that cannot go (here a dir given as a snapshot copy) is reported; the journal still records the
    verified restore, or a later rollback would take the live restored cluster for an interrupted restore."""
    journal.record(str(data_dir), "R1", "planned")
    journal.record(str(data_dir), "R1", "started")
    (tmp_path / "not-a-copy").mkdir()
    Calls(monkeypatch)
    finish = phases.make(params(tmp_path, "finish", remove_files=[str(tmp_path / "not-a-copy")]), Host())
    run(finish)
    assert journal.read(str(data_dir))["step"] == "verified" and finish.result["journal_recorded"] is True
    assert "is a directory, not a snapshot copy" in finish.result["leftovers_problem"]
    assert (tmp_path / "not-a-copy").is_dir()
    # A journal that cannot record it removes nothing, and says so.
    journal.record(str(data_dir), "R9", "planned")
    (tmp_path / "data.pre-restore-R0").mkdir()
    finish = phases.make(params(tmp_path, "finish", keep_previous=0), Host())
    run(finish)
    assert finish.result["journal_recorded"] is False and "nothing was removed" in finish.result["leftovers_problem"]
    assert (tmp_path / "data.pre-restore-R0").is_dir()
