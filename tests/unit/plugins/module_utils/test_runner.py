"""_runner.run_module, the one main() of every module, driven through AnsibleModule: what a check-mode run, a run and a
failure return, that close() always runs; and _argspec.ArgumentSpec, the options and constraints it builds from."""
import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.etcdops.dr.plugins.module_utils._argspec import CONNECTION, ArgumentSpec
from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError
from ansible_collections.etcdops.dr.plugins.module_utils._host.run import HostContext
from ansible_collections.etcdops.dr.plugins.module_utils._runner import ReadOnly, run_module

SPEC = ArgumentSpec(dict(name=dict(type="str", required=True), fail_in=dict(type="str", default=""),
                         error=dict(type="str", default="etcd"), count=dict(type="int", default=3)))


class Recorder:
    """A runner that records its calls (in `calls`, shared by every instance) and fails where fail_in says."""

    calls = []
    built = []

    def __init__(self, params, host):
        Recorder.built.append((params, host))
        self.params = params
        self.host = host
        self.result = dict(changed=False, name=params["name"], stage="built")

    def _step(self, name):
        Recorder.calls.append(name)
        self.result["stage"] = name
        if self.params["fail_in"] == name:
            if self.params["error"] == "os":
                raise OSError(28, "No space left on device")
            if self.params["error"] == "other":
                raise RuntimeError("a bug")
            raise EtcdOpsError("%s refused: give another name." % name)

    def plan(self):
        self._step("plan")
        self.result["changed"] = True

    def would(self):
        Recorder.calls.append("would")
        return "would greet %s" % self.params["name"]

    def apply(self):
        self._step("apply")
        self.result["greeted"] = self.params["count"]

    def done(self):
        Recorder.calls.append("done")
        return "greeted %s" % self.params["name"]


class Explaining(Recorder):
    """The same, with its own account of a failure and something to close."""

    def failed(self, exc):
        Recorder.calls.append("failed")
        self.result["why"] = type(exc).__name__
        return "greeting %s failed: %s" % (self.params["name"], getattr(exc, "msg", None) or exc)

    def close(self):
        Recorder.calls.append("close")


@pytest.fixture(autouse=True)
def fresh():
    Recorder.calls, Recorder.built = [], []


def run(capsys, runner=Recorder, spec=SPEC, check=False, **args):
    if check:
        args["_ansible_check_mode"] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exited:
            run_module(spec, runner)
    return exited.value.code, json.loads(capsys.readouterr().out)


def test_check_mode_plans_and_says_what_would_happen_and_never_applies(capsys):
    code, result = run(capsys, Explaining, check=True, name="etcd")
    assert code == 0 and result["msg"] == "would greet etcd" and result["changed"] is True
    assert result["stage"] == "plan" and "greeted" not in result
    assert Recorder.calls == ["plan", "would", "close"]


def test_a_run_plans_applies_and_says_what_was_done(capsys):
    code, result = run(capsys, Explaining, name="etcd", count=2)
    assert code == 0 and result["msg"] == "greeted etcd" and result["greeted"] == 2 and result["changed"] is True
    assert Recorder.calls == ["plan", "apply", "done", "close"]


def test_the_runner_gets_the_validated_options_and_a_host_in_the_modules_mode(capsys):
    run(capsys, check=True, name="etcd", count="5")
    (params, host), = Recorder.built
    assert params["count"] == 5 and params["fail_in"] == "" and params["error"] == "etcd"
    assert isinstance(host, HostContext) and host.check_mode is True
    assert host.checking().check_mode is True
    run(capsys, name="etcd")
    assert Recorder.built[1][1].check_mode is False and Recorder.built[1][1].checking().check_mode is True


@pytest.mark.parametrize("fail_in, error, message, stage", [
    ("plan", "etcd", "greeting etcd failed: plan refused: give another name.", "plan"),
    ("apply", "etcd", "greeting etcd failed: apply refused: give another name.", "apply"),
    ("plan", "os", "greeting etcd failed: [Errno 28] No space left on device", "plan"),
    ("apply", "os", "greeting etcd failed: [Errno 28] No space left on device", "apply"),
])
def test_a_failure_in_plan_or_apply_is_reported_once_with_the_result_and_the_runners_message(
        capsys, fail_in, error, message, stage):
    code, result = run(capsys, Explaining, name="etcd", fail_in=fail_in, error=error)
    assert code == 1 and result["failed"] is True and result["msg"] == message
    assert result["stage"] == stage and result["name"] == "etcd" and result["changed"] is (fail_in == "apply")
    assert result["why"] == ("EtcdOpsError" if error == "etcd" else "OSError"), "failed() could add to the result"
    assert Recorder.calls == ["plan"] + (["apply"] if fail_in == "apply" else []) + ["failed", "close"]


def test_a_failure_in_check_mode_is_reported_too_and_would_is_not_asked(capsys):
    code, result = run(capsys, Explaining, check=True, name="etcd", fail_in="plan")
    assert code == 1 and result["msg"] == "greeting etcd failed: plan refused: give another name."
    assert Recorder.calls == ["plan", "failed", "close"]


