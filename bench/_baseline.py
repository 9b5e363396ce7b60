"""Another revision of the collection beside this checkout's, for benchmarks that compare the two in one run, and the
machine's CPU time a command takes (every process: the controller, the hosts' modules, etcd and the bed)."""
import os
import shutil
import subprocess
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ANSIBLE_GALAXY = os.path.join(REPO, ".venv", "bin", "ansible-galaxy")


def machine_cpu_seconds():
    """CPU seconds every process of the machine has used since boot (user, nice, system, irq, softirq)."""
    with open("/proc/stat") as handle:
        fields = handle.readline().split()
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(fields[index]) for index in (1, 2, 3, 6, 7)) / ticks


def measured(run):
    """(wall seconds, machine CPU seconds, what run() returned)."""
    cpu, began = machine_cpu_seconds(), time.monotonic()
    value = run()
    return time.monotonic() - began, machine_cpu_seconds() - cpu, value


class Baseline:
    """The collection as git revision `ref` has it, built and installed beside the beds' own: a run against a bed
    uses the bed's ansible.cfg with the collections path pointed at it (env_for(bed) selects it for one run)."""

    def __init__(self, ref, root):
        self.ref = ref
        self.root = os.path.join(root, "baseline")
        self.worktree = os.path.join(self.root, "src")
        shutil.rmtree(self.root, ignore_errors=True)
        subprocess.run(["git", "-C", REPO, "worktree", "prune"], check=True)
        subprocess.run(["git", "-C", REPO, "worktree", "add", "--detach", "--force", self.worktree, ref], check=True,
                       capture_output=True)
        dist = os.path.join(self.root, "dist")
        self.collections = os.path.join(self.root, "collections")
        subprocess.run([ANSIBLE_GALAXY, "collection", "build", "--force", "--output-path", dist, self.worktree],
                       check=True, capture_output=True)
        tarball = next(os.path.join(dist, name) for name in os.listdir(dist) if name.endswith(".tar.gz"))
        subprocess.run([ANSIBLE_GALAXY, "collection", "install", "--force", "--offline", "-p", self.collections,
                        tarball], check=True, capture_output=True)
        self.commit = subprocess.run(["git", "-C", self.worktree, "rev-parse", "--short", "HEAD"], check=True,
                                     capture_output=True, text=True).stdout.strip()

    def env_for(self, bed):
        """The environment of a run of this revision's playbooks against `bed`."""
        with open(bed.ansible_cfg) as handle:
            lines = handle.read().splitlines()
        path = os.path.join(self.root, "ansible-%s.cfg" % os.path.basename(str(bed.root)))
        with open(path, "w") as handle:
            handle.write("\n".join("collections_path = %s" % self.collections if line.startswith("collections_path")
                                   else line for line in lines) + "\n")
        return {"ANSIBLE_CONFIG": path}

    def remove(self):
        subprocess.run(["git", "-C", REPO, "worktree", "remove", "--force", self.worktree], check=False,
                       capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


def side_by_side(runners, rounds, prepare=None, first=None):
    """Each of `runners` ({name: run()}) `rounds` times, alternating which goes first (from `first` in round 1),
    prepare(name) before each, each run timed with measured() and printed; returns {name: (median wall seconds,
    median machine CPU seconds)}, printed too."""
    import statistics  # pylint: disable=import-outside-toplevel
    rows = {name: [] for name in runners}
    for number in range(rounds):
        order = list(first or runners) if number % 2 == 0 else list(reversed(list(first or runners)))
        for name in order:
            if prepare:
                prepare(name)
            seconds, cpu, dummy = measured(runners[name])
            rows[name].append((seconds, cpu))
            print("  round %d  %-28s %6.2f s  CPU %6.1f s" % (number + 1, name, seconds, cpu))
    medians = {name: (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))
               for name, runs in rows.items()}
    for name, (seconds, cpu) in medians.items():
        print("median %-28s %6.2f s  CPU %6.1f s" % (name, seconds, cpu))
    return medians
