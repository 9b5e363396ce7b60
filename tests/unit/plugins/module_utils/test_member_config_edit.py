"""Changing the member's initial-cluster-state and initial-cluster where they live, on real files: etcd's YAML config
file, environment files, supervisor programs (with [include] files), systemd units (their ExecStart, EnvironmentFile
and drop-ins; only `systemctl show` is faked, through the one command seam) and kubeadm static pod manifests. Every
edit is read back the way member_config reads it: the new values are set, nothing else changed."""
import os
import shlex

import pytest
import yaml

from ansible_collections.etcdops.dr.plugins.module_utils._host import member_config_edit as _edit
from ansible_collections.etcdops.dr.plugins.module_utils._host.member_config import (
    BOOL_FLAGS, config_file_settings, expand_exec_args, parse_env_text, parse_flags, pod_container,
    static_pod_source, supervisor_program)
from ansible_collections.etcdops.dr.plugins.module_utils._host.member_config_edit import (
    CannotEdit, Edit, apply, edit_argv, edit_env_text, edit_manifest_text, edit_supervisor_text, edit_unit_text,
    edit_yaml_config, kept_name, plan, put_back)
from ansible_collections.etcdops.dr.plugins.module_utils._service.backends import StaticPod, Systemd

OLD_CLUSTER = "n1=https://10.0.0.1:2380,n2=https://10.0.0.2:2380,n3=https://10.0.0.3:2380"
NEW_CLUSTER = "n1=https://10.0.0.1:2380,n2=https://10.0.0.2:2380,n3=https://10.0.0.13:2380"
VALUES = {"initial-cluster-state": "existing", "initial-cluster": NEW_CLUSTER}
ENV_VALUES = {"ETCD_INITIAL_CLUSTER_STATE": "existing", "ETCD_INITIAL_CLUSTER": NEW_CLUSTER}
CONFIG_SHOW = "--property=ExecStart,Environment,EnvironmentFiles"
FILES_SHOW = "--property=FragmentPath,DropInPaths"


def go_flags(args):
    """({flag: value}, positional words) as Go's flag package parses etcd's arguments: every flag etcd defines is
    a boolean (member_config.BOOL_FLAGS) or takes the next argument, whatever it looks like."""
    found = {}
    index = 0
    while index < len(args):
        arg = args[index]
        if len(arg) < 2 or arg[0] != "-" or arg == "--":
            return found, list(args[index + (arg == "--"):])
        name, has_value, value = arg[2 if arg.startswith("--") else 1:].partition("=")
        if not has_value and name not in BOOL_FLAGS:
            index += 1
            value = args[index]
        found[name] = value if has_value or name not in BOOL_FLAGS else "true"
        index += 1
    return found, []


def changed_lines(before, after):
    """The lines of `before` that `after` no longer has, and the lines `after` has new (both in order)."""
    old, new = before.splitlines(), after.splitlines()
    return [line for line in old if line not in new], [line for line in new if line not in old]


# ---- flags on a command line --------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, expected", [
    (["-initial-cluster-state", "new", "-initial-cluster", OLD_CLUSTER],
     ["-initial-cluster-state", "existing", "-initial-cluster", NEW_CLUSTER]),
    (["--initial-cluster-state", "new", "--initial-cluster", OLD_CLUSTER],
     ["--initial-cluster-state", "existing", "--initial-cluster", NEW_CLUSTER]),
    (["-initial-cluster-state=new", "-initial-cluster=" + OLD_CLUSTER],
     ["-initial-cluster-state=existing", "-initial-cluster=" + NEW_CLUSTER]),
    (["--initial-cluster-state=new", "--initial-cluster=" + OLD_CLUSTER],
     ["--initial-cluster-state=existing", "--initial-cluster=" + NEW_CLUSTER]),
])
def test_each_go_flag_form_is_changed_in_its_own_form(args, expected):
    before = ["--name", "n3"] + args + ["--data-dir=/var/lib/etcd"]
    after = edit_argv(before, VALUES)
    assert after == ["--name", "n3"] + expected + ["--data-dir=/var/lib/etcd"]
    assert parse_flags(after) == dict(parse_flags(before), **VALUES)


def test_flags_of_mixed_forms_are_changed_and_the_others_kept_word_for_word():
    before = ["-name=n3", "--client-cert-auth", "-initial-cluster-state", "new", "--listen-peer-urls",
              "https://10.0.0.13:2380", "--initial-cluster=" + OLD_CLUSTER, "-data-dir", "/d"]
    after = edit_argv(before, VALUES)
    assert after == ["-name=n3", "--client-cert-auth", "-initial-cluster-state", "existing", "--listen-peer-urls",
                     "https://10.0.0.13:2380", "--initial-cluster=" + NEW_CLUSTER, "-data-dir", "/d"]


def test_absent_flags_are_added_where_gos_parsing_stops():
    assert edit_argv([], VALUES) == ["--initial-cluster-state=existing", "--initial-cluster=" + NEW_CLUSTER]
    assert edit_argv(["--name", "n3", "--", "--initial-cluster", "x"], VALUES) == [
        "--name", "n3", "--initial-cluster-state=existing", "--initial-cluster=" + NEW_CLUSTER, "--",
        "--initial-cluster", "x"]
    # A boolean flag takes no value: the added flags go after it, before the first positional word.
    assert edit_argv(["--force-new-cluster", "positional"], VALUES) == [
        "--force-new-cluster", "--initial-cluster-state=existing", "--initial-cluster=" + NEW_CLUSTER, "positional"]


def test_only_the_missing_flag_is_added():
    after = edit_argv(["--initial-cluster", OLD_CLUSTER, "--name", "n3"], VALUES)
    assert after == ["--initial-cluster", NEW_CLUSTER, "--name", "n3", "--initial-cluster-state=existing"]


def test_a_flag_given_twice_gets_the_new_value_in_both_places():
    after = edit_argv(["--initial-cluster-state=new", "--name", "n3", "-initial-cluster-state", "new"],
                      {"initial-cluster-state": "existing"})
    assert after == ["--initial-cluster-state=existing", "--name", "n3", "-initial-cluster-state", "existing"]


def test_a_string_flag_keeps_a_value_that_looks_like_a_flag():
    after = edit_argv(["--name", "-odd", "--initial-cluster-state", "new"], {"initial-cluster-state": "existing"})
    assert after == ["--name", "-odd", "--initial-cluster-state", "existing"]


def test_a_flag_last_without_its_value_is_given_one():
    assert edit_argv(["--name", "n3", "--initial-cluster-state"], {"initial-cluster-state": "existing"}) == [
        "--name", "n3", "--initial-cluster-state=existing"]


# ---- etcd's YAML config file --------------------------------------------------------------------------------------

CONFIG = ("# etcd of n3\nname: n3\ndata-dir: /var/lib/etcd\ninitial-cluster-state: new\n"
          "initial-cluster: %s\nlisten-peer-urls: https://10.0.0.13:2380\n" % OLD_CLUSTER)


