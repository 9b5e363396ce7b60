"""Makes the checkout importable as ansible_collections.etcdops.dr (as ansible-test would) and the
test bed importable as `testbed`, for both the unit and the integration tests."""
import pathlib
import sys

REPO = pathlib.Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from testbed import layout  # noqa: E402  pylint: disable=wrong-import-position

_COLLECTIONS_ROOT = str(layout.link_checkout())
if _COLLECTIONS_ROOT not in sys.path:
    sys.path.insert(0, _COLLECTIONS_ROOT)
