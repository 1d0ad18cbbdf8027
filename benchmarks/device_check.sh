#!/usr/bin/env bash
# The prepared run for a lent GPU machine (issue 20), made to end within ~9 minutes: the
# `gpu`-marked tests (every torch path on CUDA against the CPU) and benchmarks/gpu.py at full
# size on CUDA. Logs and gpu_cuda.json go to $OUT (the device tool brings them back; commit
# the JSON as benchmarks/results/gpu_cuda.json). First: bash benchmarks/device_prepare.sh here.
# Without a GPU it stops at once (exit 3); DRY_RUN=1 runs the same steps on the CPU at small
# size instead (the test suite does, so that the script keeps working). Runs from a checkout:
# no install (PYTHONPATH).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/out/device}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
export FIJIBRIDGE_REFERENCE=${FIJIBRIDGE_REFERENCE:-$PWD/.device/reference}
PY=${PYTHON:-python3}
{ date -u; nvidia-smi -L; } > "$OUT/machine.txt" 2>&1
$PY - <<'PY' 2>&1 | tee -a "$OUT/machine.txt"
import platform, torch
print("python", platform.python_version(), "| torch", torch.__version__,
      "| cuda", torch.cuda.is_available(),
      "|", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU")
PY
device=(--device cuda) json=gpu_cuda.json
if [[ "${DRY_RUN:-0}" == 1 ]]; then
  device=(--device cpu --small) json=gpu_cpu_small.json
elif ! $PY -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "no CUDA device: nothing to check" >&2
  exit 3
fi
[[ -f "$FIJIBRIDGE_REFERENCE/manifest.json" ]] || echo "warning: no DL2 reference at $FIJIBRIDGE_REFERENCE (run benchmarks/device_prepare.sh and carry .device): its cases are skipped" >&2
rc=0
timeout 270 $PY -m pytest -p no:cacheprovider tests/test_gpu.py -q -rs --timeout=240 \
  --junitxml="$OUT/gpu_tests.xml" 2>&1 | tee "$OUT/gpu_tests.log" || rc=1
timeout 230 $PY benchmarks/gpu.py "${device[@]}" --out "$OUT/$json" 2>&1 \
  | tee "$OUT/gpu_bench.log" || rc=1
exit $rc
