#!/usr/bin/env bash
# Install, then run the main job on the embedded default (breast_cancer, malignant cases made scarce).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
export NO_ALBUMENTATIONS_UPDATE=1
synthlift run breast_cancer "$@"
