#!/usr/bin/env bash
# Install, then run the whole test suite. pytest's exit code 5 (no tests collected) is a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
. .venv/bin/activate
export NO_ALBUMENTATIONS_UPDATE=1
# Two workers: CI has two cores, and the slowest tests train GANs for tens of seconds each. One thread each, so
# the two workers do not fight over the cores (torch and scikit-learn would each start a thread per core).
export OMP_NUM_THREADS=1
python -m pytest -q -p no:cacheprovider -n "${SYNTHLIFT_TEST_WORKERS:-2}" "$@"
status=$?
if [ "$status" -eq 5 ]; then
    echo "no tests were collected: failing" >&2
    exit 1
fi
exit "$status"
