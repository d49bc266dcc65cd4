#!/usr/bin/env bash
# One idempotent install of the OpenMMLab 2.0 stack + mmhad into the current Python.
#
#   bash tools/install.sh          # fresh machine: ~20 min (mmcv ops compile once)
#                                   # warm machine:  a few seconds (stamp + verify)
#
# The slow artefact (the mmcv 2.1.0 wheel with compiled ops) is cached in
# $MMHAD_CACHE_DIR (default ~/.cache/mmhad) so a fresh clone never rebuilds it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
CACHE="${MMHAD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mmhad}"
WHEELS="$CACHE/wheels"
CONSTRAINTS="$ROOT/requirements/constraints.txt"
mkdir -p "$WHEELS"

export PIP_ROOT_USER_ACTION=ignore
log() { printf '[mmhad install %(%H:%M:%S)T] %s\n' -1 "$*"; }
pip_install() { "$PY" -m pip install -q -c "$CONSTRAINTS" "$@"; }

"$PY" - <<'PYEOF' || { echo "mmhad needs Python 3.9-3.12 (measured on 3.11)"; exit 1; }
import sys; sys.exit(0 if (3, 9) <= sys.version_info[:2] <= (3, 12) else 1)
PYEOF

# Fast path: nothing in requirements/ or setup.py changed since the last good install,
# and the stack still verifies.
STAMP="$CACHE/stamp-$("$PY" -c 'import sys,hashlib;print(hashlib.sha1(sys.executable.encode()).hexdigest()[:10])')"
HASH="$(cat "$ROOT"/requirements/*.txt "$ROOT/setup.py" | sha1sum | cut -d' ' -f1)"
# The ACH CPU kernel (mmhad/ops/csrc): compiled once into PyTorch's extension cache, keyed
# by the source's hash, so this is ~30 s after a change of the kernel and <1 s otherwise.
# Without a compiler mmhad falls back to PyTorch ops (slower, same results).
build_kernels() {
  log "ACH CPU kernel (PyTorch extension cache)"
  (cd "$ROOT" && PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" "$PY" -c \
    'import sys; from mmhad.ops.kernels.cpu_ext import install_main; sys.exit(install_main())')
}

# The stamp is per interpreter, not per checkout: a second clone on the same machine takes
# the fast path, so the editable mmhad is pointed at this checkout when it points elsewhere
# (else `import mmhad` outside a checkout would run the first clone's code).
install_editable() { pip_install --no-deps --no-build-isolation -e "$ROOT"; }
editable_is_here() {
  (cd / && "$PY" -c 'import importlib.util as u, os, sys
spec = u.find_spec("mmhad")
sys.exit(spec is None or os.path.realpath(os.path.dirname(spec.origin)) != os.path.realpath(sys.argv[1]))' "$ROOT/mmhad") 2>/dev/null
}

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$HASH" ]] && "$PY" "$ROOT/tools/misc/verify_install.py" --quiet; then
  log "stack already installed and verified (stamp $STAMP)"
  if ! editable_is_here; then
    log "mmhad (editable) pointed at this checkout"
    install_editable
  fi
  build_kernels
  exit 0
fi

log "build tools"
pip_install -r "$ROOT/requirements/build.txt"

log "torch + torchvision (standard registry build, runs on CPU)"
pip_install torch torchvision

mmcv_ok() {
  "$PY" - <<'PYEOF' 2>/dev/null
import mmcv, torch
assert mmcv.__version__ == '2.1.0', mmcv.__version__
from mmcv.ops import nms
nms(torch.tensor([[0., 0., 1., 1.]]), torch.tensor([1.]), 0.5)
PYEOF
}

if mmcv_ok; then
  log "mmcv 2.1.0 with ops already installed"
else
  TORCH_TAG="torch$("$PY" -c 'import torch;print(torch.__version__)')-py$("$PY" -c 'import sys;print("%d%d"%sys.version_info[:2])')"
  MMCV_DIR="$WHEELS/$TORCH_TAG"
  mkdir -p "$MMCV_DIR"
  if ! ls "$MMCV_DIR"/mmcv-2.1.0-*.whl >/dev/null 2>&1; then
    log "building mmcv 2.1.0 with compiled ops (once, ~17 min on 2 cores); cached in $MMCV_DIR"
    # --no-build-isolation: mmcv's setup.py imports torch and pkg_resources; in an
    # isolated build env it cannot see torch and silently skips the ops.
    MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
      "$PY" -m pip wheel -q --no-deps --no-build-isolation --no-binary mmcv \
      -c "$CONSTRAINTS" -w "$MMCV_DIR.tmp" mmcv==2.1.0
    mv "$MMCV_DIR.tmp"/mmcv-2.1.0-*.whl "$MMCV_DIR"/ && rm -rf "$MMCV_DIR.tmp"
  fi
  log "installing cached mmcv wheel"
  pip_install --force-reinstall --no-deps "$MMCV_DIR"/mmcv-2.1.0-*.whl
fi

log "OpenMMLab libraries, test tools and mmhad (editable)"
pip_install -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/tests.txt"
install_editable
# A later resolve must never leave setuptools>=82 behind (mmengine needs pkg_resources).
pip_install "setuptools"

log "verifying"
"$PY" "$ROOT/tools/misc/verify_install.py"
build_kernels
echo "$HASH" > "$STAMP"
log "done"
