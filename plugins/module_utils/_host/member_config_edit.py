# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Change settings of this host's etcd member where they live, the way member_config reads them: in etcd's YAML config
file when the member has one (etcd then ignores its flags and variables), else in the flag or ETCD_ variable that sets
them now - a supervisor program's command or environment=, a kubeadm static pod's command, a systemd unit's ExecStart
or its EnvironmentFile - and, where none does, beside the others of the same kind.

Each edit is made on the text, so that comments and layout stay, and is then proven by reading the new text the way
etcd will: the changed settings have their new values, nothing else changed. An edit that cannot be proven is
refused (CannotEdit), naming the file to change by hand. plan() changes nothing; apply() keeps a copy of each file
before it writes it (atomically), and put_back() writes the copies back."""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError
from ansible_collections.etcdops.dr.plugins.module_utils._host import member_config as _config
from ansible_collections.etcdops.dr.plugins.module_utils._host.files import write_atomic
from ansible_collections.etcdops.dr.plugins.module_utils._host.run import run

if TYPE_CHECKING:
    from ansible_collections.etcdops.dr.plugins.module_utils._host.run import HostContext

SYSTEMD_FILES = "--property=FragmentPath,DropInPaths"


class CannotEdit(EtcdOpsError):
    """The member's configuration cannot be changed here; msg says where it lives and what to change by hand."""


class Edit:
    """One file's new text; `kind` says what reads it (reload() makes the manager read it again)."""

    def __init__(self, path: str, kind: str, before: str, after: str) -> None:
        self.path = path
        self.kind = kind
        self.before = before
        self.after = after

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def describe(self) -> dict[str, Any]:
        return dict(path=self.path, kind=self.kind, changed=self.changed,
                    before=self.before if self.changed else None, after=self.after if self.changed else None)


# ---- flags on a command line --------------------------------------------------------------------------------------

def edit_argv(args: Sequence[str], values: Mapping[str, str]) -> list[str]:
    """etcd's arguments (without the program) with each flag of `values` set: changed where it is given (in
    whichever form), appended as --flag=value where it is not."""
    out = list(args)
    left = dict(values)
    index = 0
    while index < len(out):
        arg = out[index]
        if len(arg) < 2 or arg[0] != "-" or arg == "--":
            break
        name = arg[2:] if arg.startswith("--") else arg[1:]
        name, has_value, dummy = name.partition("=")
        prefix = arg[:len(arg) - len(arg.lstrip("-"))]
        if name in left:
            if has_value:
                out[index] = "%s%s=%s" % (prefix, name, left[name])
            elif index + 1 < len(out):
                out[index + 1] = left[name]
                index += 1
            else:
                out[index] = "%s%s=%s" % (prefix, name, left[name])
            # A flag given twice keeps its last value: every occurrence gets the new one.
            index += 1
            continue
        if not has_value and (name in _config.VALUE_FLAGS or (name not in _config.BOOL_FLAGS and index + 1 < len(out)
                                                              and not out[index + 1].startswith("-"))):
            index += 1
        index += 1
    insert_at = index
    for name, value in values.items():
        if name not in _config.parse_flags(out):
            out.insert(insert_at, "--%s=%s" % (name, value))
            insert_at += 1
    return out


def _check_flags(before: Sequence[str], after: Sequence[str], values: Mapping[str, str], where: str) -> None:
    old, new = _config.parse_flags(before), _config.parse_flags(after)
    wrong = [name for name, value in values.items() if new.get(name) != value]
    others = {name for name in set(old) | set(new) if name not in values and old.get(name) != new.get(name)}
    if wrong or others:
        raise CannotEdit("%s: the changed command would not set %s as wanted%s: set them there by hand (%s)" % (
            where, ", ".join(wrong) or "the settings", " and would change %s" % ", ".join(sorted(others))
            if others else "", ", ".join("--%s=%s" % item for item in values.items())))


# ---- etcd's YAML config file --------------------------------------------------------------------------------------

