"""Test-only callback: writes what the task named by ETCDOPS_SAVE_TASK returned on each host to
ETCDOPS_SAVE_DIR/result-<host>.json, as `register` would have held it. Saves the suite a delegated copy task
per module run (about 2.5 s each)."""
from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: save_module_results
type: aggregate
short_description: save one task's per-host results for the integration tests
description: Writes the results of the task named by ETCDOPS_SAVE_TASK to ETCDOPS_SAVE_DIR/result-<host>.json.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "save_module_results"
    CALLBACK_NEEDS_ENABLED = True

    def _save(self, result, **status):
        directory, task = os.environ.get("ETCDOPS_SAVE_DIR"), os.environ.get("ETCDOPS_SAVE_TASK")
        if not directory or result._task.get_name() != task:
            return
        saved = {key: value for key, value in result._result.items() if not key.startswith("_ansible")}
        saved.update(status)
        path = os.path.join(directory, "result-%s.json" % result._host.get_name())
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(saved, handle, default=str)

    def v2_runner_on_ok(self, result, **kwargs):
        self._save(result, failed=False, changed=bool(result._result.get("changed", False)))

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._save(result, failed=True, changed=bool(result._result.get("changed", False)))

    def v2_runner_on_skipped(self, result):
        self._save(result, skipped=True, changed=False)

    def v2_runner_on_unreachable(self, result):
        self._save(result, unreachable=True, failed=True, changed=False)
