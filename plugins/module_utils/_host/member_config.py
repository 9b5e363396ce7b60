# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What configures this host's etcd member - its name, initial advertise peer URLs, data dir and WAL dir - read the
way etcd itself reads them: from the running process, from what its manager starts (a supervisor program, a systemd
unit, a kubeadm static pod), or from a file (an etcd YAML config, an environment file).

A source that was read is a dict: `source` (where, for people), `kind`, `name`, `initial_advertise_peer_urls` (a
list), `data_dir` and `wal_dir`, each None where that source does not set it. A source that exists but cannot be
read raises Unreadable, saying why; nothing here guesses.
"""
from __future__ import annotations

import configparser
import glob
import os
import platform
import re
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, overload

try:
    import yaml
except ImportError:
    yaml = None  # type: ignore[assignment]

from ansible_collections.etcdops.dr.plugins.module_utils._host import local_member as _local_member
from ansible_collections.etcdops.dr.plugins.module_utils._host.run import CommandError, run
from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError

if TYPE_CHECKING:
    from ansible_collections.etcdops.dr.plugins.module_utils._host.run import HostContext

PROC = _local_member.PROC

# Each setting a restore must agree with, under its flag name; etcd's YAML config file uses the same keys.
FLAGS = {
    "name": "name",
    "initial_advertise_peer_urls": "initial-advertise-peer-urls",
    "data_dir": "data-dir",
    "wal_dir": "wal-dir",
}
CONFIG_FILE_FLAG = "config-file"
# The TLS files a member needs, under their flag names; etcd's YAML config file nests them under
# client-transport-security and peer-transport-security (without the peer- prefix).
TLS_FLAGS = ("cert-file", "key-file", "trusted-ca-file", "peer-cert-file", "peer-key-file", "peer-trusted-ca-file")
CONFIG_FILE_ENV = "ETCD_CONFIG_FILE"

# Flags that etcd 3.4 to 3.6 define as booleans (flag.BoolVar in etcdmain/config.go and, in 3.6, embed/config.go),
# and the ignored legacy flags, which are boolean too (flags.IgnoredFlag.IsBoolFlag). Go's flag package never gives a
# boolean flag the next argument as its value: `--force-new-cluster --name x` is two flags.
BOOL_FLAGS = frozenset("""
    auto-tls client-cert-auth debug discovery-insecure-skip-tls-verify discovery-insecure-transport
    enable-distributed-tracing enable-grpc-gateway enable-log-rotation enable-pprof enable-v2
    experimental-compact-hash-check-enabled experimental-enable-distributed-tracing
    experimental-enable-lease-checkpoint experimental-enable-lease-checkpoint-persist experimental-initial-corrupt-check
    experimental-memory-mlock experimental-peer-skip-client-san-verification experimental-stop-grpc-service-on-defrag
    experimental-txn-mode-write-with-shared-buffer force-new-cluster initial-election-tick-advance memory-mlock
    next-cluster-version-compatible peer-auto-tls peer-client-cert-auth peer-skip-client-san-verification pre-vote
    socket-reuse-address socket-reuse-port strict-reconfig-check unsafe-no-fsync version
    cluster-active-size cluster-remove-delay cluster-sync-interval config force max-result-buffer max-retry-attempts
    peer-heartbeat-interval peer-election-timeout retry-interval snapshot v vv test.coverprofile test.outputdir
    h help
""".split())
# String flags: Go gives them the next argument whatever it looks like (`--name -x` names the member "-x").
VALUE_FLAGS = frozenset(list(FLAGS.values())
                        + [CONFIG_FILE_FLAG, "initial-cluster", "initial-cluster-state", "initial-cluster-token"])

SYSTEMD_PROPERTIES = "--property=ExecStart,Environment,EnvironmentFiles"


class Unreadable(EtcdOpsError):
    """A source of the member's configuration that exists but cannot be read; msg says which and why."""


def env_name(flag: str) -> str:
    """etcd's environment variable for a flag (pkg/flags FlagToEnv): data-dir -> ETCD_DATA_DIR."""
    return "ETCD_" + flag.upper().replace("-", "_")


def is_etcd(program: str | None) -> bool:
    return os.path.basename(program or "") == "etcd"


