"""Run one of the collection's playbooks against a bed, as a user would, and read what it published with
set_stats (the custom stats AWX shows)."""
import json
import os
import subprocess

from . import layout

ANSIBLE_PLAYBOOK = str(layout.VENV_PYTHON.parent / "ansible-playbook")


class PlaybookFailed(Exception):
    pass


def run_with_stats(bed, name, *extra, timeout=1800, env=None):
    """Run `name` (e.g. etcdops.dr.backup) with `extra` arguments (and `env` over the environment); return its
    custom stats as a dict."""
    env = dict(dict(os.environ, ANSIBLE_CONFIG=str(bed.ansible_cfg), ANSIBLE_SHOW_CUSTOM_STATS="1",
                    ANSIBLE_NOCOLOR="1"), **(env or {}))
    proc = subprocess.run([ANSIBLE_PLAYBOOK, name, *extra], env=env, capture_output=True, text=True, check=False,
                          timeout=timeout)
    if proc.returncode != 0 or "CUSTOM STATS" not in proc.stdout:
        raise PlaybookFailed(f"{name} failed (exit {proc.returncode}):\n{proc.stdout[-4000:]}{proc.stderr[-2000:]}")
    stats = proc.stdout[proc.stdout.index("CUSTOM STATS"):]
    return json.loads(next(line for line in stats.splitlines() if "RUN:" in line).split("RUN:", 1)[1])
