"""What the modules whose main() is run_module return on the paths where each says more or less than its result: the
failures that return their message alone (or with a fixed set of keys), check mode against a run, secrets in a store
URL. Each main() is run through AnsibleModule as Ansible runs it."""
import hashlib
import json
import os

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.etcdops.dr.plugins.modules import (
    etcd_drill_report, etcd_snapshot_info, etcd_snapshot_prune, etcd_snapshot_reencrypt, etcd_store_list,
    etcd_store_upload, etcd_tools_install)
from ansible_collections.etcdops.dr.tests.unit.crypto_keys import ALICE, BOB, MALLORY
from ansible_collections.etcdops.dr.tests.unit.plugins.module_utils.test_drill_report import DRILL
from ansible_collections.etcdops.dr.tests.unit.plugins.module_utils.test_snapshot_reencrypt import encrypted_backup


# What a reencrypt result holds beside the path (AnsibleModule adds a path's file attributes to any result).
REENCRYPTED = {"changed", "recipients", "previous_recipients", "plaintext_sha256", "sha256", "previous_sha256"}


def run(capsys, module, check=False, **args):
    if check:
        args["_ansible_check_mode"] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    result = json.loads(capsys.readouterr().out)
    result.pop("invocation", None)
    return result


def test_snapshot_info_fails_with_no_file_and_without_changed(capsys, tmp_path):
    result = run(capsys, etcd_snapshot_info, path=str(tmp_path / "gone"))
    assert result == dict(failed=True, snapshots=[], ok=False, bad=[], msg="%s does not exist: give a snapshot file or a "
                          "directory of them." % (tmp_path / "gone"))


def test_snapshot_info_says_the_same_in_check_mode(capsys, tmp_path):
    for check in (True, False):
        result = run(capsys, etcd_snapshot_info, check=check, path=str(tmp_path), read_status=False)
        assert result == dict(changed=False, snapshots=[], ok=False, bad=[],
                              msg="no file matching *.db or *.db.enc in %s" % tmp_path)


def test_reencrypt_checks_in_check_mode_and_fails_with_the_path_alone(capsys, tmp_path):
    backup = encrypted_backup(tmp_path)
    before = open(backup, "rb").read()
    checked = run(capsys, etcd_snapshot_reencrypt, check=True, path=backup, recipients=[BOB[1]],
                  decryption_key=ALICE[0])
    assert checked["changed"] and checked["msg"].startswith("would re-encrypt %s to key ids" % backup)
    assert open(backup, "rb").read() == before
    refused = run(capsys, etcd_snapshot_reencrypt, path=backup, recipients=[BOB[1]], decryption_key=MALLORY[0])
    assert not REENCRYPTED & set(refused) and refused["failed"] and refused["path"] == backup
    assert "the decryption key given has id" in refused["msg"] and refused["msg"].endswith(". Nothing was changed.")
    os.rename(backup, backup + ".moved")
    lost = run(capsys, etcd_snapshot_reencrypt, path=backup, recipients=[BOB[1]], decryption_key=ALICE[0])
    assert not REENCRYPTED & set(lost) and lost["failed"] and lost["path"] == backup
    assert lost["msg"].startswith("re-encrypting %s failed: [Errno 2] No such file or directory" % backup)
    assert lost["msg"].endswith("(the new file takes its name whole or not at all); a re-run finishes the job.")
    os.rename(backup + ".moved", backup)
    done = run(capsys, etcd_snapshot_reencrypt, path=backup, recipients=[BOB[1]], decryption_key=ALICE[0])
    assert done["changed"] and done["msg"].startswith("re-encrypted %s" % backup) and done["previous_sha256"]
    assert REENCRYPTED < set(done)


def test_drill_report_writes_only_outside_check_mode_and_says_its_summary(capsys, tmp_path):
    dest = tmp_path / "reports"
    checked = run(capsys, etcd_drill_report, check=True, drill=DRILL, dest_dir=str(dest), name="last")
    assert checked["changed"] is False and checked["passed"] is True and not dest.exists()
    assert checked["msg"] == checked["summary"] and checked["files"]["json"] == str(dest / "last.json")
    done = run(capsys, etcd_drill_report, drill=DRILL, dest_dir=str(dest), name="last")
    assert done["changed"] is True and done["msg"] == done["summary"]
    assert sorted(os.listdir(dest)) == ["last.html", "last.json", "last.md", "last.prom"]
    assert (dest / "last.prom").read_text() == done["textfile"]