def edit_yaml_config(text: str, values: Mapping[str, str], where: str) -> str:
    """The config file with each top-level key of `values` set to its value (a JSON string, which YAML reads)."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    for key, value in values.items():
        rendered = "%s: %s\n" % (key, json.dumps(value))
        found = next((i for i, line in enumerate(lines) if re.match(r"^%s\s*:" % re.escape(key), line)), None)
        if found is None:
            lines.append(rendered)
            continue
        end = found + 1
        while end < len(lines) and (lines[end][:1] in (" ", "\t") or lines[end].startswith("- ")
                                    or (not lines[end].strip() and _continues(lines, end))):
            end += 1
        lines[found:end] = [rendered]
    after = "".join(lines)
    old = _yaml_doc(text, where)
    new = _yaml_doc(after, where)
    expected = dict(old, **values)
    if new != expected:
        raise CannotEdit("%s: the edit would not leave a config file that sets only %s anew: set them there by hand"
                         % (where, ", ".join("%s: %s" % item for item in values.items())))
    return after


def _continues(lines: Sequence[str], index: int) -> bool:
    """Whether the value goes on after the blank line at `index` (the next line that is not blank is indented)."""
    following = next((line for line in lines[index:] if line.strip()), "")
    return following[:1] in (" ", "\t")


def _yaml_doc(text: str, where: str) -> dict[str, Any]:
    doc = _config._yaml_load(text, where)  # pylint: disable=protected-access
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise CannotEdit("%s is not a YAML mapping" % where)
    return doc


# ---- environment files (systemd EnvironmentFile=, /etc/default/etcd) ---------------------------------------------

def edit_env_text(text: str, values: Mapping[str, str], where: str) -> str:
    """The environment file with ETCD_<FLAG>="value" for each flag of `values`, changed in place or appended."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    for flag, value in values.items():
        name = _config.env_name(flag)
        rendered = '%s="%s"\n' % (name, value)
        found = [i for i, line in enumerate(lines) if re.match(r"^\s*(export\s+)?%s\s*=" % name, line)]
        if found:
            for index in found:
                lines[index] = rendered
        else:
            lines.append(rendered)
    after = "".join(lines)
    old, new = _config.parse_env_text(text), _config.parse_env_text(after)
    expected = dict(old, **{_config.env_name(flag): value for flag, value in values.items()})
    if new != expected:
        raise CannotEdit("%s: the edit would not set only %s: set them there by hand" % (
            where, ", ".join('%s="%s"' % (_config.env_name(f), v) for f, v in values.items())))
    return after


# ---- supervisor ---------------------------------------------------------------------------------------------------

def _section_span(lines: Sequence[str], header: str) -> tuple[int, int] | None:
    start = next((i for i, line in enumerate(lines) if line.strip() == header), None)
    if start is None:
        return None
    end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
    return start, end


def _option_span(lines: Sequence[str], start: int, end: int, key: str) -> tuple[int, int] | None:
    """(first, after last) line of option `key` in lines[start:end], continuation lines included."""
    first = next((i for i in range(start + 1, end) if re.match(r"^%s\s*[=:]" % re.escape(key), lines[i])), None)
    if first is None:
        return None
    last = first + 1
    while last < end and lines[last][:1] in (" ", "\t") and lines[last].strip():
        last += 1
    return first, last


def _without_comment(line: str) -> str:
    """A line of a supervisord value without its inline comment: ` ;` or ` #` and what follows (configparser's
    inline_comment_prefixes, as supervisord and member_config read it)."""
    found = re.search(r"\s[;#]", line)
    return line[:found.start()] if found else line


def _option_value(lines: Sequence[str], span: tuple[int, int]) -> str:
    """The value of the option at lines[span], its continuation lines joined with spaces, comments stripped."""
    parts = [_without_comment(line) for line in "".join(lines[span[0]:span[1]]).split("=", 1)[1].splitlines()]
    return " ".join(part.strip() for part in parts if part.strip())


def _section_values(text: str, program: str, where: str) -> tuple[str, str]:
    """(command, environment) of [program:<program>] in `text`, as configparser reads them."""
    import configparser  # pylint: disable=import-outside-toplevel
    parser = configparser.RawConfigParser(inline_comment_prefixes=(";", "#"), strict=False, interpolation=None)
    try:
        parser.read_string(text, source=where)
    except configparser.Error as exc:
        raise CannotEdit("%s: the changed configuration cannot be parsed: %s" % (where, exc))
    section = "program:%s" % program
    return parser.get(section, "command", fallback=""), parser.get(section, "environment", fallback="")


