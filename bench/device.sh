#!/usr/bin/env bash
# The benchmark as one command on a lent GPU machine that reaches no package registry.
#
#   bash bench/device.sh --fetch      here, with a registry: archdsl's own dependencies as wheels in .whl/
#   bash bench/device.sh [SECONDS]    there: install those if missing, run bench/run.py within SECONDS
#                                     (default 540), results in $OUT (else bench/results/device/)
#
# There, torch, torchvision, timm and networkx come with the machine; lark and pydantic (with
# pydantic-core, annotated-types, typing-inspection, typing-extensions) travel in .whl/, which git
# ignores: name it among the paths carried to the machine. Back here, copy cuda.json into
# bench/results/ and run `python3 bench/run.py --render`.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--fetch" ]; then
  target_python=${TARGET_PYTHON:-3.12}  # the GPU machine's interpreter
  pins=$(python3 - <<'EOF'
from importlib.metadata import version
names = ["lark", "pydantic", "pydantic_core", "annotated_types", "typing_inspection", "typing_extensions"]
print(" ".join(f"{n}=={version(n)}" for n in names))
EOF
) || { echo "install archdsl here first (pip install -e .): its dependencies' versions are read from it"; exit 1; }
  rm -rf .whl && mkdir .whl
  platforms=""
  for p in manylinux_2_28_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 any; do platforms+=" --platform $p"; done
  # shellcheck disable=SC2086
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$target_python" --implementation cp \
    $platforms -d .whl $pins || exit 1
  ls .whl
  exit 0
fi

budget=${1:-540}
out=${OUT:-bench/results/device}
mkdir -p "$out"
if ! python3 -c "import lark, pydantic" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/archdsl-site \
    .whl/*.whl || { echo "lark/pydantic are missing and .whl/ could not supply them (bench/device.sh --fetch)"; exit 1; }
  export PYTHONPATH=/tmp/archdsl-site${PYTHONPATH:+:$PYTHONPATH}
fi
nvidia-smi >"$out/nvidia-smi.txt" 2>&1
PYTHONUNBUFFERED=1 python3 bench/run.py --quick --grid default --budget "$budget" --results "$out" 2>&1 | tee "$out/log.txt"
