#!/usr/bin/env bash
# Install torch==2.13.0 into the environment of the Python given as $1 (default python3):
# the CUDA build when an NVIDIA GPU is present, else a CPU build. An unpinned
# `pip install torch` pulls several GB of CUDA wheels, so on a machine without a GPU we
# take the CPU build pip offers (e.g. a local wheel) and fall back to PyTorch's CPU
# index only if pip would pull CUDA packages. Used by install.sh and wheel_smoke.sh.
set -euo pipefail
PY=${1:-python3}
say() { printf '[torch] %s\n' "$*"; }
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  say "NVIDIA GPU found: installing torch==2.13.0 with CUDA"
  "$PY" -m pip install -q "torch==2.13.0"
  exit 0
fi
report=$(mktemp)
trap 'rm -f "$report"' EXIT
"$PY" -m pip install -q --dry-run --ignore-installed --report "$report" "torch==2.13.0" >/dev/null
if "$PY" - "$report" <<'PYEOF'
import json, sys
items = json.load(open(sys.argv[1]))["install"]
sys.exit(1 if any(i["metadata"]["name"].lower().startswith("nvidia") for i in items) else 0)
PYEOF
then
  say "no GPU: installing the CPU build of torch==2.13.0 offered by pip"
  "$PY" -m pip install -q "torch==2.13.0"
else
  say "no GPU: pip would pull CUDA wheels; using PyTorch's CPU index instead"
  "$PY" -m pip install -q "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu
fi
