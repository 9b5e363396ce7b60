"""The member's name, peer URLs, data dir and WAL dir as etcd reads them: flags (Go's flag package), ETCD_ variables,
--config-file; and where they come from: a fake /proc tree for the running process, supervisord configurations,
`systemctl show` output through the one command seam, static pod manifests."""
import os

import pytest
import yaml

from ansible_collections.etcdops.dr.plugins.module_utils._host import member_config as _member_config
from ansible_collections.etcdops.dr.plugins.module_utils._host.member_config import (
    Unreadable, collect, command_settings, parse_flags, parse_systemctl_show, running_sources, static_pod_source,
    supervisor_program, supervisor_source, systemd_source)

PEER = "https://10.0.0.1:2380"
HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"


def no_file(path):
    raise AssertionError("no config file may be read here, asked for %s" % path)


def settings(args, environ=None, files=None):
    return command_settings(args, environ or {}, (files or {}).__getitem__ if files else no_file)


# ---- flags, environment, config file: etcd's precedence ----------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["--name=n1", "--data-dir=/d"],
    ["--name", "n1", "--data-dir", "/d"],
    ["-name", "n1", "-data-dir=/d"],
    ["-name=n1", "--data-dir", "/d"],
    # Boolean flags take no separate value; a flag given twice keeps the last value.
    ["--client-cert-auth", "--name", "first", "--force-new-cluster", "-name", "n1", "--data-dir", "/d"],
    # A flag etcd does not know takes the next argument as its value unless that is a flag.
    ["--some-newer-bool", "--name", "n1", "--some-newer-string", "v", "--data-dir", "/d"],
])
def test_every_flag_form_go_accepts(args):
    found, config_file = settings(args)
    assert (found["name"], found["data_dir"], found["wal_dir"], config_file) == ("n1", "/d", None, None)


def test_flag_parsing_ends_where_gos_does():
    assert parse_flags(["--name", "n1", "--", "--data-dir", "/d"]) == {"name": "n1"}
    assert parse_flags(["--name", "n1", "positional", "--data-dir", "/d"]) == {"name": "n1"}
    assert parse_flags(["---name", "n1"]) == {}
    # A string flag takes the next argument whatever it looks like.
    assert parse_flags(["--name", "-odd", "--wal-dir"]) == {"name": "-odd"}
    assert parse_flags(["--strict-reconfig-check=false", "--name=a=b"]) == {
        "strict-reconfig-check": "false", "name": "a=b"}


def test_environment_applies_only_where_the_flag_is_absent():
    environ = {"ETCD_NAME": "from-env", "ETCD_DATA_DIR": "/env", "ETCD_WAL_DIR": "", "ETCD_INITIAL_ADVERTISE_PEER_URLS":
               PEER + ",https://[::1]:2380", "OTHER": "x"}
    found, dummy = settings(["--name", "from-flag"], environ)
    assert found == dict(name="from-flag", data_dir="/env", wal_dir=None,
                         initial_advertise_peer_urls=[PEER, "https://[::1]:2380"])
    # An explicitly empty flag is still the flag: the variable is not consulted.
    assert settings(["--data-dir="], environ)[0]["data_dir"] is None


def test_a_config_file_wins_over_every_other_flag_and_variable():
    text = yaml.safe_dump({"name": "from-file", "data-dir": "/file", "initial-advertise-peer-urls": PEER})
    files = {"/etc/etcd.yml": text, "/env.yml": yaml.safe_dump({"name": "from-env-file"})}
    environ = {"ETCD_NAME": "from-env", "ETCD_WAL_DIR": "/env-wal", "ETCD_CONFIG_FILE": "/env.yml"}
    found, config_file = settings(["--name", "from-flag", "--config-file", "/etc/etcd.yml"], environ, files)
    assert config_file == "/etc/etcd.yml"
    assert found == dict(name="from-file", data_dir="/file", wal_dir=None, initial_advertise_peer_urls=[PEER])
    # ETCD_CONFIG_FILE counts when the flag is absent (or empty), and then flags are ignored too.
    assert settings(["-name", "from-flag"], environ, files) == (
        dict(name="from-env-file", data_dir=None, wal_dir=None, initial_advertise_peer_urls=None), "/env.yml")
    assert settings(["--config-file="], environ, files)[1] == "/env.yml"