def test_drill_report_failures(capsys, tmp_path):
    named = run(capsys, etcd_drill_report, drill=DRILL, dest_dir=str(tmp_path), name="../x")
    assert named == dict(failed=True, msg="name '../x' must be a plain file name (no /): the reports go into dest_dir")
    broken = run(capsys, etcd_drill_report, drill=dict(mode="scratch"), dest_dir=str(tmp_path), name="x")
    assert broken == dict(failed=True, msg="the drill's measurements cannot make a report: KeyError('started')")
    (tmp_path / "file").write_text("")
    unwritable = run(capsys, etcd_drill_report, drill=DRILL, dest_dir=str(tmp_path / "file"), name="x")
    assert set(unwritable) == {"failed", "msg", "report"} and unwritable["report"]["result"] == "passed"
    assert unwritable["msg"].startswith("cannot write the drill's reports into %s: " % (tmp_path / "file"))
    assert unwritable["msg"].endswith("; give a dest_dir this user can write")


def test_prune_decides_in_check_mode_and_removes_in_a_run(capsys, tmp_path):
    for stamp in ("20261120T000000Z", "20261121T000000Z", "20261122T000000Z"):
        (tmp_path / ("etcd-snapshot-%s.db" % stamp)).write_bytes(b"x")
    checked = run(capsys, etcd_snapshot_prune, check=True, path=str(tmp_path), prefix="etcd-snapshot", keep_last=1)
    assert checked["changed"] and checked["msg"] == "would remove 2 backup(s) from %s, kept 1" % tmp_path
    assert len(os.listdir(tmp_path)) == 3
    done = run(capsys, etcd_snapshot_prune, path=str(tmp_path), prefix="etcd-snapshot", keep_last=1)
    assert done["changed"] and done["msg"] == "removed 2 backup(s) from %s, kept 1" % tmp_path
    assert os.listdir(tmp_path) == ["etcd-snapshot-20261122T000000Z.db"]
    again = run(capsys, etcd_snapshot_prune, path=str(tmp_path), prefix="etcd-snapshot", keep_last=1)
    assert not again["changed"] and again["msg"] == "removed 0 backup(s) from %s, kept 1" % tmp_path


def test_tools_install_fails_unchanged_naming_the_dir(capsys, tmp_path):
    result = run(capsys, etcd_tools_install, sha256="abc", dest_dir=str(tmp_path / "bin"))
    assert result["failed"] and result["changed"] is False and "ansible_facts" not in result
    assert result["msg"] == ("etcd tools not installed: sha256 'abc' is not a sha256 (64 hex digits): give the "
                             "archive's line from the release's SHA256SUMS; %s is unchanged." % (tmp_path / "bin"))
    probe = run(capsys, etcd_tools_install, sha256="a" * 64, dest_dir=str(tmp_path / "bin"))
    assert probe["changed"] is False and probe["ansible_facts"] == {} and "give src to install them" in probe["msg"]


def test_a_store_url_password_never_shows_and_a_store_failure_returns_its_message_alone(capsys):
    result = run(capsys, etcd_store_list, store=dict(url="ftp://backup:s3cr3t-pw@127.0.0.1/etcd"))
    assert set(result) == {"failed", "msg"} and "s3cr3t-pw" not in json.dumps(result)


def test_store_upload_refuses_a_backup_without_its_manifest_before_the_store(capsys, tmp_path):
    backup_file = tmp_path / "etcd-snapshot-20261120T000000Z.db"
    backup_file.write_bytes(b"x")
    store = dict(url="sftp://backup@127.0.0.1:1/etcd")
    missing = run(capsys, etcd_store_upload, path=str(backup_file), store=store)
    assert missing == dict(failed=True, msg="%s: give a backup file with its manifest %s.json beside it (as "
                           "etcd_snapshot writes them); nothing was sent" % (backup_file, backup_file.name))
    (tmp_path / (backup_file.name + ".json")).write_text("{not json")
    garbled = run(capsys, etcd_store_upload, path=str(backup_file), store=store)
    assert set(garbled) == {"failed", "msg"} and garbled["msg"].startswith("%s's manifest is not JSON (" % backup_file)
    (tmp_path / (backup_file.name + ".json")).write_text(json.dumps(dict(size=1)))
    unhashed = run(capsys, etcd_store_upload, path=str(backup_file), store=store)
    assert unhashed == dict(failed=True, msg="%s: its manifest records no sha256 and none was given (sha256): nothing "
                            "was sent" % backup_file)
    aged = run(capsys, etcd_store_upload, path=str(backup_file), store=store, max_age="soon",
               sha256=hashlib.sha256(b"x").hexdigest())
    assert set(aged) == {"failed", "msg"} and aged["msg"].startswith("max_age 'soon' is not an age")
