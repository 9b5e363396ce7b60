"""Makes the checkout importable as ansible_collections.etcdops.dr (as ansible-test would) and the
test bed importable as `testbed`, for both the unit and the integration tests."""
import os
import pathlib
import sys

REPO = pathlib.Path(__file__).resolve().parent.parent
_COLLECTIONS_ROOT = REPO / ".build" / "pyroot"
_LINK = _COLLECTIONS_ROOT / "ansible_collections" / "etcdops" / "dr"
if not _LINK.exists():
    _LINK.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(REPO, _LINK)
for path in (str(_COLLECTIONS_ROOT), str(REPO)):
    if path not in sys.path:
        sys.path.insert(0, path)
