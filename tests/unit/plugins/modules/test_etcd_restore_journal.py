"""etcd_restore_journal's main(): real files; each step recorded durably, check mode writing nothing, a step of
another run refused, a plan over an unfinished run taking it over."""
import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.etcdops.dr.plugins.module_utils._restore import journal
from ansible_collections.etcdops.dr.plugins.modules import etcd_restore_journal


def run(capsys, **args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            etcd_restore_journal.main()
    return json.loads(capsys.readouterr().out)


def test_steps_are_recorded_once_and_check_mode_writes_nothing(tmp_path, capsys):
    data_dir = str(tmp_path / "data")
    (tmp_path / "data").mkdir()
    checked = run(capsys, data_dir=data_dir, run_id="R1", step="planned", snapshot="/s.db", _ansible_check_mode=True)
    assert checked["changed"] and checked["journal"]["step"] == "planned" and journal.read(data_dir) is None
    planned = run(capsys, data_dir=data_dir, run_id="R1", step="planned", snapshot="/s.db", sha256="ab",
                  kubernetes=True, live_revision=42)
    assert planned["changed"] and planned["previous"] is None
    assert journal.read(data_dir)["had_data_dir"] is True and journal.read(data_dir)["live_revision"] == 42
    started = run(capsys, data_dir=data_dir, run_id="R1", step="started")
    assert started["changed"] and [s["step"] for s in journal.read(data_dir)["steps"]] == ["planned", "started"]
    again = run(capsys, data_dir=data_dir, run_id="R1", step="started")
    assert not again["changed"] and len(journal.read(data_dir)["steps"]) == 2
    assert journal.read(data_dir)["snapshot"] == "/s.db", "later steps keep what the plan recorded"


def test_a_step_of_another_run_is_refused_and_a_plan_takes_an_unfinished_run_over(tmp_path, capsys):
    data_dir = str(tmp_path / "data")
    journal.record(data_dir, "R1", "staged", kept_data_dir=data_dir + ".pre-restore-R1", had_data_dir=True)
    refused = run(capsys, data_dir=data_dir, run_id="R2", step="verified")
    assert refused["failed"] and "belongs to run R1, not to run R2" in refused["msg"]
    taken = run(capsys, data_dir=data_dir, run_id="R2", step="planned")
    assert "takes over the interrupted run R1 (step staged)" in taken["msg"]
    entry = journal.read(data_dir)
    assert entry["kept_data_dir"] == data_dir + ".pre-restore-R1" and entry["interrupted"]["run_id"] == "R1"
