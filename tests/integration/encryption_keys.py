"""Keys and data for the encryption tests: X25519 key pairs made by openssl as docs/encryption.md says, keys whose
values carry a marker, and a search for that marker - plaintext of the cluster's data - in files and S3 objects."""
import base64
import hashlib
import os
import subprocess

MARKER = "etcdops-plaintext-marker"


def key_pair(directory, name):
    """(private PEM, public PEM, key id); the id computed here from the public key's raw 32 bytes (the end of its DER
    form), not by the collection."""
    private, public = directory / f"{name}.pem", directory / f"{name}.pub.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "X25519", "-out", str(private)], check=True)
    subprocess.run(["openssl", "pkey", "-in", str(private), "-pubout", "-out", str(public)], check=True)
    der = base64.b64decode("".join(public.read_text().splitlines()[1:-1]))
    return private.read_text(), public.read_text(), hashlib.sha256(der[-32:]).digest()[:8].hex()


def write_secrets(bed, prefix, count):
    from testbed import cluster
    for number in range(count):
        cluster.etcdctl(bed, "put", f"/registry/secrets/{prefix}/{number:03d}", f"{MARKER}-{prefix}-{number}")


def plaintext_files(*roots):
    """Files under `roots` that hold the marker."""
    found = []
    for root in roots:
        for folder, dummy, names in os.walk(root):
            for name in names:
                path = os.path.join(folder, name)
                if os.path.isfile(path) and MARKER.encode() in open(path, "rb").read():
                    found.append(path)
    return found