def test_yaml_keys_that_are_present_are_changed_in_place():
    after = edit_yaml_config(CONFIG, VALUES, "config file c")
    assert after == CONFIG.replace("initial-cluster-state: new", 'initial-cluster-state: "existing"').replace(
        "initial-cluster: " + OLD_CLUSTER, 'initial-cluster: "%s"' % NEW_CLUSTER)
    assert yaml.safe_load(after) == dict(yaml.safe_load(CONFIG), **VALUES)
    assert config_file_settings(after, "c") == config_file_settings(CONFIG, "c")


def test_yaml_keys_that_are_absent_are_appended():
    text = "name: n3\ndata-dir: /var/lib/etcd"
    after = edit_yaml_config(text, VALUES, "config file c")
    assert after == 'name: n3\ndata-dir: /var/lib/etcd\ninitial-cluster-state: "existing"\ninitial-cluster: "%s"\n' % (
        NEW_CLUSTER)
    assert edit_yaml_config("", VALUES, "config file c") == (
        'initial-cluster-state: "existing"\ninitial-cluster: "%s"\n' % NEW_CLUSTER)


def test_a_multi_line_yaml_value_is_replaced_whole():
    text = ("name: n3\ninitial-cluster: >-\n  n1=https://10.0.0.1:2380,\n  n2=https://10.0.0.2:2380,\n"
            "  n3=https://10.0.0.3:2380\n# the data\ndata-dir: /var/lib/etcd\ninitial-cluster-state:\n  new\n")
    assert yaml.safe_load(text)["initial-cluster"].startswith("n1=https://10.0.0.1:2380, n2=")
    after = edit_yaml_config(text, VALUES, "config file c")
    assert after == ('name: n3\ninitial-cluster: "%s"\n# the data\ndata-dir: /var/lib/etcd\n'
                     'initial-cluster-state: "existing"\n' % NEW_CLUSTER)
    assert yaml.safe_load(after) == dict(yaml.safe_load(text), **VALUES)


def test_a_yaml_key_that_only_starts_like_another_is_left_alone():
    text = "initial-cluster-state: new\ninitial-cluster-token: tok\n"
    after = edit_yaml_config(text, {"initial-cluster": NEW_CLUSTER}, "config file c")
    assert after == text + 'initial-cluster: "%s"\n' % NEW_CLUSTER


def test_a_yaml_file_that_is_not_a_mapping_is_refused():
    with pytest.raises(CannotEdit, match="^config file c is not a YAML mapping$"):
        edit_yaml_config("- name: n3\n", VALUES, "config file c")


# ---- environment files --------------------------------------------------------------------------------------------

ENV = ('# etcd of n3\nETCD_NAME="n3"\nexport ETCD_INITIAL_CLUSTER_STATE=new\n'
       "ETCD_INITIAL_CLUSTER='%s'\nETCD_DATA_DIR=/var/lib/etcd\n" % OLD_CLUSTER)


def test_environment_variables_that_are_set_are_changed_in_place():
    after = edit_env_text(ENV, VALUES, "EnvironmentFile e")
    assert after == ('# etcd of n3\nETCD_NAME="n3"\nETCD_INITIAL_CLUSTER_STATE="existing"\n'
                     'ETCD_INITIAL_CLUSTER="%s"\nETCD_DATA_DIR=/var/lib/etcd\n' % NEW_CLUSTER)
    assert parse_env_text(after) == dict(parse_env_text(ENV), **ENV_VALUES)


def test_environment_variables_that_are_not_set_are_appended():
    after = edit_env_text("ETCD_NAME=n3", VALUES, "EnvironmentFile e")
    assert after == 'ETCD_NAME=n3\nETCD_INITIAL_CLUSTER_STATE="existing"\nETCD_INITIAL_CLUSTER="%s"\n' % NEW_CLUSTER
    assert parse_env_text(after) == dict(ETCD_NAME="n3", **ENV_VALUES)


def test_an_environment_variable_set_twice_is_changed_in_both_places():
    after = edit_env_text("ETCD_INITIAL_CLUSTER_STATE=new\nETCD_NAME=n3\nETCD_INITIAL_CLUSTER_STATE=new\n",
                          {"initial-cluster-state": "existing"}, "EnvironmentFile e")
    assert after.count('ETCD_INITIAL_CLUSTER_STATE="existing"\n') == 2 and "=new" not in after


def test_an_environment_value_continued_on_the_next_line_is_refused_not_broken():
    text = 'ETCD_NAME=n3\nETCD_INITIAL_CLUSTER="n1=https://10.0.0.1:2380,\\\nn2=https://10.0.0.2:2380"\n'
    with pytest.raises(CannotEdit, match='^EnvironmentFile e: the edit would not set only ETCD_INITIAL_CLUSTER="%s": '
                       'set them there by hand$' % NEW_CLUSTER):
        edit_env_text(text, {"initial-cluster": NEW_CLUSTER}, "EnvironmentFile e")


# ---- supervisor ---------------------------------------------------------------------------------------------------

class FakeSupervisord:
    """supervisord's XML-RPC as member_config_edit.reload() calls it; reloadConfig answers `reread`."""

    def __init__(self, added=(), changed=(), removed=()):
        self.reread = [list(added), list(changed), list(removed)]
        self.calls = []

    def call(self, method, *args, allowed=()):
        self.calls.append((method,) + args)
        return [self.reread] if method == "reloadConfig" else True


class SupervisorBackend:
    name = "supervisor"

    def __init__(self, conf, program="etcd", supervisord=None):
        self.conf = str(conf)
        self.program = program
        self.supervisord = supervisord or FakeSupervisord()


class NoCommands:
    """A host on which no command may run (supervisor and static pods need none)."""

    check_mode = False

    def run_command(self, cmd, check_rc=False, environ_update=None):
        raise AssertionError("no command may run here, ran %s" % cmd)

    def get_bin_path(self, name, required=False):
        raise AssertionError("no tool may be looked up here, asked for %s" % name)

    def checking(self):
        return self


MIXED_PROGRAM = ("[program:etcd]\n"
                 "command=/usr/local/bin/etcd -name %%(program_name)s --data-dir=%%(here)s/data\n"
                 "  -initial-cluster-state new --initial-cluster=%s\n"
                 "  -listen-peer-urls=https://10.0.0.13:2380 --client-cert-auth\n"
                 "autostart=false\n" % OLD_CLUSTER)


def supervisor_with_include(tmp_path, program=MIXED_PROGRAM):
    (tmp_path / "conf.d").mkdir()
    conf = tmp_path / "supervisord.conf"
    conf.write_text("[supervisord]\nlogfile=/tmp/supervisord.log\n\n[include]\nfiles = conf.d/*.conf\n")
    (tmp_path / "conf.d" / "00-other.conf").write_text("[program:other]\ncommand=/bin/sleep 1000\n")
    (tmp_path / "conf.d" / "etcd.conf").write_text(program)
    return conf


