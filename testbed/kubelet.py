"""A kubelet stand-in for the static_pod tests: it watches a manifests dir and runs the command of
each pod manifest in it, as the kubelet runs static pods.

Like the kubelet it ignores hidden files, restarts a container that exits (with a growing back-off),
stops a pod whose manifest is removed (SIGTERM, SIGKILL after the grace period) and writes each
container's output to <pod-log-dir>/<namespace>_<pod>-<node>_<uid>/<container>/<restarts>.log.
Unlike it, it checks every --check-seconds (the kubelet: 20 s), runs only the first container, and
stops its pods when it is stopped itself, so the test bed leaves nothing behind.

python -m testbed.kubelet --manifests DIR --pod-log-dir DIR --node NAME
"""
import argparse
import hashlib
import os
import signal
import subprocess
import time

import yaml

MAX_BACKOFF = 10.0


class Pod:
    def __init__(self, path, content, node, pod_log_dir):
        self.path = path
        self.digest = hashlib.sha256(content).hexdigest()
        spec = yaml.safe_load(content)
        meta = spec.get("metadata", {})
        container = spec["spec"]["containers"][0]
        self.command = list(container.get("command", [])) + list(container.get("args", []))
        self.grace = float(spec["spec"].get("terminationGracePeriodSeconds", 30))
        self.log_dir = os.path.join(pod_log_dir, "%s_%s-%s_%s" % (
            meta.get("namespace", "default"), meta["name"], node, self.digest[:12]), container["name"])
        self.restarts = 0
        self.process = None
        self.next_start = 0.0
        self.backoff = 1.0

    def tick(self):
        """Start the container if it is not running and its back-off has passed."""
        if self.process is not None and self.process.poll() is None:
            return
        now = time.monotonic()
        if self.process is not None:
            self.process = None
            self.restarts += 1
            self.next_start = now + self.backoff
            self.backoff = min(self.backoff * 2, MAX_BACKOFF)
        if now < self.next_start:
            return
        os.makedirs(self.log_dir, exist_ok=True)
        with open(os.path.join(self.log_dir, "%d.log" % self.restarts), "ab") as log:
            try:
                self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT,
                                                start_new_session=True)
            except OSError as exc:
                log.write(("kubelet stand-in: cannot run %s: %s\n" % (self.command, exc)).encode())
                self.next_start = now + self.backoff

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=self.grace)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def read_manifests(directory):
    found = {}
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return found
    for name in names:
        path = os.path.join(directory, name)
        if name.startswith(".") or not os.path.isfile(path):
            continue
        try:
            with open(path, "rb") as handle:
                found[path] = handle.read()
        except OSError:
            continue
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifests", required=True)
    parser.add_argument("--pod-log-dir", required=True)
    parser.add_argument("--node", required=True)
    parser.add_argument("--check-seconds", type=float, default=1.0)
    args = parser.parse_args()
    pods = {}
    rejected = set()
    stopping = []
    signal.signal(signal.SIGTERM, lambda *dummy: stopping.append(True))
    while not stopping:
        manifests = read_manifests(args.manifests)
        for path in list(pods):
            if path not in manifests or hashlib.sha256(manifests[path]).hexdigest() != pods[path].digest:
                pods.pop(path).stop()
        for path, content in manifests.items():
            if path not in pods and (path, content) not in rejected:
                try:
                    pods[path] = Pod(path, content, args.node, args.pod_log_dir)
                except (KeyError, IndexError, TypeError, AttributeError, yaml.YAMLError) as exc:
                    rejected.add((path, content))
                    print("kubelet stand-in: ignoring %s: %s" % (path, exc), flush=True)
        for pod in pods.values():
            pod.tick()
        time.sleep(args.check_seconds)
    for pod in pods.values():
        pod.stop()


if __name__ == "__main__":
    main()