def edit_supervisor_text(text: str, program: str, values: Mapping[str, str], in_environment: Sequence[str],
                         where: str) -> str:
    """The supervisor configuration with program `program` setting `values`: the flags in its command=, except
    those in `in_environment`, which are set as ETCD_ variables in its environment=."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    span = _section_span(lines, "[program:%s]" % program)
    if span is None:
        raise CannotEdit("%s has no [program:%s]" % (where, program))
    flags = {flag: value for flag, value in values.items() if flag not in in_environment}
    variables = {_config.env_name(flag): value for flag, value in values.items() if flag in in_environment}
    if variables:
        found = _option_span(lines, span[0], span[1], "environment")
        if found is None:
            raise CannotEdit("%s: [program:%s] has no environment=" % (where, program))
        raw = _option_value(lines, found)
        pairs = _config._key_value_pairs(raw, where)  # pylint: disable=protected-access
        quoted = sorted(name for name, value in pairs.items() if '"' in value or "'" in value)
        if quoted:
            # Re-quoting a value that holds quotes is not proven to read back the same in supervisord's own parser.
            raise CannotEdit("%s: environment= of [program:%s] has quotes inside %s: set %s there by hand" % (
                where, program, ", ".join(quoted), ", ".join('%s="%s"' % item for item in variables.items())))
        pairs.update(variables)
        lines[found[0]:found[1]] = ["environment=%s\n" % ",".join('%s="%s"' % item for item in pairs.items())]
        span = _section_span(lines, "[program:%s]" % program) or span
    if flags:
        found = _option_span(lines, span[0], span[1], "command")
        if found is None:
            raise CannotEdit("%s: [program:%s] has no command=" % (where, program))
        raw = _option_value(lines, found)
        try:
            argv = shlex.split(raw)
        except ValueError as exc:
            raise CannotEdit("%s: the command of [program:%s] cannot be split into words: %s" % (where, program, exc))
        if not argv or not _config.is_etcd(argv[0]):
            raise CannotEdit("%s: [program:%s] does not run etcd itself (%s), so its flags cannot be changed here: "
                             "set %s where that command reads them" % (
                                 where, program, argv[0] if argv else "no command",
                                 ", ".join("--%s=%s" % item for item in flags.items())))
        new = [argv[0]] + edit_argv(argv[1:], flags)
        _check_flags(argv[1:], new[1:], flags, where)
        lines[found[0]:found[1]] = ["command=%s\n" % " ".join(shlex.quote(word) for word in new)]
    after = "".join(lines)
    _check_supervisor(text, after, program, flags, variables, where)
    return after


def _check_supervisor(before: str, after: str, program: str, flags: Mapping[str, str], variables: Mapping[str, str],
                      where: str) -> None:
    """The changed program, read back as supervisord reads it, sets `flags` and `variables` and nothing else anew."""
    old_command, old_environment = _section_values(before, program, where)
    new_command, new_environment = _section_values(after, program, where)
    key_value = _config._key_value_pairs  # pylint: disable=protected-access
    if key_value(new_environment, where) != dict(key_value(old_environment, where), **variables):
        raise CannotEdit("%s: the changed environment= of [program:%s] would not set only %s: set them there by hand"
                         % (where, program, ", ".join("%s=%s" % item for item in variables.items())))
    try:
        old_argv, new_argv = shlex.split(old_command), shlex.split(new_command)
    except ValueError as exc:
        raise CannotEdit("%s: the command of [program:%s] cannot be split into words: %s" % (where, program, exc))
    if flags or old_argv != new_argv:
        _check_flags(old_argv[1:], new_argv[1:], flags, where)


# ---- systemd ------------------------------------------------------------------------------------------------------

EXEC_PREFIXES = "-@:+!"


def edit_unit_text(text: str, values: Mapping[str, str], where: str) -> str:
    """The unit file with `values` set as flags in its last ExecStart= that runs etcd."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    starts = []
    index = 0
    while index < len(lines):
        if re.match(r"^ExecStart\s*=", lines[index]):
            end = index + 1
            while lines[end - 1].rstrip("\n").endswith("\\") and end < len(lines):
                end += 1
            starts.append((index, end))
            index = end
            continue
        index += 1
    for first, end in reversed(starts):
        raw = "".join(line.rstrip("\n").rstrip("\\") + " " for line in lines[first:end]).split("=", 1)[1].strip()
        prefix = raw[:len(raw) - len(raw.lstrip(EXEC_PREFIXES))]
        try:
            argv = shlex.split(raw[len(prefix):])
        except ValueError as exc:
            raise CannotEdit("%s: its ExecStart= cannot be split into words: %s" % (where, exc))
        if not argv or not _config.is_etcd(argv[0]):
            continue
        new = [argv[0]] + edit_argv(argv[1:], values)
        _check_flags(argv[1:], new[1:], values, where)
        lines[first:end] = ["ExecStart=%s%s\n" % (prefix, " ".join(shlex.quote(word) for word in new))]
        return "".join(lines)
    raise CannotEdit("%s has no ExecStart= that runs etcd" % where)


