#!/usr/bin/env bash
# The whole test suite: ansible-test sanity, ansible-lint (production profile), unit tests, and the
# integration tests (pytest driving real ansible-playbook runs over SSH against the local 3-member
# TLS etcd cluster). Installs what it needs first. Exits non-zero if any part fails.
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo" || exit 1
bash scripts/bootstrap.sh || exit 1
export PATH="$repo/.venv/bin:$PATH"
failed=()
step() { printf '\n===== %s =====\n' "$1"; }

step "ansible-test sanity"
# ansible-test needs the collection at ansible_collections/etcdops/dr: test a copy of the files
# git knows about (tracked, or new and not ignored), outside this checkout so that ansible-test
# does not ask this repository's git which files exist.
sanity_root=$(mktemp -d)
trap 'rm -rf "$sanity_root"' EXIT
copy=$sanity_root/ansible_collections/etcdops/dr
mkdir -p "$copy"
git ls-files -z --cached --others --exclude-standard | tar -C . --null -T - -cf - | tar -C "$copy" -xf -
(cd "$copy" && "$repo/.venv-sanity/bin/ansible-test" sanity --local --python 3.11 --color no) || failed+=("sanity")

step "ansible-lint --profile production"
# ansible-lint resolves etcdops.dr.* through a collections path that holds this checkout.
checkout_collections=$(python -m testbed link-checkout) || failed+=("ansible-lint")
ANSIBLE_COLLECTIONS_PATH="$checkout_collections" ansible-lint --profile production --offline --nocolor || failed+=("ansible-lint")

step "unit and integration tests (pytest)"
pytest -p no:cacheprovider --durations=25 tests/unit tests/integration || failed+=("pytest")
python -m testbed down >/dev/null 2>&1 || true
# Tear-down must leave no process of the test bed behind.
if leftovers=$(pgrep -af "$repo/.testbed/"); then
  printf 'processes left behind by the test bed:\n%s\n' "$leftovers"
  failed+=("teardown")
fi

if [ "${#failed[@]}" -gt 0 ]; then
  printf '\nFAILED: %s\n' "${failed[*]}"
  exit 1
fi
printf '\nall test stages passed: sanity, ansible-lint, pytest\n'
