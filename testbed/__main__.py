"""Command line of the test bed: python -m testbed up|down|purge|reset|status|install|link-checkout."""
import argparse
import json
import sys

from . import cluster, layout, services


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m testbed", description=__doc__)
    parser.add_argument("action", choices=["up", "down", "purge", "reset", "status", "install", "link-checkout"])
    parser.add_argument("--root", help="state directory (default: $ETCDOPS_TESTBED_DIR or <repo>/.testbed)")
    args = parser.parse_args(argv)
    bed = layout.bed(args.root)
    if args.action == "up":
        cluster.up(bed)
        print(f"test bed up: {', '.join(bed.client_urls)}; inventory {bed.inventory}")
    elif args.action == "down":
        cluster.down(bed)
        print("test bed stopped")
    elif args.action == "purge":
        cluster.purge(bed)
        print(f"test bed stopped and {bed.root} removed")
    elif args.action == "reset":
        cluster.reset(bed)
    elif args.action == "link-checkout":
        print(layout.link_checkout())
    elif args.action == "install":
        print(cluster.install_collection(bed))
    else:
        print(services.supervisorctl(bed, "status", check=False).stdout, end="")
        print(json.dumps(cluster.endpoint_status(bed), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
