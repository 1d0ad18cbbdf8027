#!/usr/bin/env bash
# CI: prove the wheel, as a new user would meet it. Build the wheel, install it (plus
# CPU torch 2.13.0) into a fresh venv -- no --system-site-packages, no checkout on the
# path -- and from an EMPTY temporary folder:
#   - `fijibridge segment` a sample image with the shipped model nuclei2d,
#   - `fijibridge validate NAME` every shipped pipeline, by name,
#   - `fijibridge run mito_classification --profile small -o out`,
#   - `pip check` is clean,
#   - `import fijibridge` loads neither torch nor jpype.
# The sample image comes from the data folder `python -m fijibridge.data fetch` fills
# (install.sh runs it). Prints the seconds taken.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PY=${PYTHON:-python3}
say() { printf '[wheel-smoke] %s\n' "$*"; }
start=$SECONDS
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

say "building the wheel"
$PY -m pip wheel -q --no-deps --no-build-isolation -w "$work/dist" "$REPO"
wheel=$(ls "$work"/dist/fijibridge-*.whl)
say "$(basename "$wheel"): $(du -k "$wheel" | cut -f1) KiB"

say "fresh venv"
$PY -m venv "$work/venv"
VPY=$work/venv/bin/python
bash "$REPO/.ci/install_torch.sh" "$VPY"
$VPY -m pip install -q "$wheel"
export PATH=$work/venv/bin:$PATH
unset PYTHONPATH FIJIBRIDGE_MODELS

mkdir "$work/empty"
cd "$work/empty"
$VPY - <<'PYEOF'
import sys
import fijibridge
bad = [m for m in ("torch", "jpype", "scyjava", "imagej") if m in sys.modules]
if bad:
    sys.exit(f"import fijibridge loaded {bad}")
if "site-packages" not in fijibridge.__file__:
    sys.exit(f"fijibridge imported from {fijibridge.__file__}, not from the wheel")
print("[wheel-smoke] import fijibridge: no torch, no jpype;", fijibridge.__file__)
PYEOF
$VPY -m pip check

image=$($VPY -c "from fijibridge.data import sample_path; print(sample_path('dsb2018_nuclei'))")
say "segment $(basename "$image") with the shipped nuclei2d"
fijibridge segment "$image" --model nuclei2d -o labels.tif --no-overlay
test -s labels.tif

fijibridge pipelines
for name in $($VPY -c "from fijibridge.shipped import shipped_names; print(*shipped_names('pipelines'))"); do
  fijibridge validate "$name"
done

say "run mito_classification --profile small"
fijibridge run mito_classification --profile small -o out --no-progress
test -s out/run.json
ls out
say "OK in $((SECONDS - start)) s"
