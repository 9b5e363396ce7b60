#!/usr/bin/env bash
# The main job on the embedded default: start the local 3-member TLS etcd cluster (test bed) and
# report its health through the collection, over SSH, as against real hosts.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
bash scripts/bootstrap.sh
.venv/bin/python -m testbed up
.venv/bin/python -m testbed install >/dev/null
export ANSIBLE_CONFIG="$repo/.testbed/ansible.cfg"
.venv/bin/ansible-playbook etcdops.dr.health
cat <<MSG

The local cluster keeps running: inventory $repo/.testbed/inventory.yml.
Run more with: ANSIBLE_CONFIG=$ANSIBLE_CONFIG .venv/bin/ansible-playbook etcdops.dr.health
Stop it with:  .venv/bin/python -m testbed down
MSG
