#!/usr/bin/env bash
# The prepared GPU check (issue 15): ACH Triton parity, one fp16-AMP step per family,
# GPU latency of every backbone vs MobileNetV3. Under 8 minutes on one GPU.
#   bash tools/misc/gpu_check.sh [extra args of tools/misc/gpu_check.py]
# Writes gpu_check.md (and $OUT/gpu_check.md when $OUT is set, e.g. on the device tool).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/install.sh >/dev/null
out="${OUT:-.}/gpu_check.md"
timeout 480 "${PYTHON:-python3}" -W ignore tools/misc/gpu_check.py --device cuda --out "$out" "$@"
