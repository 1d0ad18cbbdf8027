#!/usr/bin/env bash
# Prepare, on this machine, the one run a lent GPU machine gets (issue 20: the `gpu` tests and
# benchmarks/gpu.py on CUDA; benchmarks/device_check.sh runs them there).
#
# That machine reaches no network and receives only the working tree and the folders a call
# names in `carry`; its image has python3 with CUDA PyTorch, numpy, scipy, scikit-image,
# scikit-learn, tifffile, pandas, matplotlib, PyYAML, tqdm, pytest and pytest-timeout, which
# is all that fijibridge's torch paths import (SimpleITK, ImageJ's packages, pydantic and
# numba are not needed there). What it lacks is the DeconvolutionLab2 reference beside the
# checkout (../shared/reference): this copies it into .device/ (ignored by git, ~19 MB).
#
#   bash benchmarks/device_prepare.sh
#   then the device tool: run(command="bash benchmarks/device_check.sh", carry=[".device"],
#                             timeout_s=560)
set -euo pipefail
cd "$(dirname "$0")/.."
src=${FIJIBRIDGE_REFERENCE:-../shared/reference}
if [[ ! -f "$src/manifest.json" ]]; then
  echo "no DL2 reference at $src (manifest.json); set FIJIBRIDGE_REFERENCE" >&2
  exit 2
fi
rm -rf .device.tmp && mkdir -p .device.tmp
cp -r "$src" .device.tmp/reference
rm -rf .device && mv .device.tmp .device
echo "prepared .device/ ($(du -sh .device | cut -f1)); carry it: carry=[\".device\"]"
