"""A kube-apiserver stand-in on a host apart from the etcd hosts (external etcd). It listens on its port as the
members' stand-ins do, and records in a JSON-lines file, as it starts (before it listens) and as it is told to stop
(before it stops listening), the revision each etcd member of the bed answers with, null for one that does not
answer. A restore must stop it while every member still serves the old data, and start it only once every member
serves the restored data."""
import argparse
import http.server
import json
import signal
import sys
import time

from . import cluster, layout


def revisions(bed):
    found = {}
    for member in bed.members:
        run = cluster.etcdctl(bed, "endpoint", "status", "-w", "json", endpoints=[member.client_url], check=False,
                              timeout=10)
        try:
            found[member.name] = json.loads(run.stdout)[0]["Status"]["header"]["revision"]
        except (ValueError, LookupError, TypeError):
            found[member.name] = None
    return found


def record(path, bed, event):
    entry = dict(event=event, at=time.time(), revisions=revisions(bed))
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(entry) + "\n")
    print(json.dumps(entry), flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--address", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--record", required=True)
    args = parser.parse_args()
    bed = layout.bed(args.root)

    def stop(signum, frame):
        record(args.record, bed, "stopping")
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    record(args.record, bed, "started")
    with http.server.ThreadingHTTPServer((args.address, args.port), http.server.BaseHTTPRequestHandler) as server:
        server.serve_forever()


if __name__ == "__main__":
    main()