def test_a_supervisor_program_in_an_included_file_with_mixed_flag_forms(tmp_path):
    conf = supervisor_with_include(tmp_path)
    before_argv, before_env, dummy = supervisor_program(str(conf), "etcd")
    (edit,) = plan(NoCommands(), SupervisorBackend(conf, "etcd:etcd"), None, VALUES)
    assert (edit.path, edit.kind, edit.changed) == (str(tmp_path / "conf.d" / "etcd.conf"), "supervisor", True)
    assert edit.before == MIXED_PROGRAM
    # The command becomes one line; %(program_name)s and %(here)s are kept for supervisord to expand.
    assert edit.after == (
        "[program:etcd]\ncommand=/usr/local/bin/etcd -name '%%(program_name)s' '--data-dir=%%(here)s/data' "
        "-initial-cluster-state existing --initial-cluster=%s -listen-peer-urls=https://10.0.0.13:2380 "
        "--client-cert-auth\nautostart=false\n" % NEW_CLUSTER)
    (tmp_path / "conf.d" / "etcd.conf").write_text(edit.after)
    after_argv, after_env, dummy = supervisor_program(str(conf), "etcd")
    assert after_argv[:3] == ["/usr/local/bin/etcd", "-name", "etcd"]
    assert parse_flags(after_argv[1:])["data-dir"] == str(tmp_path / "conf.d" / "data")
    assert parse_flags(after_argv[1:]) == dict(parse_flags(before_argv[1:]), **VALUES)
    assert after_env == before_env


def test_a_supervisor_program_whose_settings_are_in_its_environment(tmp_path):
    text = ('[program:etcd]\ncommand=/usr/bin/etcd --name n3\n'
            'environment=ETCD_DATA_DIR="/var/lib/etcd",ETCD_INITIAL_CLUSTER_STATE="new",\n'
            '  ETCD_INITIAL_CLUSTER="%s"\nautostart=false\n' % OLD_CLUSTER)
    conf = tmp_path / "supervisord.conf"
    conf.write_text(text)
    before_argv, before_env, dummy = supervisor_program(str(conf), "etcd")
    (edit,) = plan(NoCommands(), SupervisorBackend(conf), None, VALUES)
    assert (edit.path, edit.kind) == (str(conf), "supervisor")
    assert edit.after == ('[program:etcd]\ncommand=/usr/bin/etcd --name n3\n'
                          'environment=ETCD_DATA_DIR="/var/lib/etcd",ETCD_INITIAL_CLUSTER_STATE="existing",'
                          'ETCD_INITIAL_CLUSTER="%s"\nautostart=false\n' % NEW_CLUSTER)
    conf.write_text(edit.after)
    after_argv, after_env, dummy = supervisor_program(str(conf), "etcd")
    assert after_argv == before_argv and after_env == dict(before_env, **ENV_VALUES)


def test_a_supervisor_setting_in_neither_place_goes_on_the_command():
    text = '[program:etcd]\ncommand=/usr/bin/etcd --name n3\nenvironment=ETCD_INITIAL_CLUSTER_STATE="new"\n'
    after = edit_supervisor_text(text, "etcd", VALUES, ["initial-cluster-state"], "supervisor configuration s")
    assert after == ('[program:etcd]\ncommand=/usr/bin/etcd --name n3 --initial-cluster=%s\n'
                     'environment=ETCD_INITIAL_CLUSTER_STATE="existing"\n' % NEW_CLUSTER)


def test_only_the_named_program_section_is_changed():
    other = "[program:etcd-other]\ncommand=/usr/bin/etcd --initial-cluster-state new\n\n"
    text = other + "[program:etcd]\ncommand=/usr/bin/etcd --initial-cluster-state new\n"
    after = edit_supervisor_text(text, "etcd", {"initial-cluster-state": "existing"}, [], "s")
    assert after == other + "[program:etcd]\ncommand=/usr/bin/etcd --initial-cluster-state existing\n"


def test_a_supervisor_program_with_a_config_file_has_its_yaml_edited(tmp_path):
    (tmp_path / "etcd.yml").write_text(CONFIG)
    conf = tmp_path / "supervisord.conf"
    conf.write_text("[program:etcd]\ncommand=/usr/bin/etcd --config-file etcd.yml\ndirectory=%s\n" % tmp_path)
    (edit,) = plan(NoCommands(), SupervisorBackend(conf), None, VALUES)
    assert (edit.path, edit.kind, edit.before) == (str(tmp_path / "etcd.yml"), "config_file", CONFIG)
    assert yaml.safe_load(edit.after) == dict(yaml.safe_load(CONFIG), **VALUES)


@pytest.mark.parametrize("program, why", [
    ("[program:etcd]\ncommand=/opt/run-etcd.sh --name n3\n",
     r"^supervisor configuration {conf}: \[program:etcd\] does not run etcd itself \(/opt/run-etcd.sh\), so its "
     r"flags cannot be changed here: set --initial-cluster-state=existing, --initial-cluster=n1=\S+ where that "
     r"command reads them$"),
    ("[program:other]\ncommand=/usr/bin/etcd\n",
     r"^supervisor has no program etcd in {conf} \(nor in the files it includes\)$"),
])
def test_a_supervisor_program_that_cannot_be_edited_says_why(tmp_path, program, why):
    conf = tmp_path / "supervisord.conf"
    conf.write_text(program)
    with pytest.raises(CannotEdit, match=why.format(conf=conf)):
        plan(NoCommands(), SupervisorBackend(conf), None, VALUES)


def test_a_supervisor_variable_set_only_for_all_programs_is_refused(tmp_path):
    conf = tmp_path / "supervisord.conf"
    conf.write_text("[supervisord]\nenvironment=ETCD_INITIAL_CLUSTER=x\n\n[program:etcd]\ncommand=/usr/bin/etcd\n")
    with pytest.raises(CannotEdit, match=r"^supervisor configuration %s: \[program:etcd\] has no environment=$"
                       % conf):
        plan(NoCommands(), SupervisorBackend(conf), None, {"initial-cluster": NEW_CLUSTER})


def test_supervisor_text_without_the_program_or_its_command_is_refused():
    with pytest.raises(CannotEdit, match=r"^s has no \[program:etcd\]$"):
        edit_supervisor_text("[program:other]\ncommand=etcd\n", "etcd", VALUES, [], "s")
    with pytest.raises(CannotEdit, match=r"^s: \[program:etcd\] has no command=$"):
        edit_supervisor_text("[program:etcd]\nautostart=true\n", "etcd", VALUES, [], "s")
    with pytest.raises(CannotEdit, match=r"^s: the command of \[program:etcd\] cannot be split into words"):
        edit_supervisor_text("[program:etcd]\ncommand=etcd --name 'n3\n", "etcd", VALUES, [], "s")


