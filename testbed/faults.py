"""Faults the tests inject into real files and filesystems."""
import contextlib
import os
import subprocess


@contextlib.contextmanager
def immutable(path):
    """Make a dir unwritable even for root (chattr +i)."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["chattr", "+i", str(path)], check=True)
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


@contextlib.contextmanager
def small_filesystem(path, size_bytes):
    """Mount a tmpfs of `size_bytes` on `path` (created if missing) for the duration."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_bytes},mode=0700", "etcdops-test", str(path)],
                   check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def fill(directory, name="filler"):
    """Write to `directory` until its filesystem is full; returns the filler's path."""
    path = os.path.join(directory, name)
    with open(path, "wb", buffering=0) as handle:
        for size in (1 << 20, 4096, 1):
            try:
                while True:
                    handle.write(b"\0" * size)
            except OSError:
                pass
    return path