def test_config_file_keys_match_as_encoding_json_does():
    text = "Name: upper\nDATA-DIR: /d\n"
    assert settings(["--config-file=/c"], files={"/c": text})[0]["name"] == "upper"
    assert settings(["--config-file=/c"], files={"/c": "name: exact\nNAME: other\n"})[0]["name"] == "exact"
    with pytest.raises(Unreadable, match="not an etcd configuration file"):
        settings(["--config-file=/c"], files={"/c": "- a list\n"})
    with pytest.raises(Unreadable, match="is not valid YAML"):
        settings(["--config-file=/c"], files={"/c": "name: [unclosed\n"})


def test_environment_files():
    text = ('# comment\n; other comment\nexport ETCD_NAME="n 2"\nETCD_DATA_DIR=/data # trailing\n'
            "DAEMON_ARGS='--wal-dir /w \\\n--name x'\nnot a line\n")
    assert _member_config.parse_env_text(text) == {"ETCD_NAME": "n 2", "ETCD_DATA_DIR": "/data",
                                                   "DAEMON_ARGS": "--wal-dir /w --name x"}


# ---- the running process, from a fake /proc -----------------------------------------------------------------------

def fake_proc(tmp_path, listeners, processes):
    """listeners: [(hex address:port, inode)]; processes: {pid: dict(argv=[...], environ={...}, sockets=[inode],
    root={path: text}, cwd={path: text}, hidden_environ=bool)}."""
    proc = tmp_path / "proc"
    (proc / "net").mkdir(parents=True)
    (proc / "net" / "tcp").write_text(HEADER + "".join(
        "   0: %s 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 %s 1\n" % row
        for row in listeners))
    (proc / "net" / "tcp6").write_text(HEADER)
    for pid, spec in processes.items():
        base = proc / str(pid)
        (base / "fd").mkdir(parents=True)
        (base / "cmdline").write_bytes(b"".join(arg.encode() + b"\0" for arg in spec["argv"]))
        if not spec.get("hidden_environ"):
            (base / "environ").write_bytes(b"".join(("%s=%s" % kv).encode() + b"\0"
                                                    for kv in spec.get("environ", {}).items()))
        for number, inode in enumerate(spec.get("sockets", [])):
            os.symlink("socket:[%s]" % inode, base / "fd" / str(number))
        for where in ("root", "cwd"):
            for path, text in spec.get(where, {}).items():
                target = base / where / path.lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
    return str(proc)


# 127.0.0.11:2379 and :2380 (hex, little-endian words as /proc/net/tcp prints them).
CLIENT, PEER_PORT = "0B00007F:094B", "0B00007F:094C"
ADDRESSES = [("127.0.0.11", 2379), ("127.0.0.11", 2380)]


def test_the_running_etcd_with_flags_and_environment(tmp_path):
    proc = fake_proc(tmp_path, [(CLIENT, 100), (PEER_PORT, 101)], {
        42: dict(argv=["/usr/local/bin/etcd", "-name", "node1", "--data-dir=/var/lib/etcd"],
                 environ={"ETCD_INITIAL_ADVERTISE_PEER_URLS": PEER, "ETCD_NAME": "ignored", "PATH": "/bin"},
                 sockets=[100, 101])})
    sources, unread, not_running = running_sources(ADDRESSES, proc)
    assert (unread, not_running) == ([], None)
    assert sources == [dict(source="running process pid 42 (%s/42/cmdline)" % proc, kind="process", program="/usr/local/bin/etcd", tls_files={}, name="node1",
                            initial_advertise_peer_urls=[PEER], data_dir="/var/lib/etcd", wal_dir=None)]


def test_the_running_etcd_config_file_is_read_through_its_root_and_cwd(tmp_path):
    config = yaml.safe_dump({"name": "cp1", "data-dir": "/var/lib/etcd", "wal-dir": "/wal"})
    proc = fake_proc(tmp_path, [(CLIENT, 100)], {
        7: dict(argv=["etcd", "--config-file", "/etc/etcd/etcd.yaml", "--name", "ignored"], sockets=[100],
                root={"/etc/etcd/etcd.yaml": config}),
        8: dict(argv=["etcd"], environ={"ETCD_CONFIG_FILE": "conf/etcd.yaml"}, sockets=[101],
                cwd={"conf/etcd.yaml": config.replace("cp1", "cp2")})})
    (source,), unread, dummy = running_sources([("127.0.0.11", 2379)], proc)
    assert source["source"] == "running process pid 7 (%s/7/cmdline), config file /etc/etcd/etcd.yaml" % proc
    assert (source["name"], source["wal_dir"], unread) == ("cp1", "/wal", [])
    with open(os.path.join(proc, "net", "tcp"), "a") as handle:
        handle.write("   1: %s 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 101 1\n"
                     % PEER_PORT)
    sources, unread, dummy = running_sources(ADDRESSES, proc)
    assert [s["name"] for s in sources] == ["cp1", "cp2"] and unread == []
    os.remove(os.path.join(proc, "7", "root", "etc", "etcd", "etcd.yaml"))
    sources, unread, dummy = running_sources(ADDRESSES, proc)
    assert [s["name"] for s in sources] == ["cp2"]
    assert unread == ["running process pid 7 (%s/7/cmdline): cannot read config file /etc/etcd/etcd.yaml (as "
                      "%s/7/root/etc/etcd/etcd.yaml): No such file or directory" % (proc, proc)]


