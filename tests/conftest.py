"""Makes the checkout importable as ansible_collections.etcdops.dr (as ansible-test would) and the
test bed importable as `testbed`, for both the unit and the integration tests."""
import os
import pathlib
import sys

REPO = pathlib.Path(__file__).resolve().parent.parent
# A pytest-xdist worker (scripts/test.sh) runs in a network namespace of its own with a test bed of its own, and a
# controller cache of its own (restore_controller_dir), so that the workers' beds never share a file or an address.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if _WORKER and not os.environ.get("ETCDOPS_TESTBED_DIR"):
    os.environ["ETCDOPS_TESTBED_DIR"] = str(REPO / f".testbed-{_WORKER}")
    os.environ["XDG_CACHE_HOME"] = str(REPO / f".testbed-{_WORKER}" / "controller-cache")
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from testbed import layout  # noqa: E402  pylint: disable=wrong-import-position

_COLLECTIONS_ROOT = str(layout.link_checkout())
if _COLLECTIONS_ROOT not in sys.path:
    sys.path.insert(0, _COLLECTIONS_ROOT)


# The slowest test files first (most restores and stops; measured with --durations), then the rest in their order:
# pytest-xdist's worksteal (scripts/test.sh) gives each worker half the tests and lets an idle worker take tests from
# the end of the other's queue - short tests there balance the two best.
SLOWEST_FIRST = ("test_restore.py", "test_restore_faults.py", "test_round_trips.py", "test_service_states.py",
                 "test_stores.py",
                 "test_backup.py", "test_cold_backup.py")


def pytest_collection_modifyitems(items):
    def rank(item):
        name = item.path.name
        return SLOWEST_FIRST.index(name) if "integration" in item.path.parts and name in SLOWEST_FIRST \
            else len(SLOWEST_FIRST)
    items.sort(key=rank)