@pytest.mark.parametrize("error, message", [
    ("etcd", "apply refused: give another name."),
    ("os", "[Errno 28] No space left on device"),
])
def test_without_failed_the_message_is_the_failures_own(capsys, error, message):
    code, result = run(capsys, name="etcd", fail_in="apply", error=error)
    assert code == 1 and result["msg"] == message and result["stage"] == "apply"


def test_any_other_exception_is_a_bug_and_is_not_reported_as_a_failure_but_close_still_runs(capsys):
    with patch_module_args(dict(name="etcd", fail_in="apply", error="other")):
        with pytest.raises(RuntimeError, match="a bug"):
            run_module(SPEC, Explaining)
    assert capsys.readouterr().out == ""
    assert Recorder.calls == ["plan", "apply", "close"]


def test_a_runner_that_cannot_be_built_fails_with_the_message_alone(capsys):
    def refuse(params, host):
        raise EtcdOpsError("no runner for %s" % params["name"])
    code, result = run(capsys, refuse, name="etcd")
    assert code == 1 and result == dict(failed=True, msg="no runner for etcd", invocation=result["invocation"])


def test_values_the_host_masks_never_show_in_what_the_module_returns(capsys):
    class Masking(Recorder):
        def __init__(self, params, host):
            super().__init__(params, host)
            host.no_log(["s3cret", "", None])
            self.result["url"] = "sftp://backup:s3cret@store/etcd"

    code, result = run(capsys, Masking, name="etcd")
    assert code == 0 and result["url"] == "sftp://backup:********@store/etcd"


def test_a_read_only_runner_says_the_same_in_both_modes_and_applies_nothing(capsys):
    class Reading(ReadOnly):
        def __init__(self, params, host):
            self.host = host
            self.result = dict(changed=False)

        def plan(self):
            self.result["found"] = 1
            self.message = "found 1"

    for check in (True, False):
        code, result = run(capsys, Reading, check=check, name="etcd")
        assert code == 0 and result["msg"] == "found 1" and result["found"] == 1 and result["changed"] is False


def test_constraints_of_the_spec_are_enforced_before_the_runner_is_built(capsys):
    spec = CONNECTION.merge(SPEC)
    code, result = run(capsys, spec=spec, name="etcd", cert="/c.pem")
    assert code == 1 and "parameters are required together: cert, key" in result["msg"]
    assert Recorder.built == []
    code, result = run(capsys, spec=spec, name="etcd", cert="/c.pem", key="/k.pem")
    assert code == 0 and Recorder.built[0][0]["endpoints"] == ["https://127.0.0.1:2379"]


def test_merge_keeps_both_sides_options_and_constraints_and_changes_neither():
    left = ArgumentSpec(dict(a=dict(type="str"), shared=dict(type="int", default=1), b=dict(type="str")),
                        mutually_exclusive=[("a", "b")], required_together=[("a", "shared")],
                        required_one_of=[("a", "b")], required_if=[("shared", 2, ("a",))])
    right = ArgumentSpec(dict(c=dict(type="bool", default=False), shared=dict(type="int", default=5),
                              d=dict(type="list", elements="str", default=["x"])),
                         mutually_exclusive=[("c", "d")], required_together=[("c", "d")],
                         required_one_of=[("c", "d")], required_if=[("c", True, ("d",), True)])
    merged = left.merge(right)
    assert sorted(merged.argument_spec) == ["a", "b", "c", "d", "shared"]
    assert merged.argument_spec["shared"]["default"] == 5, "the other side's option wins"
    assert merged.mutually_exclusive == [["a", "b"], ["c", "d"]]
    assert merged.required_together == [["a", "shared"], ["c", "d"]]
    assert merged.required_one_of == [["a", "b"], ["c", "d"]]
    assert merged.required_if == [["shared", 2, ("a",)], ["c", True, ("d",), True]]
    merged.argument_spec["d"]["default"].append("y")
    assert right.argument_spec["d"]["default"] == ["x"] and left.argument_spec["shared"]["default"] == 1
    assert sorted(left.argument_spec) == ["a", "b", "shared"] and left.mutually_exclusive == [["a", "b"]]
    assert merged.defaults() == dict(a=None, b=None, c=False, d=["x", "y"], shared=5)
    defaults = right.defaults()
    defaults["d"].append("z")
    assert right.argument_spec["d"]["default"] == ["x"], "defaults() are copies"


def test_the_connection_spec_merged_keeps_its_options_and_required_together():
    merged = CONNECTION.merge(ArgumentSpec(dict(endpoint=dict(type="str"))))
    assert set(CONNECTION.argument_spec) < set(merged.argument_spec) and "endpoint" in merged.argument_spec
    assert merged.required_together == [["cert", "key"], ["user", "password"]]
    assert CONNECTION.defaults()["endpoints"] == ["https://127.0.0.1:2379"] and "endpoint" not in CONNECTION.defaults()