def test_what_cannot_be_seen_is_said(tmp_path):
    proc = fake_proc(tmp_path, [(CLIENT, 100), (PEER_PORT, 101), ("0C00007F:094B", 102)], {
        5: dict(argv=["python3", "-m", "http.server"], sockets=[100]),
        6: dict(argv=["etcd", "--name", "n"], sockets=[102], hidden_environ=True)})
    sources, unread, not_running = running_sources(ADDRESSES + [("127.0.0.12", 2379)], proc)
    assert sources == [] and not_running is None
    assert unread[0] == ("a process this user cannot see listens on 127.0.0.11:2380, so the running etcd's "
                         "configuration cannot be read (run as root: become: true)")
    assert unread[1] == "pid 5 (python3 -m http.server) listens on the member's ports but is not etcd"
    assert "6/environ" in unread[2] and "run as root" in unread[2]
    assert running_sources([("127.0.0.13", 2379)], proc) == (
        [], [], "etcd does not run on this host (nothing listens on 127.0.0.13:2379)")


# ---- supervisor ---------------------------------------------------------------------------------------------------

def test_a_supervisor_program_with_plain_flags_includes_and_environment(tmp_path):
    (tmp_path / "conf.d").mkdir()
    main = tmp_path / "supervisord.conf"
    main.write_text("[supervisord]\nenvironment=ETCD_WAL_DIR=/global-wal,ETCD_DATA_DIR=/global\n\n"
                    "[include]\nfiles = conf.d/*.conf   ; inline comment\n")
    (tmp_path / "conf.d" / "etcd.conf").write_text(
        "[program:etcd-%s]\n" % "a"
        + "command = /usr/bin/etcd -name %(program_name)s --data-dir=%(here)s/data\n"
        + "  --initial-advertise-peer-urls " + PEER + "   # comment\n"
        + 'environment=ETCD_NAME="ignored",ETCD_WAL_DIR="/w,x"\ndirectory=/srv\n')
    argv, environ, directory = supervisor_program(str(main), "etcd-a")
    assert argv[:3] == ["/usr/bin/etcd", "-name", "etcd-a"] and directory == "/srv"
    assert environ == {"ETCD_WAL_DIR": "/w,x", "ETCD_DATA_DIR": "/global", "ETCD_NAME": "ignored"}
    source = supervisor_source("group:etcd-a", str(main))
    assert source == dict(source="supervisor program etcd-a in %s" % main, kind="supervisor", program="/usr/bin/etcd", tls_files={}, name="etcd-a",
                          initial_advertise_peer_urls=[PEER], data_dir=str(tmp_path / "conf.d" / "data"),
                          wal_dir="/w,x")


def test_a_supervisor_program_with_a_config_file(tmp_path):
    (tmp_path / "etcd.yml").write_text(yaml.safe_dump({"name": "n1", "data-dir": "/d"}))
    conf = tmp_path / "s.conf"
    conf.write_text("[program:etcd]\ncommand=etcd --config-file etcd.yml --name x\ndirectory=%s\n"
                    "environment=ETCD_PATH=%%(ENV_PATH)s\n" % tmp_path)
    with pytest.raises(Unreadable, match=r"uses %\(ENV_PATH\)s, which supervisord takes from its own environment"):
        supervisor_source("etcd", str(conf))
    conf.write_text("[program:etcd]\ncommand=etcd --config-file etcd.yml --name x\ndirectory=%s\n" % tmp_path)
    source = supervisor_source("etcd", str(conf))
    assert source["source"] == "supervisor program etcd in %s, config file etcd.yml" % conf
    assert (source["name"], source["data_dir"]) == ("n1", "/d")