def test_supervisor_apply_makes_supervisord_reread_the_changed_group_and_put_back_too(tmp_path):
    conf = supervisor_with_include(tmp_path)
    supervisord = FakeSupervisord(changed=["etcd"])
    backend = SupervisorBackend(conf, "etcd:etcd", supervisord)
    edits = plan(NoCommands(), backend, None, VALUES)
    kept = apply(NoCommands(), backend, edits, str(tmp_path / "keep"))
    program = str(tmp_path / "conf.d" / "etcd.conf")
    assert kept == {program: kept_name(str(tmp_path / "keep"), program)}
    assert (tmp_path / "conf.d" / "etcd.conf").read_text() == edits[0].after
    reread = [("reloadConfig",), ("stopProcessGroup", "etcd", True), ("removeProcessGroup", "etcd"),
              ("addProcessGroup", "etcd")]
    assert supervisord.calls == reread
    supervisord.calls.clear()
    assert put_back(NoCommands(), backend, kept, ["supervisor"]) == [program]
    assert (tmp_path / "conf.d" / "etcd.conf").read_text() == MIXED_PROGRAM
    assert supervisord.calls == reread


def test_supervisord_adds_a_group_it_did_not_have_and_leaves_an_unchanged_one_alone(tmp_path):
    conf = supervisor_with_include(tmp_path)
    supervisord = FakeSupervisord(added=["etcd"])
    backend = SupervisorBackend(conf, "etcd", supervisord)
    apply(NoCommands(), backend, plan(NoCommands(), backend, None, VALUES), str(tmp_path / "keep"))
    assert supervisord.calls == [("reloadConfig",), ("addProcessGroup", "etcd")]
    supervisord = FakeSupervisord(changed=["other"])
    backend = SupervisorBackend(conf, "etcd", supervisord)
    apply(NoCommands(), backend, plan(NoCommands(), backend, None, {"initial-cluster-state": "new"}),
          str(tmp_path / "keep"))
    assert supervisord.calls == [("reloadConfig",)]


# ---- systemd, on real unit files ----------------------------------------------------------------------------------

class SystemctlHost:
    """A host whose `systemctl show` answers from `show` ({property argument: stdout}); other commands succeed.
    Every command is recorded."""

    check_mode = False

    def __init__(self, show):
        self.show = show
        self.calls = []

    def run_command(self, cmd, check_rc=False, environ_update=None):
        assert isinstance(cmd, list) and environ_update["LANG"] == "C"
        self.calls.append(cmd)
        if cmd[1] == "show":
            return 0, self.show[cmd[2]], ""
        return 0, "", ""

    def get_bin_path(self, name, required=False):
        return "/usr/bin/" + name

    def checking(self):
        return self


def exec_start(argv, path="/usr/bin/etcd"):
    """An ExecStart= line as `systemctl show` prints it: the argv words joined by single spaces, unquoted."""
    return ("ExecStart={ path=%s ; argv[]=%s ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; "
            "code=(null) ; status=0/0 }\n" % (path, " ".join(argv)))


def systemd_host(exec_argv, fragment, drop_ins=(), env_files=(), environment=None):
    show = exec_start(exec_argv)
    if environment:
        show += "Environment=%s\n" % " ".join("%s=%s" % item for item in environment.items())
    show += "".join("EnvironmentFiles=%s (ignore_errors=no)\n" % path for path in env_files)
    files = "FragmentPath=%s\nDropInPaths=%s\n" % (fragment, " ".join(str(path) for path in drop_ins))
    return SystemctlHost({CONFIG_SHOW: show, FILES_SHOW: files})


UNIT = ("[Unit]\nDescription=etcd key-value store\nAfter=network-online.target\n\n[Service]\nType=notify\n"
        "ExecStart=/usr/local/bin/etcd \\\n  --name n3 \\\n  --data-dir /var/lib/etcd \\\n"
        "  --initial-cluster-state new \\\n  --initial-cluster %s\nRestart=always\n\n"
        "[Install]\nWantedBy=multi-user.target\n" % OLD_CLUSTER)
UNIT_ARGV = ["/usr/local/bin/etcd", "--name", "n3", "--data-dir", "/var/lib/etcd", "--initial-cluster-state", "new",
             "--initial-cluster", OLD_CLUSTER]


def unit_exec_argv(text):
    """The argv of the last ExecStart= of a unit file, as systemd splits it."""
    lines = text.replace("\\\n", " ").splitlines()
    return shlex.split([line for line in lines if line.startswith("ExecStart=")][-1].split("=", 1)[1])


def test_flags_in_execstart_are_changed_in_the_unit_file(tmp_path):
    unit = tmp_path / "etcd.service"
    unit.write_text(UNIT)
    host = systemd_host(UNIT_ARGV, unit)
    (edit,) = plan(host, Systemd(host, "etcd"), None, VALUES)
    assert (edit.path, edit.kind, edit.before) == (str(unit), "systemd_unit", UNIT)
    assert host.calls == [["/usr/bin/systemctl", "show", CONFIG_SHOW, "etcd.service"],
                          ["/usr/bin/systemctl", "show", FILES_SHOW, "etcd.service"]]
    assert unit_exec_argv(edit.after) == ["/usr/local/bin/etcd", "--name", "n3", "--data-dir", "/var/lib/etcd",
                                          "--initial-cluster-state", "existing", "--initial-cluster", NEW_CLUSTER]
    removed, added = changed_lines(UNIT, edit.after)
    assert removed == ["ExecStart=/usr/local/bin/etcd \\", "  --name n3 \\", "  --data-dir /var/lib/etcd \\",
                       "  --initial-cluster-state new \\", "  --initial-cluster " + OLD_CLUSTER]
    assert len(added) == 1 and added[0].startswith("ExecStart=/usr/local/bin/etcd ")
    assert edit.after.startswith("[Unit]\nDescription=etcd key-value store\n")
    assert edit.after.endswith("Restart=always\n\n[Install]\nWantedBy=multi-user.target\n")


def test_apply_keeps_the_unit_writes_it_and_reloads_systemd_and_put_back_restores_its_bytes(tmp_path):
    unit = tmp_path / "etcd.service"
    unit.write_bytes(UNIT.encode())
    os.chmod(unit, 0o644)
    host = systemd_host(UNIT_ARGV, unit)
    backend = Systemd(host, "etcd.service")
    edits = plan(host, backend, None, VALUES)
    assert unit.read_text() == UNIT, "plan() changes nothing"
    host.calls.clear()
    keep = tmp_path / "keep"
    kept = apply(host, backend, edits, str(keep))
    assert kept == {str(unit): str(keep / str(unit).strip("/").replace("/", "__"))}
    assert (keep / os.path.basename(kept[str(unit)])).read_text() == UNIT
    assert unit.read_text() == edits[0].after and os.stat(unit).st_mode & 0o7777 == 0o644
    assert host.calls == [["/usr/bin/systemctl", "daemon-reload"]]
    assert put_back(host, backend, kept, ["systemd_unit"]) == [str(unit)]
    assert unit.read_bytes() == UNIT.encode() and os.stat(unit).st_mode & 0o7777 == 0o644
    assert host.calls == [["/usr/bin/systemctl", "daemon-reload"]] * 2


