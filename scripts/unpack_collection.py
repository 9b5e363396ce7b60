"""Unpacks one collection from a wheel that ships many (PyPI's `ansible` package) into a collections path:
unpack_collection.py WHEEL NAMESPACE.NAME COLLECTIONS_PATH. The copy is written beside its place and renamed in, so an
interrupted run leaves nothing half-written under the final name."""
import os
import shutil
import sys
import tempfile
import zipfile


def unpack(wheel, fqcn, collections_path):
    namespace, name = fqcn.split(".")
    prefix = "ansible_collections/%s/%s/" % (namespace, name)
    final = os.path.join(collections_path, "ansible_collections", namespace, name)
    os.makedirs(os.path.dirname(final), exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".%s-" % name, dir=os.path.dirname(final))
    try:
        with zipfile.ZipFile(wheel) as archive:
            members = [member for member in archive.namelist() if member.startswith(prefix)]
            if not any(member == prefix + "MANIFEST.json" for member in members):
                raise SystemExit("%s holds no collection %s (no %sMANIFEST.json)" % (wheel, fqcn, prefix))
            for member in members:
                target = os.path.join(staging, member[len(prefix):])
                if member.endswith("/"):
                    os.makedirs(target, exist_ok=True)
                    continue
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with archive.open(member) as source, open(target, "wb") as copy:
                    shutil.copyfileobj(source, copy)
        shutil.rmtree(final, ignore_errors=True)
        os.rename(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit("usage: unpack_collection.py WHEEL NAMESPACE.NAME COLLECTIONS_PATH")
    unpack(*sys.argv[1:])
