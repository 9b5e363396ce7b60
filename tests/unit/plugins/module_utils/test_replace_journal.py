"""The replacement journal on real files: written atomically at each step, read back, the steps reached, an unfinished
run told from a finished one, and a file that is corrupt or of another shape refused with the fix."""
import json
import os
import re

import pytest

from ansible_collections.etcdops.dr.plugins.module_utils._replace import journal
from ansible_collections.etcdops.dr.plugins.module_utils._replace.journal import JournalError


@pytest.fixture(name="data_dir")
def fixture_data_dir(tmp_path):
    (tmp_path / "etcd").mkdir()
    return str(tmp_path / "etcd")


def planned(data_dir):
    return journal.record(data_dir, dict(run_id="R1"), "planned", member="n3", peer_url="https://n3:2380",
                          old_member_id="c3")


def test_the_journal_sits_beside_the_data_dir():
    assert journal.path_of("/var/lib/etcd/") == "/var/lib/etcd.etcdops-replace.json"
    assert journal.path_of("/var/lib/etcd") == "/var/lib/etcd.etcdops-replace.json"


def test_no_journal_reads_as_none(data_dir):
    assert journal.read(data_dir) is None
    assert not journal.unfinished(None) and not journal.reached(None, "planned")


def test_a_recorded_step_reads_back_with_its_fields(data_dir):
    entry = planned(data_dir)
    assert entry["step"] == "planned" and entry["run_id"] == "R1" and entry["old_member_id"] == "c3"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", entry["updated_at"])
    assert journal.read(data_dir) == entry
    assert os.stat(journal.path_of(data_dir)).st_mode & 0o777 == 0o600
    with open(journal.path_of(data_dir)) as handle:
        text = handle.read()
    assert text.endswith("}\n") and json.loads(text) == entry


def test_a_later_step_keeps_the_earlier_fields_and_adds_its_own(data_dir):
    entry = planned(data_dir)
    added = journal.record(data_dir, entry, "added", new_member_id="f6", initial_cluster="n3=https://n3:2380")
    assert added == dict(entry, step="added", new_member_id="f6", initial_cluster="n3=https://n3:2380",
                         updated_at=added["updated_at"])
    assert journal.read(data_dir) == added
    assert entry["step"] == "planned" and "new_member_id" not in entry, "the entry given is not changed"
    assert [name for name in os.listdir(os.path.dirname(data_dir)) if name != "etcd"] == [
        os.path.basename(journal.path_of(data_dir))], "no temporary file is left behind"


@pytest.mark.parametrize("step, reached, not_reached", [
    ("planned", ["planned"], ["removed", "verified"]),
    ("added", ["planned", "removed", "kept", "added"], ["configured", "started"]),
    ("verified", list(journal.STEPS[:-1]), ["rolled_back"]),
    ("rolled_back", [], list(journal.STEPS)),
])
def test_reached_tells_how_far_the_run_got(step, reached, not_reached):
    entry = dict(run_id="R1", step=step)
    assert [s for s in journal.STEPS if journal.reached(entry, s)] == reached
    assert not any(journal.reached(entry, s) for s in not_reached)


@pytest.mark.parametrize("step, unfinished", [
    ("planned", True), ("removed", True), ("promoted", True), ("verified", False), ("rolled_back", False)])
def test_unfinished_until_verified_or_rolled_back(step, unfinished):
    assert journal.unfinished(dict(run_id="R1", step=step)) is unfinished


@pytest.mark.parametrize("content", [b"{not json", b"", b"\xff\xfe{}", b'{"step": "planned", "run_id": "R1"'])
def test_a_corrupt_journal_is_refused_with_the_fix(data_dir, content):
    with open(journal.path_of(data_dir), "wb") as handle:
        handle.write(content)
    with pytest.raises(JournalError, match=r"^the replacement journal %s cannot be read \(.+\): look at it \(it says "
                       r"which member was removed and added, and where the old data is\), then move it away$"
                       % re.escape(journal.path_of(data_dir))):
        journal.read(data_dir)


@pytest.mark.parametrize("entry", [
    ["planned"], "planned", None, {}, dict(run_id="R1"), dict(run_id="R1", step="restored"),
    dict(run_id="", step="planned"), dict(step="planned"),
])
def test_a_journal_of_unknown_shape_is_refused(data_dir, entry):
    with open(journal.path_of(data_dir), "w") as handle:
        json.dump(entry, handle)
    with pytest.raises(JournalError, match=r"^the replacement journal %s is not one this collection wrote: look at "
                       r"it, then move it away$" % re.escape(journal.path_of(data_dir))):
        journal.read(data_dir)


def test_a_journal_that_is_a_directory_cannot_be_read(data_dir):
    os.mkdir(journal.path_of(data_dir))
    with pytest.raises(JournalError, match="cannot be read .*Is a directory"):
        journal.read(data_dir)


def test_a_journal_that_cannot_be_written_says_where(tmp_path):
    data_dir = str(tmp_path / "missing" / "etcd")
    with pytest.raises(JournalError, match="^cannot write the replacement journal %s: No such file or directory$"
                       % re.escape(journal.path_of(data_dir))):
        journal.record(data_dir, dict(run_id="R1"), "planned")


def test_remove_takes_the_journal_away_and_minds_no_missing_one(data_dir):
    planned(data_dir)
    journal.remove(data_dir)
    assert journal.read(data_dir) is None and not os.path.exists(journal.path_of(data_dir))
    journal.remove(data_dir)


def test_a_step_done_again_never_takes_the_journal_back(tmp_path):
    record, read = journal.record, journal.read
    data_dir = str(tmp_path / "data")
    entry = record(data_dir, {"run_id": "r1"}, "started", new_member_id="f6")
    again = record(data_dir, entry, "added", initial_cluster="n1=a")
    assert again["step"] == "started" and again["initial_cluster"] == "n1=a" and read(data_dir)["step"] == "started"
    assert record(data_dir, again, "rolled_back")["step"] == "rolled_back"