def _settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """A source's settings from {setting: raw value}: empty means unset, peer URLs become a list."""
    result: dict[str, Any] = {}
    for setting in FLAGS:
        value = values.get(setting)
        if isinstance(value, (list, tuple)):
            value = ",".join(str(item) for item in value)
        result[setting] = None if value is None or str(value) == "" else str(value)
    urls = result["initial_advertise_peer_urls"]
    if urls is not None:
        result["initial_advertise_peer_urls"] = [url.strip() for url in urls.split(",") if url.strip()]
    return result


# ---- etcd's own parsing: flags, environment, YAML config file --------------------------------------------------

def parse_flags(args: Sequence[object]) -> dict[str, str]:
    """{flag name: value} from etcd's arguments (argv without the program), parsed as Go's flag package does.

    `-name` and `--name` are one flag; `--name=x` and `--name x` give it a value; a boolean flag takes no separate
    value. Parsing ends at `--`, at the first argument that is not a flag, or at bad syntax (etcd then refuses to
    start: it accepts no positional argument). A flag given twice keeps its last value. A flag that etcd does not
    define here takes the next argument unless that one starts with '-' (a boolean flag of a newer etcd)."""
    found = {}
    index = 0
    while index < len(args):
        arg = str(args[index])
        index += 1
        if len(arg) < 2 or arg[0] != "-" or arg == "--":
            break
        name = arg[2:] if arg.startswith("--") else arg[1:]
        if not name or name[0] in "-=":
            break
        name, has_value, value = name.partition("=")
        if not has_value:
            takes_next = name in VALUE_FLAGS or (name not in BOOL_FLAGS and index < len(args)
                                                 and not str(args[index]).startswith("-"))
            if takes_next and index < len(args):
                value = str(args[index])
                index += 1
            elif name in VALUE_FLAGS:
                break
            else:
                value = "true"
        found[name] = value
    return found


def _yaml_load(text: str, what: str) -> Any:
    if yaml is None:
        raise Unreadable("%s is YAML, and PyYAML is not installed for the Python that runs the module on this host"
                         % what)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise Unreadable("%s is not valid YAML: %s" % (what, str(exc).splitlines()[0]))


def _lookup(doc: dict[Any, Any], key: str) -> Any:
    """doc[key] as etcd finds it: sigs.k8s.io/yaml hands the document to encoding/json, which matches keys exactly
    first, then without regard to case."""
    if key in doc:
        return doc[key]
    for candidate, value in doc.items():
        if str(candidate).lower() == key:
            return value
    return None


def config_file_settings(text: str, what: str) -> dict[str, Any]:
    """The settings in etcd's YAML config file (embed.ConfigFromFile); None where the file does not set them."""
    doc = _yaml_load(text, what)
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise Unreadable("%s is not an etcd configuration file (a YAML mapping)" % what)
    return _settings({setting: _lookup(doc, flag) for setting, flag in FLAGS.items()})


def command_settings(args: Sequence[object], environ: Mapping[str, str],
                     read_config: Callable[[str], str]) -> tuple[dict[str, Any], str | None]:
    """(settings, config file or None) of an etcd started with `args` (argv without the program) and `environ`.

    This follows etcd's etcdmain/config.go, config.parse(), the same in 3.4, 3.5 and 3.6: after the flags are
    parsed, "if cfg.configFile == "" { cfg.configFile = os.Getenv(flags.FlagToEnv("ETCD", "config-file")) }"; then
    with a config file it calls configFromFile alone ("other configuration command line flags and environment
    variables will be ignored if provided"), else configFromCmdLine, whose flags.SetFlagsFromEnv sets each flag that
    was not given on the command line from its ETCD_ variable when that variable is not empty (pkg/flags/flag.go,
    setFlagFromEnv). A flag and its variable both present make etcd exit (verifyEnv: "conflicting environment
    variable is shadowed by corresponding command-line flag"), so a running etcd never has both; the flag is taken.

    `read_config(path)` returns the text of the config file as the process sees it."""
    flags = parse_flags(args)
    config_file = flags.get(CONFIG_FILE_FLAG) or environ.get(CONFIG_FILE_ENV) or None
    if config_file:
        return config_file_settings(read_config(config_file), "config file %s" % config_file), config_file
    values = {}
    for setting, flag in FLAGS.items():
        values[setting] = flags[flag] if flag in flags else (environ.get(env_name(flag)) or None)
    return _settings(values), None


