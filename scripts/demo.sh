#!/usr/bin/env bash
# The main job on the embedded default: start the local 3-member TLS etcd cluster (test bed), report
# its health, take an online backup (verified on the host, copied to and verified on the controller, retention
# keeping the 5 newest) and a cold backup of it through the collection, over SSH, as against real hosts; then the
# disaster: marker keys, backup sent to the backup server's SFTP store, more keys, every data dir and every host's
# backups destroyed, the whole cluster restored from the store's newest backup, keys proven; last, a DR drill of that
# backup (restored into a throwaway member beside the cluster, verified, measured, reported) with its control-plane
# bundles checked: the backup is encrypted and taken with a kubeadm-like layout on each host whose EncryptionConfiguration
# encrypted the Secrets in etcd (scripts/restore_cycle.py); the layout is removed at the end.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
bash scripts/bootstrap.sh
.venv/bin/python -m testbed up
.venv/bin/python -m testbed install >/dev/null
export ANSIBLE_CONFIG="$repo/.testbed/ansible.cfg"
.venv/bin/ansible-playbook etcdops.dr.health
ANSIBLE_SHOW_CUSTOM_STATS=1 .venv/bin/ansible-playbook etcdops.dr.backup \
  -e backup_fetch_dir="$repo/.testbed/controller-backups" -e backup_keep_last=5
.venv/bin/ansible-playbook etcdops.dr.cold_backup
# The kubeadm-like layout restore_cycle.py makes for the bundles goes at the end, whatever happens: later backups of
# the bed take no bundle, as on a new bed.
trap 'PYTHONPATH="$repo" .venv/bin/python -c "from testbed import kubeadm, layout; kubeadm.remove(layout.bed())"' EXIT
PYTHONPATH="$repo" .venv/bin/python scripts/restore_cycle.py
ANSIBLE_SHOW_CUSTOM_STATS=1 .venv/bin/ansible-playbook etcdops.dr.drill -e "@$repo/.testbed/demo/drill-vars.json"
report=$(find "$repo/.testbed/drill-reports" -name '*.html' -printf '%T@ %p\n' | sort -n | tail -n 1 | cut -d' ' -f2-)
cat <<MSG

The first online snapshot is on the controller in $repo/.testbed/controller-backups/; the one the cluster was
restored from is on the SFTP store (sftp://root@127.0.0.14:2022$repo/.testbed/sftp-root/backups).
Each has a JSON manifest beside it.
The backup the cluster was restored from and drilled is encrypted; its key is in $repo/.testbed/demo/ (0600).
The DR drill's report (RTO, RPO, checks, control-plane bundles, Kubernetes objects): $report
(with .json, .md and .prom beside it).
The local cluster keeps running: inventory $repo/.testbed/inventory.yml.
Run more with: ANSIBLE_CONFIG=$ANSIBLE_CONFIG .venv/bin/ansible-playbook etcdops.dr.health
Stop it with:  .venv/bin/python -m testbed down
MSG