def test_settings_in_an_environment_file_are_changed_there(tmp_path):
    unit = tmp_path / "etcd.service"
    unit.write_text("[Service]\nEnvironmentFile=%s\nExecStart=/usr/bin/etcd\n" % (tmp_path / "etcd.env"))
    (tmp_path / "etcd.env").write_text(ENV)
    host = systemd_host(["/usr/bin/etcd"], unit, env_files=[tmp_path / "etcd.env"])
    backend = Systemd(host, "etcd")
    (edit,) = plan(host, backend, None, VALUES)
    assert (edit.path, edit.kind, edit.before) == (str(tmp_path / "etcd.env"), "environment_file", ENV)
    assert parse_env_text(edit.after) == dict(parse_env_text(ENV), **ENV_VALUES)
    host.calls.clear()
    kept = apply(host, backend, [edit], str(tmp_path / "keep"))
    assert host.calls == [], "systemd reads an EnvironmentFile when the unit starts: no daemon-reload"
    assert (tmp_path / "etcd.env").read_text() == edit.after and unit.read_text().endswith("ExecStart=/usr/bin/etcd\n")
    assert put_back(host, backend, kept, ["environment_file"]) == [str(tmp_path / "etcd.env")]
    assert (tmp_path / "etcd.env").read_text() == ENV


def test_settings_set_nowhere_go_into_the_last_environment_file(tmp_path):
    unit = tmp_path / "etcd.service"
    unit.write_text("[Service]\nExecStart=/usr/bin/etcd --name n3\n")
    (tmp_path / "a.env").write_text("ETCD_INITIAL_CLUSTER_STATE=new\n")
    (tmp_path / "b.env").write_text("ETCD_DATA_DIR=/var/lib/etcd\n")
    host = systemd_host(["/usr/bin/etcd", "--name", "n3"], unit, env_files=[tmp_path / "a.env", tmp_path / "b.env"])
    edits = plan(host, Systemd(host, "etcd"), None, VALUES)
    assert [(edit.path, edit.kind) for edit in edits] == [(str(tmp_path / "a.env"), "environment_file"),
                                                          (str(tmp_path / "b.env"), "environment_file")]
    assert edits[0].after == 'ETCD_INITIAL_CLUSTER_STATE="existing"\n'
    assert edits[1].after == 'ETCD_DATA_DIR=/var/lib/etcd\nETCD_INITIAL_CLUSTER="%s"\n' % NEW_CLUSTER


def test_a_flag_on_the_command_and_a_variable_in_a_file_are_each_changed_where_they_are(tmp_path):
    unit = tmp_path / "etcd.service"
    unit.write_text("[Service]\nExecStart=/usr/bin/etcd --name n3 --initial-cluster=%s\n" % OLD_CLUSTER)
    (tmp_path / "etcd.env").write_text("ETCD_INITIAL_CLUSTER_STATE=new\n")
    host = systemd_host(["/usr/bin/etcd", "--name", "n3", "--initial-cluster=" + OLD_CLUSTER], unit,
                        env_files=[tmp_path / "etcd.env"])
    edits = plan(host, Systemd(host, "etcd"), None, VALUES)
    assert [(edit.path, edit.kind) for edit in edits] == [(str(tmp_path / "etcd.env"), "environment_file"),
                                                          (str(unit), "systemd_unit")]
    assert edits[0].after == 'ETCD_INITIAL_CLUSTER_STATE="existing"\n'
    assert edits[1].after == "[Service]\nExecStart=/usr/bin/etcd --name n3 --initial-cluster=%s\n" % NEW_CLUSTER


def test_a_config_file_flag_in_execstart_has_the_yaml_edited(tmp_path):
    unit = tmp_path / "etcd.service"
    unit.write_text("[Service]\nExecStart=/usr/bin/etcd --config-file %s\n" % (tmp_path / "etcd.yml"))
    (tmp_path / "etcd.yml").write_text(CONFIG)
    host = systemd_host(["/usr/bin/etcd", "--config-file", str(tmp_path / "etcd.yml")], unit)
    backend = Systemd(host, "etcd")
    (edit,) = plan(host, backend, None, VALUES)
    assert (edit.path, edit.kind, edit.before) == (str(tmp_path / "etcd.yml"), "config_file", CONFIG)
    assert yaml.safe_load(edit.after) == dict(yaml.safe_load(CONFIG), **VALUES)
    host.calls.clear()
    kept = apply(host, backend, [edit], str(tmp_path / "keep"))
    assert host.calls == [] and yaml.safe_load((tmp_path / "etcd.yml").read_text())["initial-cluster"] == NEW_CLUSTER
    put_back(host, backend, kept, ["config_file"])
    assert (tmp_path / "etcd.yml").read_text() == CONFIG and unit.read_text().count("--config-file") == 1


def test_a_config_file_named_in_an_environment_file_has_the_yaml_edited(tmp_path):
    unit = tmp_path / "etcd.service"
    unit.write_text("[Service]\nExecStart=/usr/bin/etcd\n")
    (tmp_path / "etcd.env").write_text("ETCD_CONFIG_FILE=%s\nETCD_INITIAL_CLUSTER_STATE=new\n" % (tmp_path / "c.yml"))
    (tmp_path / "c.yml").write_text(CONFIG)
    host = systemd_host(["/usr/bin/etcd"], unit, env_files=[tmp_path / "etcd.env"])
    (edit,) = plan(host, Systemd(host, "etcd"), None, VALUES)
    assert (edit.path, edit.kind) == (str(tmp_path / "c.yml"), "config_file")


def test_the_drop_in_that_sets_execstart_is_edited_not_the_unit(tmp_path):
    unit = tmp_path / "etcd.service"
    unit.write_text(UNIT)
    (tmp_path / "etcd.service.d").mkdir()
    first = tmp_path / "etcd.service.d" / "10-command.conf"
    first.write_text("[Service]\nExecStart=\nExecStart=/usr/bin/etcd --name n3 --initial-cluster-state new\n")
    last = tmp_path / "etcd.service.d" / "20-limits.conf"
    last.write_text("[Service]\nLimitNOFILE=65536\n")
    host = systemd_host(["/usr/bin/etcd", "--name", "n3", "--initial-cluster-state", "new"], unit,
                        drop_ins=[first, last])
    (edit,) = plan(host, Systemd(host, "etcd"), None, {"initial-cluster-state": "existing"})
    assert (edit.path, edit.kind) == (str(first), "systemd_unit")
    assert edit.after == "[Service]\nExecStart=\nExecStart=/usr/bin/etcd --name n3 --initial-cluster-state existing\n"


def test_a_drop_in_without_execstart_leaves_the_unit_file_to_edit(tmp_path):
    unit = tmp_path / "etcd.service"
    unit.write_text(UNIT)
    (tmp_path / "limits.conf").write_text("[Service]\nLimitNOFILE=65536\n")
    host = systemd_host(UNIT_ARGV, unit, drop_ins=[tmp_path / "limits.conf"])
    (edit,) = plan(host, Systemd(host, "etcd"), None, VALUES)
    assert edit.path == str(unit)