# ---- kubeadm static pod -------------------------------------------------------------------------------------------

def edit_manifest_text(text: str, values: Mapping[str, str], where: str) -> str:
    """The static pod manifest with `values` set as `- --flag=value` items of its etcd container's command (or
    args), changed in place or added after its last flag."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    for flag, value in values.items():
        if any(re.match(r"""^\s*-\s+(["']?)--?%s\1\s*$""" % re.escape(flag), line) for line in lines):
            raise CannotEdit("%s gives --%s its value in the next item: write it as `- --%s=<value>`, or change it by "
                             "hand" % (where, flag, flag))
        item = re.compile(r"""^(\s*-\s+)(["']?)--?%s=.*\2\s*$""" % re.escape(flag))
        found = [i for i, line in enumerate(lines) if item.match(line)]
        if found:
            for index in found:
                lines[index] = "%s%s\n" % (item.match(lines[index]).group(1), json.dumps("--%s=%s" % (flag, value)))  # type: ignore[union-attr]
            continue
        flag_items = [i for i, line in enumerate(lines) if re.match(r"""^\s*-\s+["']?--?[a-z]""", line)]
        if not flag_items:
            raise CannotEdit("%s: no `- --flag` item found to add --%s after: add it by hand" % (where, flag))
        last = flag_items[-1]
        indent = re.match(r"^(\s*-\s+)", lines[last]).group(1)  # type: ignore[union-attr]
        lines.insert(last + 1, "%s%s\n" % (indent, json.dumps("--%s=%s" % (flag, value))))
    after = "".join(lines)
    before_doc, after_doc = _yaml_doc(text, where), _yaml_doc(after, where)
    old = _config.pod_container(before_doc.get("spec"))
    new = _config.pod_container(after_doc.get("spec"))
    if not old or not new:
        raise CannotEdit("%s has no container whose command runs etcd" % where)
    _check_flags(old[1][1:], new[1][1:], values, where)
    # Everything but the etcd container's command and args must be as it was (a sidecar's flags included).
    for field in ("command", "args"):
        if field in old[0]:
            new[0][field] = old[0][field]
        else:
            new[0].pop(field, None)
    if json.dumps(after_doc, sort_keys=True) != json.dumps(before_doc, sort_keys=True):
        raise CannotEdit("%s: the edit would change more than the etcd container's flags: set %s by hand" % (
            where, ", ".join("--%s=%s" % item for item in values.items())))
    return after


# ---- where each setting lives ------------------------------------------------------------------------------------

def _read(path: str) -> str:
    return _config.read_text(path, "configuration file")


def _config_file_edit(path: str, values: Mapping[str, str]) -> Edit:
    text = _read(path)
    return Edit(path, "config_file", text, edit_yaml_config(text, values, "config file %s" % path))


