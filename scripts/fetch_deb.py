"""Download one Debian package, check its sha256, and unpack it into a directory (dpkg-deb -x); nothing is installed.

usage: python scripts/fetch_deb.py URL SHA256 DEST_DIR
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request


def main(url, sha256, dest):
    with tempfile.TemporaryDirectory() as work:
        deb = os.path.join(work, os.path.basename(url))
        with urllib.request.urlopen(url, timeout=300) as response, open(deb, "wb") as out:
            shutil.copyfileobj(response, out)
        with open(deb, "rb") as handle:
            got = hashlib.file_digest(handle, "sha256").hexdigest()
        if got != sha256:
            sys.exit(f"fetch_deb: {url} has sha256 {got}, expected {sha256}: refusing to unpack it")
        unpacked = os.path.join(work, "root")
        subprocess.run(["dpkg-deb", "-x", deb, unpacked], check=True)
        shutil.rmtree(dest, ignore_errors=True)
        os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
        shutil.move(unpacked, dest)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
