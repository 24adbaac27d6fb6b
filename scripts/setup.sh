#!/usr/bin/env bash
# Create .venv and install synthlift with its test tools. torch is installed first and pinned so a
# CPU machine never pulls a multi-GB CUDA build; on a GPU machine, install the CUDA torch you want
# first and set SYNTHLIFT_TORCH="" to keep it.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
if [ -n "${SYNTHLIFT_TORCH-torch==2.13.0}" ]; then
    python -m pip install --quiet "${SYNTHLIFT_TORCH-torch==2.13.0}"
fi
python -m pip install --quiet -e ".[dev,k8s]"
