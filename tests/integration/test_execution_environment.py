"""The execution environment: `ansible-builder create` makes a build context from execution-environment.yml, and the
context's own steps - the galaxy install and ansible-builder's introspection - run here as they would in the image
build (no container runtime is needed for them)."""
import re
import shutil
import subprocess

import yaml

from testbed import layout

BIN = layout.VENV_PYTHON.parent


def run(*cmd, cwd=None):
    done = subprocess.run([str(part) for part in cmd], capture_output=True, text=True, cwd=cwd, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def pins():
    """What requirements-dev.txt pins (what the tests run with)."""
    found = {}
    for line in (layout.REPO / "requirements-dev.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line)
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


def test_the_build_context_installs_this_collection_with_its_requirements(tmp_path):
    galaxy = yaml.safe_load((layout.REPO / "galaxy.yml").read_text())
    shutil.copy(layout.REPO / "execution-environment.yml", tmp_path)
    run(BIN / "ansible-galaxy", "collection", "build", "--output-path", tmp_path / ".build", layout.REPO)
    tarball = "etcdops-dr-%s.tar.gz" % galaxy["version"]
    assert (tmp_path / ".build" / tarball).is_file()

    run(BIN / "ansible-builder", "create", "-f", tmp_path / "execution-environment.yml", "-c", tmp_path / "context")
    context = tmp_path / "context"
    containerfile = next(path for path in (context / "Containerfile", context / "Dockerfile") if path.exists())
    text = containerfile.read_text()
    pinned = pins()
    assert 'ARG ANSIBLE_INSTALL_REFS="ansible-core==%s ansible-runner==%s"' % (
        pinned["ansible-core"], pinned["ansible-runner"]) in text
    # The base image is the user's choice, passed as a build argument.
    assert "FROM $EE_BASE_IMAGE AS base" in text
    # ansible-builder only warns when additional_build_files matches nothing: a tarball name in
    # execution-environment.yml that does not follow galaxy.yml's version fails here.
    assert (context / "_build" / "collections" / tarball).is_file()

    # The galaxy stage: its requirements file, from the context's _build dir.
    collections = tmp_path / "usr-share-ansible-collections"
    run(BIN / "ansible-galaxy", "collection", "install", "-r", "requirements.yml", "--collections-path", collections,
        cwd=context / "_build")
    installed = collections / "ansible_collections" / "etcdops" / "dr"
    manifest = yaml.safe_load((installed / "MANIFEST.json").read_text())
    assert manifest["collection_info"]["version"] == galaxy["version"]
    assert (installed / "plugins" / "modules" / "etcd_restore.py").is_file()

    # The builder stage: introspection finds the collection's Python and system packages.
    run(layout.VENV_PYTHON, context / "_build" / "scripts" / "introspect.py", "introspect", collections,
        "--write-pip", tmp_path / "pip.txt", "--write-bindep", tmp_path / "bindep.txt")
    python_packages = {re.split(r"[<>=\s#]", line, maxsplit=1)[0].lower()
                       for line in (tmp_path / "pip.txt").read_text().splitlines() if line.strip()}
    wanted = {re.split(r"[<>=\s#]", line, maxsplit=1)[0].lower()
              for line in (layout.REPO / "requirements.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")}
    assert wanted and wanted <= python_packages, (wanted, python_packages)
    assert "openssh-clients [platform:rpm]" in (tmp_path / "bindep.txt").read_text()
