#!/usr/bin/env bash
# make test-dist: install the wheel from DIST_DIR into a fresh virtualenv outside the
# source tree and run the whole pytest suite against that installed copy, with the
# Swift toolchain's runtime directory hidden (a private mount namespace with a tmpfs
# over it), so any dependency on the toolchain fails the run.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../../.." && pwd)
dist=$(cd "${1:?usage: run.sh DIST_DIR}" && pwd)
python=${PYTHON:-python3}
wheels=("$dist"/promptsel-*.whl)
[ ${#wheels[@]} -eq 1 ] && [ -f "${wheels[0]}" ] || { echo "test-dist: expected one wheel in $dist" >&2; exit 1; }
wheel=${wheels[0]}

work=$(mktemp -d "${TMPDIR:-/tmp}/promptsel-test-dist.XXXXXX")
trap 'rm -rf "$work"' EXIT
# System site-packages supply numpy, pytest and the optional integrations the suite
# exercises, without the network; the venv's own site-packages (the wheel) come first.
"$python" -m venv --system-site-packages "$work/venv"
"$work/venv/bin/python" -m pip install -q --no-deps --no-index "$wheel"

runtime=$(swift -print-target-info 2>/dev/null | "$python" -c \
  'import json, sys; print(json.load(sys.stdin)["paths"]["runtimeLibraryPaths"][0])' 2>/dev/null || true)
runtime=${runtime:-/opt/swift/usr/lib/swift/linux}

run_suite() {
  cd "$work"   # not the repository: nothing may be imported from the source tree
  env -u PYTHONPATH -u PROMPTSEL_LIB PROMPTSEL_TEST_INSTALLED=1 PROMPTSEL_TEST_WHEEL="$wheel" \
    PROMPTSEL_TEST_RUNTIME_HIDDEN="$1" PROMPTSEL_TEST_DYNAMIC_LIB="$repo/.build/release/libpromptsel.so" \
    "$work/venv/bin/python" -m pytest -q -p no:cacheprovider --rootdir "$repo" "$repo/python/tests"
}

if [ -d "$runtime" ] && unshare -m --propagation private true 2>/dev/null; then
  echo "test-dist: $(basename "$wheel") in $work/venv, Swift runtime $runtime hidden"
  export -f run_suite; export work wheel repo
  unshare -m --propagation private bash -c \
    "mount -t tmpfs -o size=1m promptsel-hidden '$runtime' && run_suite 1"
else
  echo "test-dist: SKIPPING the hidden-runtime part: unshare -m is not permitted here (needs root)" \
       "or $runtime does not exist; the suite still runs against the installed wheel"
  run_suite 0
fi