@pytest.mark.parametrize("program, why", [
    ("[program:etcd]\ncommand=/opt/run-etcd.sh --name n1\n", "runs /opt/run-etcd.sh, not etcd"),
    ("[program:etcd]\nautostart=true\n", "has no command"),
    ("[program:other]\ncommand=etcd\n", "supervisor has no program etcd in"),
    ("[program:etcd]\ncommand=etcd --config-file /nonexistent.yml\n",
     "cannot read config file /nonexistent.yml: No such file"),
    ("[program:etcd]\ncommand=etcd --config-file rel.yml\n", "relative and the working directory is not known"),
    ("[program:etcd]\ncommand=etcd --name 'unclosed\n", "cannot be split into words"),
    ("no section header\n", "cannot be parsed"),
])
def test_a_supervisor_program_that_cannot_be_read_says_why(tmp_path, program, why):
    conf = tmp_path / "supervisord.conf"
    conf.write_text(program)
    with pytest.raises(Unreadable, match=why):
        supervisor_source("etcd", str(conf))


def test_supervisor_conf_defaults_to_where_supervisorctl_looks(tmp_path, monkeypatch):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "supervisord.conf").write_text("[program:etcd]\ncommand=etcd --name n1\n")
    source = supervisor_source("etcd", None, str(tmp_path / "bin" / "supervisorctl"))
    assert source["name"] == "n1" and str(tmp_path / "etc" / "supervisord.conf") in source["source"]
    monkeypatch.setattr(_member_config, "SUPERVISOR_CONF_PATHS", (str(tmp_path / "none.conf"),))
    with pytest.raises(Unreadable, match="no supervisord configuration at .*none.conf .set supervisor_conf"):
        supervisor_source("etcd", None, None)


# ---- systemd, through the one command seam -------------------------------------------------------------------------

class FakeModule:
    def __init__(self, *replies):
        self.replies = list(replies)
        self.calls = []

    def run_command(self, cmd, check_rc=False, environ_update=None):
        assert isinstance(cmd, list) and environ_update["LANG"] == "C"
        self.calls.append(cmd)
        return self.replies.pop(0)


def exec_start(argv, path="/usr/bin/etcd", tail="ignore_errors=no"):
    return ("ExecStart={ path=%s ; argv[]=%s ; %s ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; "
            "status=0/0 }\n" % (path, argv, tail))


def test_systemctl_show_is_parsed():
    text = (exec_start("/usr/bin/etcd $DAEMON_ARGS --wal-dir ${WAL}/x", tail="flags=ignore-failure")
            + 'Environment=ETCD_NAME=n1 "ETCD_X=a b \\"c\\"" WAL=/w\n'
            + "EnvironmentFiles=/etc/default/etcd (ignore_errors=yes)\nEnvironmentFiles=/etc/etcd.env "
            + "(ignore_errors=no)\nOther=1\n")
    commands, environ, files = parse_systemctl_show(text)
    assert commands == [("/usr/bin/etcd", ["/usr/bin/etcd", "$DAEMON_ARGS", "--wal-dir", "${WAL}/x"])]
    assert environ == {"ETCD_NAME": "n1", "ETCD_X": 'a b "c"', "WAL": "/w"}
    assert files == [("/etc/default/etcd", True), ("/etc/etcd.env", False)]
    assert _member_config.expand_exec_args(["$A", "x${B}y", "$NONE", "${NONE}"], {"A": " -a  1 ", "B": "b b"}) == [
        "-a", "1", "xb by", ""]


def test_a_systemd_unit_with_environment_files(tmp_path):
    env_file = tmp_path / "etcd.env"
    env_file.write_text('DAEMON_ARGS="--name n1 --initial-advertise-peer-urls %s"\nETCD_DATA_DIR=/file\n' % PEER)
    module = FakeModule((0, exec_start("/usr/bin/etcd $DAEMON_ARGS") + "Environment=ETCD_DATA_DIR=/env ETCD_NAME=x\n"
                         + "EnvironmentFiles=%s (ignore_errors=yes)\n" % (tmp_path / "absent")
                         + "EnvironmentFiles=%s (ignore_errors=no)\n" % env_file, ""))
    source = systemd_source(module, "/usr/bin/systemctl", "etcd.service")
    assert module.calls == [["/usr/bin/systemctl", "show", "--property=ExecStart,Environment,EnvironmentFiles",
                             "etcd.service"]]
    # The file overrides Environment=; the flag from $DAEMON_ARGS wins over ETCD_NAME.
    assert source == dict(source="systemd unit etcd.service", kind="systemd", program="/usr/bin/etcd", tls_files={}, name="n1",
                          initial_advertise_peer_urls=[PEER], data_dir="/file", wal_dir=None)


