"""Test-only callback: before the task whose name starts with ETCDOPS_INTERRUPT_BEFORE, the controller either dies
(ETCDOPS_INTERRUPT=kill: SIGKILL to its whole process group, as when an AWX job's container is lost) or waits while
the file ETCDOPS_INTERRUPT_PAUSE exists (the test changes the world meanwhile, then removes the file)."""
from __future__ import annotations

import os
import signal
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: interrupt_before_task
type: aggregate
short_description: kill or pause the controller before a named task, for the integration tests
description: Before the task named by ETCDOPS_INTERRUPT_BEFORE, kill the controller or wait while a file exists.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "interrupt_before_task"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_task_start(self, task, is_conditional):
        before = os.environ.get("ETCDOPS_INTERRUPT_BEFORE")
        if not before or not task.get_name().split(" : ")[-1].startswith(before):
            return
        if os.environ.get("ETCDOPS_INTERRUPT") == "kill":
            os.killpg(os.getpgrp(), signal.SIGKILL)
        pause = os.environ.get("ETCDOPS_INTERRUPT_PAUSE")
        if pause:
            with open(pause + ".reached", "w", encoding="utf-8"):
                pass
            while os.path.exists(pause):
                time.sleep(0.05)
