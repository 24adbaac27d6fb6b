#!/usr/bin/env bash
# Create .venv and install synthlift with its test tools. torch is installed first, pinned, from the
# index pip is configured with, or from SYNTHLIFT_TORCH_INDEX when set: plain PyPI serves Linux the
# multi-GB CUDA build, so a CPU machine on PyPI sets
# SYNTHLIFT_TORCH_INDEX=https://download.pytorch.org/whl/cpu. On a GPU machine, install the CUDA torch
# you want first and set SYNTHLIFT_TORCH="" to keep it.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
if [ -n "${SYNTHLIFT_TORCH-torch==2.13.0}" ]; then
    index=()
    if [ -n "${SYNTHLIFT_TORCH_INDEX-}" ]; then index=(--index-url "$SYNTHLIFT_TORCH_INDEX"); fi
    python -m pip install --quiet ${index[@]+"${index[@]}"} "${SYNTHLIFT_TORCH-torch==2.13.0}"
fi
python -m pip install --quiet -e ".[dev,k8s]"
