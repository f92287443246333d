#!/usr/bin/env bash
# The GPU path, in one prepared run (issue: "The GPU path"): a CUDA training run of ResNet18 at
# 64 px, batch 256, bf16, channels-last, on real BBBC021 crops, with steps/s, peak GPU memory and
# whether the data loader keeps the GPU busy (GPU utilisation sampled by nvidia-smi while it runs).
# Usage on a machine with a GPU, from the project root: bash benchmarks/gpu_check.sh [MINUTES] [WORKERS]
# Writes benchmarks/gpu_check.md (and $OUT/gpu_check.md when $OUT is set, as on the device tool).
# A dry run of the same command line on a machine without a GPU (no nvidia-smi numbers):
#   DEVICE=cpu BATCH=8 bash benchmarks/gpu_check.sh 0.2 0
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES="${1:-2}"
WORKERS="${2:-8}"
PY=.venv/bin/python
[ -x "$PY" ] || { python3 -m venv .venv && .venv/bin/pip install -q -r requirements.txt && .venv/bin/pip install -q --no-deps -e .; }
RUN="$(mktemp -d)/gpu_run"
if command -v nvidia-smi > /dev/null; then
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader > /tmp/gpu_name.txt
  ( while sleep 1; do nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader,nounits; done ) > /tmp/gpu_util.txt &
else
  echo "none (dry run: no nvidia-smi)" > /tmp/gpu_name.txt; : > /tmp/gpu_util.txt; sleep 1000000 &
fi
SAMPLER=$!
SETS=(device="${DEVICE:-cuda}" precision=bf16 channels_last=true backbone=resnet18 crop_size=64
      batch_size="${BATCH:-256}" epochs=100000 max_minutes="$MINUTES" num_workers="$WORKERS" log_every=10)
.venv/bin/ssrl train configs/bbbc021_cycloheximide_set_a.yaml --out "$RUN" --json \
  $(printf -- '--set %s ' "${SETS[@]}") > /tmp/gpu_train.json
kill $SAMPLER || true
"$PY" - "$RUN" <<'PY'
import json, os, statistics, sys
from pathlib import Path
BATCH = int(os.environ.get("BATCH", 256))
run = Path(sys.argv[1])
rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if x.strip()]
status = json.loads((run / "status.json").read_text())
util = [tuple(map(float, l.split(","))) for l in open("/tmp/gpu_util.txt") if l.strip()]
busy = [u for u, _ in util if u > 0]
pairs = [r["pairs_per_s"] for r in rows[2:]] or [r["pairs_per_s"] for r in rows]
lines = ["# GPU check", "", f"GPU: {open('/tmp/gpu_name.txt').read().strip()}", "",
         "| measure | value |", "|---|---|",
         f"| steps | {status.get('step')} |", f"| precision | {status.get('precision')} |",
         f"| pairs/s (median after warm-up) | {statistics.median(pairs):.0f} |",
         f"| steps/s (batch {BATCH}) | {statistics.median(pairs) / BATCH:.2f} |",
         f"| peak GPU memory used (MiB, nvidia-smi) | {max((m for _, m in util), default=0):.0f} |",
         f"| GPU utilisation while training (median %, nvidia-smi) | {statistics.median(busy) if busy else 0:.0f} |",
         "", "A median utilisation well below 90% means the data loader (CPU augmentation) does not keep the GPU busy."]
text = "\n".join(lines) + "\n"
if status.get("device", "").startswith("cuda"):  # a dry run on the CPU records nothing
    Path("benchmarks/gpu_check.md").write_text(text)
if os.environ.get("OUT"):
    Path(os.environ["OUT"], "gpu_check.md").write_text(text)
print(text)
PY