def test_an_execstart_prefix_and_earlier_commands_are_kept():
    text = ("[Service]\nExecStartPre=/bin/mkdir -p /var/lib/etcd\nExecStart=/bin/true --initial-cluster-state new\n"
            "ExecStart=-/usr/bin/etcd --name 'n 3' --initial-cluster-state new\n")
    after = edit_unit_text(text, {"initial-cluster-state": "existing"}, "unit file u")
    assert after == text.replace("ExecStart=-/usr/bin/etcd --name 'n 3' --initial-cluster-state new",
                                 "ExecStart=-/usr/bin/etcd --name 'n 3' --initial-cluster-state existing")


@pytest.mark.parametrize("text, why", [
    ("[Service]\nExecStart=/opt/run-etcd.sh --name n3\n", "^unit file u has no ExecStart= that runs etcd$"),
    ("[Service]\nType=notify\n", "^unit file u has no ExecStart= that runs etcd$"),
    ("[Service]\nExecStart=/usr/bin/etcd --name 'n3\n", "^unit file u: its ExecStart= cannot be split into words"),
])
def test_unit_text_that_cannot_be_edited_is_refused(text, why):
    with pytest.raises(CannotEdit, match=why):
        edit_unit_text(text, VALUES, "unit file u")


def test_a_systemd_unit_that_runs_no_etcd_is_refused(tmp_path):
    unit = tmp_path / "etcd.service"
    unit.write_text("[Service]\nExecStart=/opt/run-etcd.sh\n")
    host = systemd_host(["/opt/run-etcd.sh"], unit)
    host.show[CONFIG_SHOW] = exec_start(["/opt/run-etcd.sh"], path="/opt/run-etcd.sh")
    with pytest.raises(CannotEdit, match="^systemd unit etcd.service runs no etcd, so its configuration cannot be "
                                         "changed here$"):
        plan(host, Systemd(host, "etcd"), None, VALUES)


def test_a_systemd_unit_without_a_unit_file_is_refused():
    host = systemd_host(["/usr/bin/etcd", "--initial-cluster-state", "new"], "")
    with pytest.raises(CannotEdit, match="^systemd unit etcd.service: systemctl names no unit file$"):
        plan(host, Systemd(host, "etcd"), None, VALUES)


def test_an_environment_file_that_cannot_be_read_is_refused_by_name(tmp_path):
    unit = tmp_path / "etcd.service"
    unit.write_text("[Service]\nExecStart=/usr/bin/etcd\n")
    (tmp_path / "etcd.env").mkdir()
    host = systemd_host(["/usr/bin/etcd"], unit, env_files=[tmp_path / "etcd.env"])
    with pytest.raises(CannotEdit, match="^cannot read configuration file %s: Is a directory$"
                       % (tmp_path / "etcd.env")):
        plan(host, Systemd(host, "etcd"), None, VALUES)


# ---- kubeadm static pod -------------------------------------------------------------------------------------------

MANIFEST = """apiVersion: v1
kind: Pod
metadata:
  annotations:
    kubeadm.kubernetes.io/etcd.advertise-client-urls: https://10.0.0.13:2379
  labels:
    component: etcd
    tier: control-plane
  name: etcd
  namespace: kube-system
spec:
  containers:
  - command:
    - etcd
    - --advertise-client-urls=https://10.0.0.13:2379
    - --data-dir=/var/lib/etcd
    - --initial-advertise-peer-urls=https://10.0.0.13:2380
    - --initial-cluster=%s
    - --initial-cluster-state=new
    - --name=n3
    - --snapshot-count=10000
    image: registry.k8s.io/etcd:3.5.16-0
    name: etcd
    volumeMounts:
    - mountPath: /var/lib/etcd
      name: etcd-data
  hostNetwork: true
  volumes:
  - hostPath:
      path: /var/lib/etcd
      type: DirectoryOrCreate
    name: etcd-data
status: {}
""" % OLD_CLUSTER


def manifest_flags(text):
    return parse_flags(pod_container(yaml.safe_load(text)["spec"])[1][1:])


def static_pod(tmp_path, text):
    (tmp_path / "manifests").mkdir(exist_ok=True)
    (tmp_path / "manifests" / "etcd.yaml").write_text(text)
    return StaticPod(str(tmp_path / "manifests"), "etcd.yaml", str(tmp_path / "held"), None)


def test_kubeadm_flag_items_are_changed_in_place(tmp_path):
    backend = static_pod(tmp_path, MANIFEST)
    (edit,) = plan(NoCommands(), backend, None, VALUES)
    assert (edit.path, edit.kind, edit.before) == (backend.manifest, "static_pod", MANIFEST)
    assert changed_lines(MANIFEST, edit.after) == (
        ["    - --initial-cluster=" + OLD_CLUSTER, "    - --initial-cluster-state=new"],
        ['    - "--initial-cluster=%s"' % NEW_CLUSTER, '    - "--initial-cluster-state=existing"'])
    assert manifest_flags(edit.after) == dict(manifest_flags(MANIFEST), **VALUES)
    doc = yaml.safe_load(edit.after)
    doc["spec"]["containers"][0]["command"] = yaml.safe_load(MANIFEST)["spec"]["containers"][0]["command"]
    assert doc == yaml.safe_load(MANIFEST)


def test_an_absent_flag_is_added_after_the_last_flag_item_with_its_indentation():
    text = MANIFEST.replace("    - --initial-cluster-state=new\n", "")
    after = edit_manifest_text(text, VALUES, "static pod manifest m")
    assert after.splitlines()[19:22] == ["    - --snapshot-count=10000", '    - "--initial-cluster-state=existing"',
                                         "    image: registry.k8s.io/etcd:3.5.16-0"]
    assert manifest_flags(after) == dict(manifest_flags(text), **VALUES)


def test_flag_items_of_another_indentation_and_quoting_are_changed():
    text = ("apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - name: etcd\n      command: [\"etcd\"]\n"
            "      args:\n        - '--name=n3'\n        - '--initial-cluster=%s'\n" % OLD_CLUSTER)
    after = edit_manifest_text(text, VALUES, "static pod manifest m")
    assert after.splitlines()[-2:] == ['        - "--initial-cluster=%s"' % NEW_CLUSTER,
                                       '        - "--initial-cluster-state=existing"']
    assert manifest_flags(after) == dict(name="n3", **VALUES)


def test_the_held_manifest_is_edited_while_etcd_is_stopped(tmp_path):
    backend = static_pod(tmp_path, MANIFEST)
    os.makedirs(backend.held_dir)
    os.rename(backend.manifest, backend.held)
    (edit,) = plan(NoCommands(), backend, None, VALUES)
    assert edit.path == backend.held
    assert manifest_flags(edit.after)["initial-cluster"] == NEW_CLUSTER