def tls_files(args: Sequence[object], environ: Mapping[str, str],
              read_config: Callable[[str], str]) -> dict[str, str]:
    """{TLS flag: path} of an etcd started with `args` and `environ`, resolved as command_settings resolves the
    member's settings; flags not set are left out."""
    flags = parse_flags(args)
    config_file = flags.get(CONFIG_FILE_FLAG) or environ.get(CONFIG_FILE_ENV) or None
    found = {}
    if config_file:
        doc = _yaml_load(read_config(config_file), "config file %s" % config_file)
        doc = doc if isinstance(doc, dict) else {}
        for section, prefix in (("client-transport-security", ""), ("peer-transport-security", "peer-")):
            nested = _lookup(doc, section)
            for key in ("cert-file", "key-file", "trusted-ca-file"):
                value = _lookup(nested, key) if isinstance(nested, dict) else None
                if value:
                    found[prefix + key] = str(value)
        return found
    for flag in TLS_FLAGS:
        value = flags[flag] if flag in flags else environ.get(env_name(flag))
        if value:
            found[flag] = value
    return found


def parse_env_text(text: str | None) -> dict[str, str]:
    """{KEY: value} from an environment file (systemd's EnvironmentFile=, /etc/default/etcd): KEY=value lines,
    quotes, comments (# and ;), `export`, backslash continuations."""
    found = {}
    lines = (text or "").replace("\\\n", "").splitlines()
    for line in lines:
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
            continue
        try:
            found[key] = " ".join(shlex.split(value, comments=True))
        except ValueError:
            found[key] = value.strip()
    return found


def pod_container(spec: dict[str, Any] | None) -> tuple[dict[str, Any], list[str]] | None:
    """The container of a pod spec that runs etcd (the first word of its command and args is etcd), or None."""
    for container in (spec or {}).get("containers") or []:
        argv = [str(part) for part in list(container.get("command") or []) + list(container.get("args") or [])]
        if argv and is_etcd(argv[0]):
            return container, argv
    return None


def parse_text(text: str) -> dict[str, Any]:
    """What one file says: an etcd YAML config file, a kubeadm static pod manifest (the flags of its etcd
    container) or an environment file (ETCD_ variables). `kind` is config_file, static_pod, environment or
    unknown; settings the text does not set are None. The etcdops.dr.etcd_member_config filter."""
    doc = None
    if yaml is not None:
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError:
            doc = None
    if isinstance(doc, dict) and doc.get("kind") == "Pod":
        found = pod_container(doc.get("spec"))
        if found:
            flags = parse_flags(found[1][1:])
            return dict(kind="static_pod", **_settings({s: flags.get(f) for s, f in FLAGS.items()}))
    if isinstance(doc, dict) and any(_lookup(doc, flag) is not None for flag in FLAGS.values()):
        return dict(kind="config_file", **_settings({s: _lookup(doc, f) for s, f in FLAGS.items()}))
    environment = {key: value for key, value in parse_env_text(text).items() if key.startswith("ETCD_")}
    if environment:
        return dict(kind="environment", **_settings({s: environment.get(env_name(f)) for s, f in FLAGS.items()}))
    return dict(kind="unknown", **_settings({}))


# ---- reading files ------------------------------------------------------------------------------------------------

def read_text(path: str, what: str, shown: str | None = None) -> str:
    """The text of a file; `shown` is the path to name in messages when `path` is how it is reached (through
    /proc/<pid>/root, or a pod's hostPath volume)."""
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "replace")
    except OSError as exc:
        where = "%s (as %s)" % (shown, path) if shown and shown != path else path
        raise Unreadable("cannot read %s %s: %s" % (what, where, exc.strerror or exc))


def _host_reader(cwd: str | None = None) -> Callable[[str], str]:
    """read_config for command_settings on this host's filesystem; a relative path is taken from `cwd` (refused
    when it is not known)."""
    def read(path: str) -> str:
        if not os.path.isabs(path):
            if not cwd:
                raise Unreadable("--config-file %s is relative and the working directory is not known" % path)
            path = os.path.join(cwd, path)
        return read_text(path, "config file")
    return read


def _process_reader(base: str) -> Callable[[str], str]:
    """read_config for a running process: its files as it sees them, through /proc/<pid>/root (a containerised
    etcd, as kubeadm runs it, has its own filesystem) and /proc/<pid>/cwd for a relative path."""
    def read(path: str) -> str:
        through = os.path.join(base, "cwd" if not os.path.isabs(path) else "root", path.lstrip("/"))
        return read_text(through, "config file", shown=path)
    return read