@pytest.mark.parametrize("show, why", [
    ("", "has no ExecStart"),
    (exec_start("/bin/sh -c etcd", path="/bin/sh"), "runs /bin/sh, not etcd"),
    (exec_start("/usr/bin/etcd") + "EnvironmentFiles=/nonexistent/etcd.env (ignore_errors=no)\n",
     "cannot read EnvironmentFile /nonexistent/etcd.env"),
])
def test_a_systemd_unit_that_cannot_be_read_says_why(show, why):
    with pytest.raises(Unreadable, match=why):
        systemd_source(FakeModule((0, show, "")), "/usr/bin/systemctl", "etcd.service")


# ---- kubeadm static pod -------------------------------------------------------------------------------------------

def manifest(tmp_path, command, mounts=None, volumes=None, env=None):
    container = {"name": "etcd", "image": "registry.k8s.io/etcd:3.5.16-0", "command": command}
    if mounts:
        container["volumeMounts"] = mounts
    if env:
        container["env"] = env
    pod = {"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [container], "volumes": volumes or []}}
    path = tmp_path / "etcd.yaml"
    path.write_text(yaml.safe_dump(pod))
    return str(path)


def test_a_kubeadm_manifest(tmp_path):
    path = manifest(tmp_path, ["etcd", "--name=cp1", "--data-dir=/var/lib/etcd", "--initial-advertise-peer-urls=" + PEER],
                    env=[{"name": "ETCD_WAL_DIR", "value": "/wal"}, {"name": "X", "valueFrom": {}}])
    assert static_pod_source(str(tmp_path / "absent.yaml"), path) == dict(
        source="static pod manifest %s" % path, kind="static_pod", program="etcd", tls_files={}, name="cp1", initial_advertise_peer_urls=[PEER],
        data_dir="/var/lib/etcd", wal_dir="/wal")


def test_a_manifest_config_file_is_read_through_its_hostpath_volume(tmp_path):
    (tmp_path / "host-conf").mkdir()
    (tmp_path / "host-conf" / "etcd.yml").write_text("name: cp2\n")
    mounts = [{"name": "conf", "mountPath": "/etc/etcd"}, {"name": "data", "mountPath": "/var/lib/etcd"}]
    volumes = [{"name": "conf", "hostPath": {"path": str(tmp_path / "host-conf")}},
               {"name": "data", "hostPath": {"path": "/var/lib/etcd"}}]
    path = manifest(tmp_path, ["etcd", "--config-file=/etc/etcd/etcd.yml"], mounts, volumes)
    assert static_pod_source(path)["name"] == "cp2"
    path = manifest(tmp_path, ["etcd", "--config-file=/image/etcd.yml"], mounts, volumes)
    with pytest.raises(Unreadable, match="under no hostPath volume of the pod, so it is inside the container image"):
        static_pod_source(path)
    path = manifest(tmp_path, ["/bin/sh", "-c", "exec etcd --name cp1"])
    with pytest.raises(Unreadable, match="no container whose command runs etcd"):
        static_pod_source(path)


# ---- all sources together -----------------------------------------------------------------------------------------

class Backend:
    name = "supervisor"
    program = "etcd"
    supervisorctl = None

    def __init__(self, conf):
        self.conf = conf


def test_collect_reads_every_source_and_says_why_when_none_was_read(tmp_path):
    proc = fake_proc(tmp_path, [], {})
    conf = tmp_path / "s.conf"
    conf.write_text("[program:etcd]\ncommand=/opt/run-etcd.sh\n")
    config = tmp_path / "etcd.yml"
    sources, missing, unread = collect(None, Backend(str(conf)), ADDRESSES, None, proc=proc)
    assert sources == [] and unread == ["supervisor program etcd in %s runs /opt/run-etcd.sh, not etcd, so etcd's "
                                        "flags cannot be read from it" % conf]
    assert missing == ("etcd does not run on this host (nothing listens on 127.0.0.11:2379 or 127.0.0.11:2380); "
                       "%s; no config_file was given." % unread[0])
    sources, missing, unread = collect(None, Backend(str(conf)), ADDRESSES, str(config), proc=proc)
    assert missing.endswith("; cannot read config file %s: No such file or directory." % config)
    config.write_text("hello\n")
    assert "is neither an etcd YAML config file" in collect(None, None, ADDRESSES, str(config), proc=proc)[1]
    config.write_text("ETCD_NAME=n1\n")
    sources, missing, unread = collect(None, Backend(str(conf)), ADDRESSES, str(config), proc=proc)
    assert missing is None and len(unread) == 1
    assert sources == [dict(source="config file %s" % config, kind="environment", name="n1",
                            initial_advertise_peer_urls=None, data_dir=None, wal_dir=None)]
