"""Offline stand-in for the get-pip.py that ansible-test downloads to put pip into the virtualenvs
it creates for sanity tests. This machine reaches the package registry but not that download
host: pip comes from Python's bundled ensurepip instead, then the requested pip version and
packages from the registry. bootstrap.sh copies it to ~/.ansible/test/cache/get_pip_<version>.py.
"""
import ensurepip
import os
import subprocess
import sys

# ensurepip points PIP_CONFIG_FILE at /dev/null in this process; the install below must see the
# machine's pip configuration (index, certificates) again.
environment = dict(os.environ)
ensurepip.bootstrap()
args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", *args], env=environment))