def command_source(source: str, kind: str, argv: Sequence[str], environ: Mapping[str, str],
                   read_config: Callable[[str], str]) -> dict[str, Any]:
    """The source dict of an etcd command line (argv, program first) and its environment."""
    if not argv:
        raise Unreadable("%s has no command" % source)
    if not is_etcd(argv[0]):
        raise Unreadable("%s runs %s, not etcd, so etcd's flags cannot be read from it" % (source, argv[0]))
    try:
        settings, config_file = command_settings(argv[1:], environ, read_config)
    except Unreadable as exc:
        raise Unreadable("%s: %s" % (source, exc.msg))
    if config_file:
        source = "%s, config file %s" % (source, config_file)
    try:
        tls = tls_files(argv[1:], environ, read_config)
    except Unreadable:
        tls = {}
    return dict(source=source, kind=kind, program=argv[0], tls_files=tls, **settings)


def file_source(path: str) -> dict[str, Any]:
    """The source dict of a file named by the user (etcd YAML config, environment file or static pod manifest)."""
    what = "config file %s" % path
    text = read_text(path, "config file")
    found = parse_text(text)
    if found["kind"] == "unknown":
        if yaml is None:
            raise Unreadable("%s: PyYAML is not installed for the Python that runs the module on this host, and the "
                             "file sets no ETCD_ variable" % what)
        raise Unreadable("%s is neither an etcd YAML config file, a static pod manifest nor an environment file with "
                         "ETCD_ variables" % what)
    return dict(source=what, **found)


# ---- the running process ------------------------------------------------------------------------------------------

def _nul_list(path: str) -> list[str]:
    with open(path, "rb") as handle:
        parts = handle.read().split(b"\0")
    if parts and parts[-1] == b"":
        parts.pop()
    return [part.decode("utf-8", "surrogateescape") for part in parts]


def _where(addresses: Iterable[tuple[str | None, int | None]]) -> str:
    return " or ".join("%s:%s" % (ip or "*", port) for ip, port in addresses)


def running_sources(addresses: Sequence[tuple[str | None, int | None]],
                    proc: str = PROC) -> tuple[list[dict[str, Any]], list[str], str | None]:
    """([source], [unread], not_running) for the etcd processes that listen on `addresses` [(ip, port)].

    not_running is a sentence when nothing listens there, else None."""
    listeners = _local_member.listeners_on(addresses, proc)
    if not listeners:
        return [], [], "etcd does not run on this host (nothing listens on %s)" % _where(addresses)
    sources, unread = [], []
    hidden = ["%s:%s" % (address, port) for address, port, pid in listeners if pid is None]
    if hidden:
        unread.append("a process this user cannot see listens on %s, so the running etcd's configuration cannot "
                      "be read (run as root: become: true)" % ", ".join(hidden))
    for pid in sorted({pid for dummy, dummy2, pid in listeners if pid is not None}):
        base = os.path.join(proc, str(pid))
        source = "running process pid %s (%s)" % (pid, os.path.join(base, "cmdline"))
        try:
            argv = _nul_list(os.path.join(base, "cmdline"))
        except OSError as exc:
            unread.append("%s: cannot read it: %s" % (source, exc.strerror or exc))
            continue
        if not argv or not is_etcd(argv[0]):
            unread.append("%s listens on the member's ports but is not etcd" % _local_member.describe_process(pid, proc))
            continue
        try:
            environ = dict(item.partition("=")[::2] for item in _nul_list(os.path.join(base, "environ")))
        except OSError as exc:
            unread.append("%s: cannot read %s: %s (run as root: become: true)" % (
                source, os.path.join(base, "environ"), exc.strerror or exc))
            continue
        try:
            sources.append(command_source(source, "process", argv, environ, _process_reader(base)))
        except Unreadable as exc:
            unread.append(exc.msg)
    return sources, unread, None


# ---- supervisor ---------------------------------------------------------------------------------------------------

# Where supervisorctl looks without -c, after <its prefix>/etc/supervisord.conf and <its prefix>/supervisord.conf.
SUPERVISOR_CONF_PATHS = ("/etc/supervisord.conf", "/etc/supervisor/supervisord.conf")


