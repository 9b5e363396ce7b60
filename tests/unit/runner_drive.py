"""Runners driven as _runner.run_module drives them, without an AnsibleModule (failures are raised, not reported)."""


class Host:
    """A host context for runners that run no command: check mode, a temp dir, the values masked."""

    def __init__(self, check_mode=False, tmpdir=None):
        self.check_mode = check_mode
        self.tmpdir = tmpdir
        self.masked = set()

    def checking(self):
        return Host(check_mode=True, tmpdir=self.tmpdir)

    def run_command(self, cmd, **kwargs):
        raise AssertionError("no command was to run: %s" % cmd)

    def get_bin_path(self, name, required=False):
        return None

    def no_log(self, values):
        self.masked.update(value for value in values if value)


def drive(runner):
    """plan(), then would() in the host's check mode, else apply() and done(); close() whatever happens. Returns the
    runner's result with msg, as the module would."""
    try:
        runner.plan()
        if runner.host.check_mode:
            message = runner.would()
        else:
            runner.apply()
            message = runner.done()
    finally:
        close = getattr(runner, "close", None)
        if close is not None:
            close()
    return dict(runner.result, msg=message)