def _supervisor_file(conf: str, program: str) -> str:
    """The file (conf, or one it includes) that holds [program:<program>]."""
    header = "[program:%s]" % program
    candidates = [conf]
    base = os.path.dirname(os.path.abspath(conf))
    text = _read(conf)
    include = re.search(r"^\[include\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    if include:
        files = re.search(r"^files\s*[=:]\s*(.*)$", include.group(1), re.M)
        if files:
            import glob  # pylint: disable=import-outside-toplevel
            for pattern in files.group(1).replace("%(here)s", base).split():
                candidates += sorted(glob.glob(os.path.join(base, pattern)))
    for path in candidates:
        if any(line.strip() == header for line in _read(path).splitlines()):
            return path
    raise CannotEdit("supervisor program %s is in neither %s nor the files it includes" % (program, conf))


def _supervisor_edits(host: HostContext, backend: Any, values: Mapping[str, str]) -> list[Edit]:
    program = backend.program.split(":")[-1]
    argv, environment, directory = _config.supervisor_program(backend.conf, program)
    config_file = _config.parse_flags(argv[1:]).get(_config.CONFIG_FILE_FLAG) or environment.get(_config.CONFIG_FILE_ENV)
    if config_file:
        return [_config_file_edit(os.path.join(directory or "", config_file), values)]
    flags = _config.parse_flags(argv[1:])
    in_environment = [flag for flag in values if flag not in flags and _config.env_name(flag) in environment]
    path = _supervisor_file(backend.conf, program)
    text = _read(path)
    after = edit_supervisor_text(text, program, values, in_environment, "supervisor configuration %s" % path)
    return [Edit(path, "supervisor", text, after)]


def _systemd_edits(host: HostContext, backend: Any, values: Mapping[str, str]) -> list[Edit]:
    systemctl = backend.systemctl()
    where = "systemd unit %s" % backend.unit
    shown = run(host, [systemctl, "show", _config.SYSTEMD_PROPERTIES, backend.unit], why="reading " + where).stdout
    commands, environment, files = _config.parse_systemctl_show(shown)
    unit_environment = dict(environment)
    unit_files = run(host, [systemctl, "show", SYSTEMD_FILES, backend.unit], why="reading " + where).stdout
    paths = dict(line.partition("=")[::2] for line in unit_files.splitlines() if "=" in line)
    env_files = [path for path, dummy in files if os.path.exists(path)]
    for path in env_files:
        environment.update(_config.parse_env_text(_read(path)))
    etcd = [argv for path, argv in commands if _config.is_etcd(path)]
    if not etcd:
        raise CannotEdit("%s runs no etcd, so its configuration cannot be changed here" % where)
    argv = _config.expand_exec_args(etcd[-1][1:], environment)
    flags = _config.parse_flags(argv)
    written = _config.parse_flags(etcd[-1][1:])
    through_variables = [flag for flag in values if flag in flags and flag not in written]
    if through_variables:
        raise CannotEdit("%s: %s reach etcd through a variable in its ExecStart= (%s): change them there by hand" % (
            where, ", ".join("--" + flag for flag in through_variables), " ".join(etcd[-1][1:])))
    in_unit = [_config.env_name(flag) for flag in values if flag not in flags
               and _config.env_name(flag) in unit_environment
               and not any(_config.env_name(flag) in _config.parse_env_text(_read(path)) for path in env_files)]
    if in_unit:
        raise CannotEdit("%s sets %s with Environment=: change them there by hand (a flag beside them would make etcd "
                         "exit)" % (where, ", ".join(in_unit)))
    config_file = flags.get(_config.CONFIG_FILE_FLAG) or environment.get(_config.CONFIG_FILE_ENV)
    if config_file:
        return [_config_file_edit(config_file, values)]
    by_env: dict[str, dict[str, str]] = {}
    on_command = {}
    for flag, value in values.items():
        setting_files = [path for path in env_files if _config.env_name(flag) in _config.parse_env_text(_read(path))]
        if flag not in flags and setting_files:
            by_env.setdefault(setting_files[-1], {})[flag] = value
        elif flag not in flags and env_files:
            by_env.setdefault(env_files[-1], {})[flag] = value
        else:
            on_command[flag] = value
    edits = []
    for path, wanted in by_env.items():
        text = _read(path)
        edits.append(Edit(path, "environment_file", text, edit_env_text(text, wanted, "EnvironmentFile %s" % path)))
    if on_command:
        unit_paths = [path for path in (paths.get("DropInPaths") or "").split() + [paths.get("FragmentPath") or ""]
                      if path]
        holder = next((path for path in reversed(unit_paths[:-1]) if re.search(r"^ExecStart\s*=\s*\S", _read(path), re.M)),
                      unit_paths[-1] if unit_paths else None)
        if not holder:
            raise CannotEdit("%s: systemctl names no unit file" % where)
        text = _read(holder)
        edits.append(Edit(holder, "systemd_unit", text, edit_unit_text(text, on_command, "unit file %s" % holder)))
    return edits


def _static_pod_edits(backend: Any, values: Mapping[str, str]) -> list[Edit]:
    path = backend.manifest if os.path.exists(backend.manifest) else backend.held
    where = "static pod manifest %s" % path
    text = _read(path)
    doc = _yaml_doc(text, where)
    spec = doc.get("spec") or {}
    found = _config.pod_container(spec)
    if not found:
        raise CannotEdit("%s has no container whose command runs etcd" % where)
    container, argv = found
    config_file = _config.parse_flags(argv[1:]).get(_config.CONFIG_FILE_FLAG)
    if config_file:
        host_path = _config._pod_host_path(spec, container, config_file)  # pylint: disable=protected-access
        return [_config_file_edit(host_path, values)]
    env = {str(item.get("name")) for item in container.get("env") or [] if isinstance(item, dict)}
    if any(_config.env_name(flag) in env for flag in values):
        raise CannotEdit("%s sets %s in the container's env: change them there by hand" % (
            where, ", ".join(_config.env_name(flag) for flag in values)))
    return [Edit(path, "static_pod", text, edit_manifest_text(text, values, where))]


def plan(host: HostContext, backend: Any, config_file: str | None, values: Mapping[str, str]) -> list[Edit]:
    """The edits that set `values` ({flag: value}) for the member that `backend` runs (and `config_file`, when the
    inventory names one and the manager's definition names none). Raises CannotEdit, also for a file that cannot be
    read."""
    try:
        if backend is not None and backend.name == "supervisor":
            return _supervisor_edits(host, backend, values)
        if backend is not None and backend.name == "systemd":
            return _systemd_edits(host, backend, values)
        if backend is not None and backend.name == "static_pod":
            return _static_pod_edits(backend, values)
        if config_file:
            return [_config_file_edit(config_file, values)]
    except _config.Unreadable as exc:
        raise CannotEdit(exc.msg) from None
    raise CannotEdit("etcd's manager here is not known and no config_file was given, so %s cannot be set" % (
        ", ".join("--%s" % flag for flag in values)))


def kept_name(keep_dir: str, path: str) -> str:
    return os.path.join(keep_dir, path.strip("/").replace("/", "__"))


def keep_copy(keep_dir: str, path: str) -> str:
    """Copy `path` (mode and times kept) into `keep_dir` (made 0700) before it is changed, unless a copy is there
    already: the first copy is the previous version. Returns the copy's path."""
    os.makedirs(keep_dir, mode=0o700, exist_ok=True)
    copy = kept_name(keep_dir, path)
    if os.path.exists(path) and not os.path.exists(copy):
        shutil.copy2(path, copy)
    return copy


def reload(host: HostContext, backend: Any, kinds: Sequence[str]) -> None:
    """Make etcd's manager read the changed files of `kinds`: supervisord's program group re-read (as `supervisorctl
    update` does it; with autostart it may start the program), systemd's units re-read. The others are read when
    etcd starts."""
    if "supervisor" in kinds and backend is not None and backend.name == "supervisor":
        group = backend.program.split(":")[0]
        added, changed, dummy = backend.supervisord.call("reloadConfig")[0]
        if group in changed or group in added:
            if group in changed:
                backend.supervisord.call("stopProcessGroup", group, True, allowed=(10,))
                backend.supervisord.call("removeProcessGroup", group, allowed=(10,))
            backend.supervisord.call("addProcessGroup", group, allowed=(90,))
    if "systemd_unit" in kinds and backend is not None and backend.name == "systemd":
        run(host, [backend.systemctl(), "daemon-reload"], why="making systemd read the changed unit")


def apply(host: HostContext, backend: Any, edits: Sequence[Edit], keep_dir: str) -> dict[str, str]:
    """Write each changed file (a copy of it kept in `keep_dir` first, its mode kept), then make the manager read
    them; returns {path: kept copy}."""
    kept = {}
    for edit in edits:
        if not edit.changed:
            continue
        kept[edit.path] = keep_copy(keep_dir, edit.path)
        write_atomic(edit.path, edit.after.encode("utf-8"), os.stat(edit.path).st_mode & 0o7777)
    reload(host, backend, [edit.kind for edit in edits if edit.changed])
    return kept


def put_back(host: HostContext, backend: Any, kept: Mapping[str, str], kinds: Sequence[str]) -> list[str]:
    """Write each kept copy back over the file it was taken from, then make the manager read them; returns the
    paths put back."""
    restored = []
    for path, copy in kept.items():
        if os.path.exists(copy):
            with open(copy, "rb") as handle:
                write_atomic(path, handle.read(), os.stat(copy).st_mode & 0o7777)
            restored.append(path)
    if restored:
        reload(host, backend, kinds)
    return restored