def default_conf(supervisorctl: str | None = None) -> tuple[str | None, list[str]]:
    """(path or None, the paths looked at): the supervisord configuration supervisorctl reads without -c."""
    candidates = []
    if supervisorctl:
        prefix = os.path.dirname(os.path.dirname(supervisorctl))
        candidates += [os.path.join(prefix, "etc", "supervisord.conf"), os.path.join(prefix, "supervisord.conf")]
    candidates += list(SUPERVISOR_CONF_PATHS)
    for path in candidates:
        if os.path.exists(path):
            return path, candidates
    return None, candidates


class _Expansions(dict):
    def __missing__(self, key: str) -> NoReturn:
        raise KeyError(key)


def _supervisor_expand(value: str, expansions: Mapping[str, object], what: str) -> str:
    """supervisord's expand(): Python %-formatting against its expansions."""
    try:
        return value % _Expansions(expansions)
    except KeyError as exc:
        name = exc.args[0]
        if str(name).startswith("ENV_"):
            raise Unreadable("%s uses %%(%s)s, which supervisord takes from its own environment, unknown here"
                             % (what, name))
        raise Unreadable("%s uses %%(%s)s, which supervisord cannot expand" % (what, name))
    except (TypeError, ValueError) as exc:
        raise Unreadable("%s is badly formatted: %s" % (what, exc))


def _key_value_pairs(text: str, what: str) -> dict[str, str]:
    """supervisor's environment= value: KEY=value pairs separated by commas; quotes allow commas in a value."""
    pairs, item, quote = [], "", None
    for char in text:
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == ",":
            pairs.append(item)
            item = ""
            continue
        item += char
    pairs.append(item)
    found = {}
    for pair in pairs:
        if not pair.strip():
            continue
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise Unreadable("%s is not KEY=value pairs: %r" % (what, text))
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        found[key.strip()] = value
    return found


def supervisor_program(conf: str, program: str) -> tuple[list[str], dict[str, str], str | None]:
    """(argv, environment, working directory) of `program` in supervisord's configuration `conf` (and the files its
    [include] section names), expanded as supervisord does; Unreadable when it cannot be."""
    parser = configparser.RawConfigParser(inline_comment_prefixes=(";", "#"), strict=False, interpolation=None)
    here = {}

    def read(path: str) -> None:
        before = set(parser.sections())
        try:
            with open(path) as handle:
                parser.read_file(handle, source=path)
        except OSError as exc:
            raise Unreadable("cannot read supervisord's configuration %s: %s" % (path, exc.strerror or exc))
        except configparser.Error as exc:
            raise Unreadable("supervisord's configuration %s cannot be parsed: %s" % (path, exc))
        for section in set(parser.sections()) - before:
            here[section] = os.path.dirname(os.path.abspath(path))

    read(conf)
    base = os.path.dirname(os.path.abspath(conf))
    if parser.has_option("include", "files"):
        patterns = _supervisor_expand(parser.get("include", "files"), {"here": base}, "[include] files in " + conf)
        for pattern in patterns.split():
            for path in sorted(glob.glob(os.path.join(base, pattern))):
                read(path)
    name = program.split(":")[-1]
    section = "program:" + name
    where = "supervisor program %s in %s" % (name, conf)
    if not parser.has_section(section):
        raise Unreadable("supervisor has no program %s in %s (nor in the files it includes)" % (name, conf))

    @overload
    def option(section_name: str, key: str, default: str) -> str: ...

    @overload
    def option(section_name: str, key: str, default: None = None) -> str | None: ...

    def option(section_name: str, key: str, default: str | None = None) -> str | None:
        value = parser.get(section_name, key, fallback=default)
        return value.replace("%(here)s", here.get(section_name, base)) if value else value

    expansions = {"here": here[section], "program_name": name, "group_name": name, "host_node_name": platform.node(),
                  "numprocs": 1, "process_num": 0}
    try:
        expansions["numprocs"] = int(option(section, "numprocs", "1"))
        expansions["process_num"] = int(option(section, "numprocs_start", "0"))
    except ValueError:
        pass
    environment = {}
    for section_name in ("supervisord", section):
        text = option(section_name, "environment", "") if parser.has_section(section_name) else ""
        what = "environment= of [%s]" % section_name
        environment.update(_key_value_pairs(_supervisor_expand(text, expansions, what), what))
        expansions.update(("ENV_" + key, value) for key, value in environment.items())
    command = option(section, "command")
    if not command or not command.strip():
        raise Unreadable("%s has no command" % where)
    command = _supervisor_expand(command, expansions, "the command of " + where)
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise Unreadable("the command of %s cannot be split into words: %s" % (where, exc))
    directory = option(section, "directory")
    if directory:
        directory = _supervisor_expand(directory, expansions, "directory= of " + where)
    return argv, environment, directory