def test_a_manifest_config_file_is_edited_through_its_hostpath_volume(tmp_path):
    (tmp_path / "host-conf").mkdir()
    (tmp_path / "host-conf" / "etcd.yml").write_text(CONFIG)
    text = MANIFEST.replace("    - --data-dir=/var/lib/etcd\n", "    - --config-file=/etc/etcd/etcd.yml\n").replace(
        "    volumeMounts:\n", "    volumeMounts:\n    - mountPath: /etc/etcd\n      name: etcd-conf\n").replace(
        "  volumes:\n", "  volumes:\n  - hostPath:\n      path: %s\n    name: etcd-conf\n" % (tmp_path / "host-conf"))
    backend = static_pod(tmp_path, text)
    assert static_pod_source(backend.manifest)["name"] == "n3"
    (edit,) = plan(NoCommands(), backend, None, VALUES)
    assert (edit.path, edit.kind, edit.before) == (str(tmp_path / "host-conf" / "etcd.yml"), "config_file", CONFIG)
    assert yaml.safe_load(edit.after) == dict(yaml.safe_load(CONFIG), **VALUES)
    kept = apply(NoCommands(), backend, [edit], str(tmp_path / "keep"))
    assert (tmp_path / "manifests" / "etcd.yaml").read_text() == text
    put_back(NoCommands(), backend, kept, ["config_file"])
    assert (tmp_path / "host-conf" / "etcd.yml").read_text() == CONFIG


def test_a_manifest_config_file_inside_the_image_is_refused(tmp_path):
    backend = static_pod(tmp_path, MANIFEST.replace("    - --data-dir=/var/lib/etcd\n",
                                                    "    - --config-file=/etc/etcd/etcd.yml\n"))
    with pytest.raises(CannotEdit, match="^/etc/etcd/etcd.yml is under no hostPath volume of the pod"):
        plan(NoCommands(), backend, None, VALUES)


def test_settings_in_the_pods_env_are_refused(tmp_path):
    text = MANIFEST.replace("    image:", "    env:\n    - name: ETCD_INITIAL_CLUSTER\n      value: x\n    image:")
    backend = static_pod(tmp_path, text)
    with pytest.raises(CannotEdit, match="^static pod manifest %s sets ETCD_INITIAL_CLUSTER_STATE, "
                                         "ETCD_INITIAL_CLUSTER in the container's env: change them there by hand$"
                       % backend.manifest):
        plan(NoCommands(), backend, None, VALUES)


def test_a_manifest_whose_container_does_not_run_etcd_is_refused(tmp_path):
    backend = static_pod(tmp_path, MANIFEST.replace("    - etcd\n", "    - /bin/sh\n    - -c\n    - exec etcd\n", 1))
    with pytest.raises(CannotEdit, match="^static pod manifest %s has no container whose command runs etcd$"
                       % backend.manifest):
        plan(NoCommands(), backend, None, VALUES)


def test_a_manifest_without_flag_items_is_refused():
    text = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: etcd\n    command: [etcd, --name=n3]\n"
    with pytest.raises(CannotEdit, match="^m: no `- --flag` item found to add --initial-cluster-state after: "
                                         "add it by hand$"):
        edit_manifest_text(text, VALUES, "m")


def test_a_manifest_edit_that_would_touch_more_than_etcds_flags_is_refused():
    text = MANIFEST.replace("  labels:\n", "  labels:\n    - --initial-cluster-state=new\n", 1).replace(
        "    component: etcd\n    tier: control-plane\n", "")
    assert yaml.safe_load(text)["metadata"]["labels"] == ["--initial-cluster-state=new"]
    with pytest.raises(CannotEdit, match=r"^m: the edit would change more than the etcd container's flags: set "
                                         r"--initial-cluster-state=existing, --initial-cluster=\S+ by hand$"):
        edit_manifest_text(text, VALUES, "m")


# ---- plan() without a manager, apply() and put_back() ---------------------------------------------------------------

def test_without_a_manager_the_given_config_file_is_edited(tmp_path):
    (tmp_path / "etcd.yml").write_text(CONFIG)
    (edit,) = plan(NoCommands(), None, str(tmp_path / "etcd.yml"), VALUES)
    assert (edit.path, edit.kind) == (str(tmp_path / "etcd.yml"), "config_file")
    assert config_file_settings(edit.after, "c") == config_file_settings(CONFIG, "c")


def test_without_a_manager_or_a_config_file_nothing_can_be_edited():
    with pytest.raises(CannotEdit, match="^etcd's manager here is not known and no config_file was given, so "
                                         "--initial-cluster-state, --initial-cluster cannot be set$"):
        plan(NoCommands(), None, None, VALUES)


def test_a_config_file_that_is_missing_cannot_be_edited(tmp_path):
    with pytest.raises(CannotEdit, match="^cannot read configuration file %s: No such file or directory$"
                       % (tmp_path / "none.yml")):
        plan(NoCommands(), None, str(tmp_path / "none.yml"), VALUES)


def test_an_edit_describes_itself_with_the_texts_only_when_it_changes_something():
    assert Edit("/e", "config_file", "a\n", "b\n").describe() == dict(
        path="/e", kind="config_file", changed=True, before="a\n", after="b\n")
    assert Edit("/e", "config_file", "a\n", "a\n").describe() == dict(
        path="/e", kind="config_file", changed=False, before=None, after=None)


def test_apply_writes_only_changed_files_and_keeps_the_first_copy_on_a_second_run(tmp_path):
    changed, same = tmp_path / "changed.yml", tmp_path / "same.yml"
    changed.write_text("name: a\n")
    same.write_text("name: b\n")
    os.chmod(changed, 0o640)
    keep = tmp_path / "keep"
    edits = [Edit(str(changed), "config_file", "name: a\n", "name: x\n"),
             Edit(str(same), "config_file", "name: b\n", "name: b\n")]
    kept = apply(NoCommands(), None, edits, str(keep))
    assert kept == {str(changed): kept_name(str(keep), str(changed))}
    assert os.listdir(keep) == [os.path.basename(kept[str(changed)])] and os.stat(keep).st_mode & 0o777 == 0o700
    assert changed.read_text() == "name: x\n" and os.stat(changed).st_mode & 0o7777 == 0o640
    # A resumed run plans from the changed file: the copy of the original is not replaced.
    again = apply(NoCommands(), None, [Edit(str(changed), "config_file", "name: x\n", "name: y\n")], str(keep))
    with open(kept[str(changed)]) as handle:
        assert again == kept and handle.read() == "name: a\n"
    assert put_back(NoCommands(), None, kept, ["config_file"]) == [str(changed)]
    assert changed.read_text() == "name: a\n" and os.stat(changed).st_mode & 0o7777 == 0o640


def test_put_back_skips_a_copy_that_is_gone(tmp_path):
    (tmp_path / "etcd.yml").write_text("name: x\n")
    kept = {str(tmp_path / "etcd.yml"): str(tmp_path / "keep" / "gone")}
    assert put_back(NoCommands(), None, kept, ["config_file"]) == []
    assert (tmp_path / "etcd.yml").read_text() == "name: x\n"


def test_kept_names_are_one_file_per_path():
    assert kept_name("/keep", "/etc/etcd/etcd.yml") == "/keep/etc__etcd__etcd.yml"
    assert kept_name("/keep", "/etc/etcd/etcd.yml") != kept_name("/keep", "/etc/etcd.yml")


