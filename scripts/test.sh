#!/usr/bin/env bash
# The whole test suite: ansible-test sanity, ansible-lint (production profile), mypy (module_utils and plugin_utils,
# mypy.ini), unit tests, and the integration tests (pytest driving real ansible-playbook runs over SSH against the
# local 3-member TLS etcd cluster). Installs what it needs first. Exits non-zero if any part fails.
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo" || exit 1
bash scripts/bootstrap.sh || exit 1
export PATH="$repo/.venv/bin:$PATH"
failed=()
step() { printf '\n===== %s =====\n' "$1"; }

# Sanity, mypy and ansible-lint use one core each while the tests wait on SSH and etcd: they run beside pytest, their
# output kept in files and printed when they end.
static_log=$(mktemp -d)
trap 'rm -rf "$static_log"' EXIT
static_checks() {
  # ansible-test needs the collection at ansible_collections/etcdops/dr: test a copy of the files git knows
  # about (tracked, or new and not ignored), outside this checkout so that ansible-test does not ask this
  # repository's git which files exist.
  local sanity_root copy checkout_collections
  sanity_root=$(mktemp -d)
  copy=$sanity_root/ansible_collections/etcdops/dr
  mkdir -p "$copy"
  git ls-files -z --cached --others --exclude-standard | tar -C . --null -T - -cf - | tar -C "$copy" -xf -
  (cd "$copy" && "$repo/.venv-sanity/bin/ansible-test" sanity --local --python 3.11 --color no) \
    >"$static_log/sanity" 2>&1 || echo sanity >>"$static_log/failed"
  rm -rf "$sanity_root"
  # mypy checks module_utils and plugin_utils under their real package names (ansible_collections.etcdops.dr...): it
  # runs from the collections root that holds this checkout; what it checks and how is in mypy.ini.
  { checkout_collections=$(python -m testbed link-checkout) &&
    (cd "$checkout_collections" && mypy --config-file "$repo/mypy.ini"); } \
    >"$static_log/mypy" 2>&1 || echo mypy >>"$static_log/failed"
  # ansible-lint resolves etcdops.dr.* through a collections path that holds this checkout, and awx.awx (the AWX
  # example in docs/awx) through the copy bootstrap unpacked.
  { checkout_collections=$(python -m testbed link-checkout) &&
    ANSIBLE_COLLECTIONS_PATH="$checkout_collections:$repo/.venv/awx-collections" \
      ansible-lint --profile production --offline --nocolor; } \
    >"$static_log/lint" 2>&1 || echo ansible-lint >>"$static_log/failed"
}
static_checks &
static_pid=$!

# Two workers, each with a test bed of its own in a network namespace of its own (testbed/netns-python); each starts
# with half the tests and a worker that runs out takes tests from the other's queue (worksteal: with whole files
# handed out, the longest file ran on alone at the end); without root (no unshare --net), one bed in this namespace.
if unshare --net true 2>/dev/null; then
  workers=(--tx "2*popen//python=$repo/testbed/netns-python" --dist worksteal)
else
  workers=()
fi
# The unit tests come last: short ones fill the end, when a worker would otherwise wait for the other's long test.
step "unit and integration tests (pytest ${workers[*]:+on 2 test beds at once})"
pytest -p no:cacheprovider --durations=25 "${workers[@]}" tests/integration tests/unit || failed+=("pytest")
python -m testbed down >/dev/null 2>&1 || true
# Tear-down must leave no process of any test bed behind.
if leftovers=$(pgrep -af "$repo/.testbed"); then
  printf 'processes left behind by the test bed:\n%s\n' "$leftovers"
  failed+=("teardown")
fi

wait "$static_pid"
step "ansible-test sanity"
cat "$static_log/sanity"
step "ansible-lint --profile production"
cat "$static_log/lint"
step "mypy (plugins/module_utils, plugins/plugin_utils)"
cat "$static_log/mypy"
if [ -s "$static_log/failed" ]; then
  mapfile -t static_failed <"$static_log/failed"
  failed+=("${static_failed[@]}")
fi

if [ "${#failed[@]}" -gt 0 ]; then
  printf '\nFAILED: %s\n' "${failed[*]}"
  exit 1
fi
printf '\nall test stages passed: sanity, ansible-lint, mypy, pytest\n'