def supervisor_source(program: str, conf: str | None = None, supervisorctl: str | None = None) -> dict[str, Any]:
    if not conf:
        conf, looked = default_conf(supervisorctl)
        if not conf:
            raise Unreadable("supervisor program %s: no supervisord configuration at %s (set supervisor_conf)"
                             % (program, ", ".join(looked)))
    argv, environment, directory = supervisor_program(conf, program)
    return command_source("supervisor program %s in %s" % (program.split(":")[-1], conf), "supervisor", argv,
                          environment, _host_reader(cwd=directory))


# ---- systemd ------------------------------------------------------------------------------------------------------

def _show_words(text: str) -> list[str]:
    """Words of a `systemctl show` list (Environment=): separated by spaces; a word with special characters is in
    double quotes with backslash escapes (shell_maybe_quote)."""
    words, word, quoted, escaped, started = [], "", False, False, False
    for char in text:
        if escaped:
            word += char
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
            started = True
        elif char.isspace() and not quoted:
            if started or word:
                words.append(word)
            word, started = "", False
        else:
            word += char
    if started or word:
        words.append(word)
    return words


def parse_systemctl_show(
        text: str | None) -> tuple[list[tuple[str, list[str]]], dict[str, str], list[tuple[str, bool]]]:
    """([(path, [argv])], {environment}, [(file, ignore_errors)]) from `systemctl show --property=ExecStart,
    Environment,EnvironmentFiles` (systemctl-show.c: one `ExecStart={ path=... ; argv[]=... ; ... }` line per
    command, its argv joined by single spaces unquoted; one `EnvironmentFiles=path (ignore_errors=yes)` line per
    file)."""
    commands, environment, files = [], {}, []
    for line in (text or "").splitlines():
        key, sep, value = line.partition("=")
        if not sep:
            continue
        if key == "ExecStart":
            found = re.match(r"^\{ path=(.*?) ; argv\[\]=(.*?) ; (?:ignore_errors|flags)=", value)
            if found:
                commands.append((found.group(1), found.group(2).split()))
        elif key == "Environment":
            for word in _show_words(value):
                name, sep, setting = word.partition("=")
                if sep:
                    environment[name] = setting
        elif key == "EnvironmentFiles" and value:
            path, dummy, rest = value.rpartition(" (ignore_errors=")
            if not path:
                path, rest = value, "no)"
            files.append((path, rest.startswith("yes")))
    return commands, environment, files


def expand_exec_args(argv: Iterable[str], environment: Mapping[str, str]) -> list[str]:
    """systemd's variable expansion in ExecStart=: a word that is exactly $NAME becomes the value split at
    whitespace (zero or more words); ${NAME} anywhere is replaced by the value, in one word."""
    expanded = []
    for word in argv:
        whole = re.match(r"^\$([A-Za-z_][A-Za-z0-9_]*)$", word)
        if whole:
            expanded.extend(environment.get(whole.group(1), "").split())
            continue
        expanded.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: environment.get(m.group(1), ""), word))
    return expanded


def systemd_source(host: HostContext, systemctl: str, unit: str) -> dict[str, Any]:
    where = "systemd unit %s" % unit
    done = run(host, [systemctl, "show", SYSTEMD_PROPERTIES, unit], why="reading the command of " + where)
    commands, environment, files = parse_systemctl_show(done.stdout)
    # EnvironmentFile= overrides Environment=, later files override earlier ones (systemd.exec).
    for path, ignore_errors in files:
        if ignore_errors and not os.path.exists(path):
            continue
        try:
            environment.update(parse_env_text(read_text(path, "EnvironmentFile")))
        except Unreadable as exc:
            raise Unreadable("%s: %s" % (where, exc.msg))
    etcd = [(path, argv) for path, argv in commands if is_etcd(path)]
    if not commands:
        raise Unreadable("%s has no ExecStart" % where)
    if not etcd:
        raise Unreadable("%s runs %s, not etcd, so etcd's flags cannot be read from it" % (where, commands[-1][0]))
    path, argv = etcd[-1]
    argv = [path] + expand_exec_args(argv[1:], environment)
    return command_source(where, "systemd", argv, environment, _host_reader())


