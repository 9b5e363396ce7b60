"""Wall time and peak memory of one command, measured by the kernel."""
import os
import subprocess
import time


def timed(cmd, **kwargs):
    """(seconds, peak RSS in MiB, stdout) of a command, measured by the kernel for that process."""
    began = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)
    dummy, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - began
    out = proc.stdout.read()
    err = proc.stderr.read()
    proc.stdout.close()
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError("%s failed: %s %s" % (cmd[0], out.decode()[-2000:], err.decode()[-2000:]))
    return seconds, usage.ru_maxrss / 1024.0, out