# ---- known bugs: each test states what etcd would do with the edited text -----------------------------------------

def test_an_inline_comment_in_a_supervisor_command_stays_a_comment(tmp_path):
    """supervisord strips ` ; ...` and ` # ...` comments from values (inline_comment_prefixes, as
    member_config.supervisor_program reads them); the edit must not turn them into etcd's arguments."""
    conf = tmp_path / "supervisord.conf"
    conf.write_text("[program:etcd]\ncommand=/usr/bin/etcd --name n3   ; the member\n"
                    "  --initial-cluster-state new   # until it joined\n  --data-dir /var/lib/etcd\n")
    before, dummy, dummy2 = supervisor_program(str(conf), "etcd")
    (edit,) = plan(NoCommands(), SupervisorBackend(conf), None, {"initial-cluster-state": "existing"})
    conf.write_text(edit.after)
    after, dummy, dummy2 = supervisor_program(str(conf), "etcd")
    assert go_flags(before[1:]) == (dict(name="n3", **{"initial-cluster-state": "new", "data-dir": "/var/lib/etcd"}),
                                    [])
    # etcd refuses positional arguments (such as ';' and '#'), and --data-dir must stay a flag.
    assert go_flags(after[1:]) == (dict(go_flags(before[1:])[0], **{"initial-cluster-state": "existing"}), [])


def test_an_inline_comment_in_a_supervisor_environment_does_not_change_another_variable(tmp_path):
    conf = tmp_path / "supervisord.conf"
    conf.write_text('[program:etcd]\ncommand=/usr/bin/etcd\n'
                    'environment=ETCD_INITIAL_CLUSTER_STATE="new",ETCD_NAME="n3"   ; the member\n')
    before = supervisor_program(str(conf), "etcd")[1]
    assert before == {"ETCD_INITIAL_CLUSTER_STATE": "new", "ETCD_NAME": "n3"}
    try:
        (edit,) = plan(NoCommands(), SupervisorBackend(conf), None, {"initial-cluster-state": "existing"})
    except CannotEdit:
        return
    conf.write_text(edit.after)
    assert supervisor_program(str(conf), "etcd")[1] == {"ETCD_INITIAL_CLUSTER_STATE": "existing", "ETCD_NAME": "n3"}


def test_a_flag_that_comes_from_a_variable_in_execstart_is_not_shadowed(tmp_path):
    """ExecStart=/usr/bin/etcd $DAEMON_ARGS with the flags in DAEMON_ARGS (the Debian layout): a flag put before
    $DAEMON_ARGS is overridden by the one in it (Go's flag package keeps the last value)."""
    env = tmp_path / "etcd.env"
    env.write_text('DAEMON_ARGS="--name n3 --initial-cluster-state new --initial-cluster %s"\n' % OLD_CLUSTER)
    unit = tmp_path / "etcd.service"
    unit.write_text("[Service]\nEnvironmentFile=%s\nExecStart=/usr/bin/etcd $DAEMON_ARGS\n" % env)
    host = systemd_host(["/usr/bin/etcd", "$DAEMON_ARGS"], unit, env_files=[env])
    try:
        edits = plan(host, Systemd(host, "etcd"), None, VALUES)
    except CannotEdit:
        return
    texts = {str(path): path.read_text() for path in (env, unit)}
    texts.update((edit.path, edit.after) for edit in edits)
    argv = unit_exec_argv(texts[str(unit)])
    flags = parse_flags(expand_exec_args(argv[1:], parse_env_text(texts[str(env)])))
    assert flags == dict(name="n3", **VALUES)


def test_a_variable_set_by_environment_in_the_unit_is_not_doubled_by_a_flag(tmp_path):
    """etcd exits when a flag and its ETCD_ variable are both set ("conflicting environment variable is shadowed
    by corresponding command-line flag")."""
    unit = tmp_path / "etcd.service"
    unit.write_text("[Service]\nEnvironment=ETCD_INITIAL_CLUSTER_STATE=new\nEnvironment=ETCD_INITIAL_CLUSTER=%s\n"
                    "ExecStart=/usr/bin/etcd --name n3\n" % OLD_CLUSTER)
    host = systemd_host(["/usr/bin/etcd", "--name", "n3"], unit,
                        environment={"ETCD_INITIAL_CLUSTER_STATE": "new", "ETCD_INITIAL_CLUSTER": OLD_CLUSTER})
    try:
        edits = plan(host, Systemd(host, "etcd"), None, VALUES)
    except CannotEdit:
        return
    (edit,) = edits
    flags = parse_flags(unit_exec_argv(edit.after)[1:])
    environment = [line.split("=", 1)[1].split("=", 1)[0] for line in edit.after.splitlines()
                   if line.startswith("Environment=")]
    assert not [flag for flag in flags if "ETCD_" + flag.upper().replace("-", "_") in environment]


def test_a_manifest_flag_with_its_value_in_the_next_item_gets_the_new_value():
    """`- --initial-cluster` then `- <value>`: Go gives the string flag the next item, so a `--initial-cluster=...`
    item put between them becomes the value and the old value a positional argument, which etcd refuses."""
    text = MANIFEST.replace("    - --initial-cluster=%s\n" % OLD_CLUSTER, "").replace(
        "    - --snapshot-count=10000\n",
        "    - --snapshot-count=10000\n    - --initial-cluster\n    - %s\n" % OLD_CLUSTER)
    before = pod_container(yaml.safe_load(text)["spec"])[1]
    assert go_flags(before[1:])[0]["initial-cluster"] == OLD_CLUSTER
    try:
        after = edit_manifest_text(text, {"initial-cluster": NEW_CLUSTER}, "m")
    except CannotEdit:
        return
    command = pod_container(yaml.safe_load(after)["spec"])[1]
    assert go_flags(command[1:]) == (dict(go_flags(before[1:])[0], **{"initial-cluster": NEW_CLUSTER}), [])


def test_a_sidecar_with_the_same_flag_is_refused_not_changed():
    text = MANIFEST.replace("  hostNetwork: true", "  - name: sidecar\n    image: example/sidecar\n    command:\n"
                            "    - sidecar\n    - --initial-cluster=%s\n  hostNetwork: true" % OLD_CLUSTER, 1)
    assert yaml.safe_load(text)["spec"]["containers"][1]["name"] == "sidecar"
    with pytest.raises(CannotEdit, match="would change more than the etcd container's flags"):
        edit_manifest_text(text, {"initial-cluster": NEW_CLUSTER}, "m")


def test_an_environment_value_with_quotes_inside_is_refused(tmp_path):
    conf = tmp_path / "supervisord.conf"
    conf.write_text("[program:etcd]\ncommand=/usr/bin/etcd\n"
                    "environment=ETCD_INITIAL_CLUSTER_STATE=\"new\",OTHER='a\"b'\n")
    with pytest.raises(CannotEdit, match="has quotes inside OTHER"):
        plan(NoCommands(), SupervisorBackend(conf), None, {"initial-cluster-state": "existing"})