# ---- kubeadm static pod -------------------------------------------------------------------------------------------

def _pod_host_path(spec: dict[str, Any], container: dict[str, Any], path: str) -> str:
    """Where a file the container sees at `path` is on the host: through the pod's hostPath volume mounted over it.
    A container with no volume mounts is taken to see the host's files (as the test bed's kubelet stand-in runs it);
    a path under no hostPath mount of a container that has mounts is inside its image."""
    mounts = container.get("volumeMounts") or []
    if not mounts:
        return path
    volumes = {volume.get("name"): volume for volume in (spec.get("volumes") or [])}
    best = None
    for mount in mounts:
        target = str(mount.get("mountPath") or "").rstrip("/") or "/"
        if path == target or path.startswith(target.rstrip("/") + "/"):
            if best is None or len(target) > len(best[0]):
                best = (target, mount)
    if best:
        host = (volumes.get(best[1].get("name")) or {}).get("hostPath") or {}
        if host.get("path"):
            rest = path[len(best[0]):].lstrip("/")
            return os.path.join(host["path"], rest) if rest else host["path"]
    raise Unreadable("%s is under no hostPath volume of the pod, so it is inside the container image" % path)


def static_pod_source(manifest: str, held: str | None = None) -> dict[str, Any]:
    path = manifest if os.path.exists(manifest) or not held or not os.path.exists(held) else held
    where = "static pod manifest %s" % path
    doc = _yaml_load(read_text(path, "static pod manifest"), where)
    if not isinstance(doc, dict) or doc.get("kind") != "Pod":
        raise Unreadable("%s is not a Pod" % where)
    spec = doc.get("spec") or {}
    found = pod_container(spec)
    if not found:
        raise Unreadable("%s has no container whose command runs etcd, so etcd's flags cannot be read from it" % where)
    container, argv = found
    environment = {str(item.get("name")): str(item.get("value")) for item in container.get("env") or []
                   if isinstance(item, dict) and item.get("value") is not None}

    def read_config(config_path: str) -> str:
        if not os.path.isabs(config_path):
            workdir = container.get("workingDir")
            if not workdir:
                raise Unreadable("--config-file %s is relative and the container has no workingDir" % config_path)
            config_path = os.path.join(workdir, config_path)
        return read_text(_pod_host_path(spec, container, config_path), "config file", shown=config_path)

    return command_source(where, "static_pod", argv, environment, read_config)


# ---- all of them --------------------------------------------------------------------------------------------------

def definition_source(host: HostContext, backend: Any) -> dict[str, Any]:
    """The source dict of what the manager starts: the backend's supervisor program, systemd unit or manifest."""
    if backend.name == "supervisor":
        return supervisor_source(backend.program, backend.conf)
    if backend.name == "systemd":
        return systemd_source(host, backend.systemctl(), backend.unit)
    if backend.name == "static_pod":
        return static_pod_source(backend.manifest, backend.held)
    raise Unreadable("%s: reading its configuration is not supported" % backend.describe())


def collect(host: HostContext, backend: Any, addresses: Sequence[tuple[str | None, int | None]],
            config_file: str | None = None, proc: str = PROC) -> tuple[list[dict[str, Any]], str | None, list[str]]:
    """(sources, missing, unread) for this host's member.

    sources: every source read - the running etcd process listening on `addresses`, the definition of `backend`
    (what its manager starts, whether or not etcd runs now) and `config_file` when given. unread: a sentence for
    each source that exists but could not be read. missing: None when a source was read, else one sentence saying
    why none was."""
    sources, unread, why = [], [], []
    try:
        found, skipped, not_running = running_sources(addresses, proc)
    except OSError as exc:
        found, skipped, not_running = [], ["cannot look for the running etcd in %s: %s" % (proc, exc)], None
    sources += found
    unread += skipped
    why += [not_running] if not_running else []
    readers = []
    if backend is not None:
        readers.append(lambda: definition_source(host, backend))
    if config_file:
        readers.append(lambda: file_source(config_file))
    for read in readers:
        try:
            sources.append(read())
        except Unreadable as exc:
            unread.append(exc.msg)
        except CommandError as exc:
            unread.append(exc.msg)
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            unread.append("%s: %s" % (type(exc).__name__, exc))
    if sources:
        return sources, None, unread
    why += unread
    if not config_file:
        why.append("no config_file was given")
    return sources, "; ".join(why) + ".", unread
