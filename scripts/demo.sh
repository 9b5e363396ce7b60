#!/usr/bin/env bash
# The main job on the embedded default: start the local 3-member TLS etcd cluster (test bed), report
# its health and take a cold backup of it through the collection, over SSH, as against real hosts.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
bash scripts/bootstrap.sh
.venv/bin/python -m testbed up
.venv/bin/python -m testbed install >/dev/null
export ANSIBLE_CONFIG="$repo/.testbed/ansible.cfg"
.venv/bin/ansible-playbook etcdops.dr.health
.venv/bin/ansible-playbook etcdops.dr.cold_backup
cat <<MSG

The cold backup and its manifest are in $repo/.testbed/hosts/node1/backups/.
The local cluster keeps running: inventory $repo/.testbed/inventory.yml.
Run more with: ANSIBLE_CONFIG=$ANSIBLE_CONFIG .venv/bin/ansible-playbook etcdops.dr.health
Stop it with:  .venv/bin/python -m testbed down
MSG
