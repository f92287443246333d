#!/usr/bin/env bash
# The GPU path, in one prepared run (issue 28, "The GPU path"): CUDA training runs of ResNet18 +
# MoCo v2 at 64 px, batch 256, bf16, channels-last, on real BBBC021 crops, once with the views made
# by the loader's worker processes (augment_on=cpu) and once made on the GPU in batches
# (augment_on=device), then an embedding pass of the same crops. It reports, per run:
# steady-state pairs/s (the median of the log intervals after the first quarter of the run), the
# share of time the GPU was idle (nvidia-smi utilisation samples, 0% samples included: those are
# the seconds it starved) and the share of time the training process waited for the loader,
# peak GPU memory (torch and nvidia-smi), the number of loader workers, and embedding crops/s.
# Usage on a machine with a GPU, from the project root:
#   bash benchmarks/gpu_check.sh [MINUTES per run, default 1.5] [WORKERS, default auto]
# Needs no network and no virtual environment of its own: it runs `python -m ssrl_core` from this
# checkout with $PYTHON (default: .venv/bin/python when it works here, else python3).
# Writes benchmarks/gpu_check.md (and $OUT/gpu_check.md when $OUT is set, as on the device tool).
# A dry run of the same command lines on a machine without a GPU (nothing is recorded):
#   DEVICE=cpu BATCH=8 EMBED_CELLS=128 BACKBONE=tiny_cnn bash benchmarks/gpu_check.sh 0.1 0
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES="${1:-1.5}"
WORKERS="${2:-auto}"
BATCH="${BATCH:-256}"
DEVICE="${DEVICE:-cuda}"
BACKBONE="${BACKBONE:-resnet18}"  # the CPU dry run in the tests uses tiny_cnn
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if .venv/bin/python -c "import torch" 2>/dev/null; then PY=.venv/bin/python; else PY=python3; fi
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" BATCH BACKBONE
WORK="$(mktemp -d)"
SAMPLER=""
stop_sampler() {  # the sampling loop and the command it is running (nvidia-smi or sleep)
  [ -n "$SAMPLER" ] || return 0
  kill -STOP "$SAMPLER" 2>/dev/null || true
  local kids; kids="$(pgrep -P "$SAMPLER" || true)"
  kill "$SAMPLER" $kids 2>/dev/null || true
  kill -CONT "$SAMPLER" 2>/dev/null || true
  wait "$SAMPLER" 2>/dev/null || true
  SAMPLER=""
}
cleanup() { stop_sampler; }
trap cleanup EXIT

sample_gpu() {  # $1: file; one line a second: epoch seconds, utilisation %, memory used MiB
  if command -v nvidia-smi > /dev/null; then
    ( while true; do
        echo "$(date +%s.%N),$(nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader,nounits | head -1)"
        sleep 1
      done ) > "$1" &
  else
    : > "$1"; ( while true; do sleep 1; done ) &
  fi
  SAMPLER=$!
}

if command -v nvidia-smi > /dev/null; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$WORK/gpu_name.txt"
else
  echo "none (dry run: no nvidia-smi)" > "$WORK/gpu_name.txt"
fi
lscpu | grep 'Model name' | sed 's/.*: *//' > "$WORK/cpu_name.txt" || echo unknown > "$WORK/cpu_name.txt"
nproc > "$WORK/cores.txt"

for MODE in cpu device; do
  SETS=(device="$DEVICE" precision=bf16 channels_last=true backbone="$BACKBONE" crop_size=64 method.name=moco_v2
        batch_size="$BATCH" epochs=100000 max_minutes="$MINUTES" num_workers="$WORKERS" log_every=20
        checkpoint_minutes=0 augment_on="$MODE")
  sample_gpu "$WORK/util_$MODE.txt"
  date +%s.%N > "$WORK/start_$MODE.txt"
  "$PY" -m ssrl_core train configs/bbbc021_cycloheximide_set_a.yaml --out "$WORK/run_$MODE" --json \
    $(printf -- '--set %s ' "${SETS[@]}") > "$WORK/train_$MODE.json"
  stop_sampler
done

"$PY" - "$WORK" "$DEVICE" <<'PY'
import json, os, statistics, sys, time

import numpy as np
from pathlib import Path

work, device = Path(sys.argv[1]), sys.argv[2]
batch = int(os.environ.get("BATCH", 256))


def last_json(path):
    text = path.read_text()
    return json.loads(text[text.index("{"):text.rindex("}") + 1])


def run_rows(mode):
    run = work / f"run_{mode}"
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if x.strip()]
    steady = rows[len(rows) // 4:] or rows
    util = []
    start = float((work / f"start_{mode}.txt").read_text())
    for line in (work / f"util_{mode}.txt").read_text().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3 and float(parts[0]) > start + 20:  # past the set-up (data, model, cuDNN tuning)
            util.append((float(parts[1]), float(parts[2])))
    result = last_json(work / f"train_{mode}.json")
    return rows, steady, util, result


lines = ["# GPU check", "", f"GPU: {(work / 'gpu_name.txt').read_text().strip()}",
         f"CPU: {(work / 'cpu_name.txt').read_text().strip()} ({(work / 'cores.txt').read_text().strip()} cores)",
         "", "%s + MoCo v2, 64 px, batch %d, bf16, channels-last, BBBC021 crops (microscopy set A). "
         "Made by `bash benchmarks/gpu_check.sh`." % (os.environ.get("BACKBONE", "resnet18"), batch), "",
         "| measure | views by loader workers (augment_on=cpu) | views on the GPU (augment_on=device) |",
         "|---|---|---|"]
table = {}
for mode in ("cpu", "device"):
    rows, steady, util, result = run_rows(mode)
    pairs = statistics.median(r["pairs_per_s"] for r in steady)
    wait = statistics.median(r.get("data_wait_share", 0.0) for r in steady)
    idle = 1 - sum(u for u, _ in util) / (100 * len(util)) if util else float("nan")
    table[mode] = [result.get("step"), f"{pairs:.0f}", f"{pairs / batch:.2f}", f"{idle:.0%}", f"{wait:.0%}",
                   f"{statistics.median(u for u, _ in util):.0f}" if util else "n/a",
                   f"{result.get('peak_memory_mib') or 0:.0f}", f"{max((m for _, m in util), default=0):.0f}",
                   result.get("loader_workers")]
names = ["steps", "pairs/s (steady state, median)", f"steps/s (batch {batch})",
         "GPU idle share (nvidia-smi, 0% samples counted)", "training process waiting for data (median share)",
         "GPU utilisation (median %)", "peak GPU memory, torch (MiB)", "peak GPU memory, nvidia-smi (MiB)",
         "loader workers"]
for i, name in enumerate(names):
    lines.append(f"| {name} | {table['cpu'][i]} | {table['device'][i]} |")

# embedding (item 5): raw crops pinned, copied on a side stream, scaled on the GPU, batches of 1,024
from ssrl_core.evaluate.embedding import embed_with_info
from ssrl_core.train import load_config
from ssrl_core.train.data import load_cells

cells = load_cells(load_config("configs/bbbc021_cycloheximide_set_a.yaml").data)
cells = cells.subset(np.arange(min(len(cells), int(os.environ.get("EMBED_CELLS") or len(cells)))))
ckpt = str(work / "run_cpu" / "checkpoint.pt")
embed_with_info(cells.subset(np.arange(min(256, len(cells)))), ckpt, device=device, batch_size=None, use_cache=False)
t0 = time.perf_counter()
feats, _ = embed_with_info(cells, ckpt, device=device, batch_size=None, use_cache=False)
lines += ["", f"Embedding {len(cells):,} crops with the trained encoder: {len(cells) / (time.perf_counter() - t0):,.0f} "
          "crops/s (raw integers pinned and copied on a side stream, scaled on the GPU, batches of 1,024)."]
text = "\n".join(lines) + "\n"
if device.startswith("cuda"):  # a dry run on the CPU records nothing
    Path("benchmarks/gpu_check.md").write_text(text)
if os.environ.get("OUT"):
    Path(os.environ["OUT"], "gpu_check.md").write_text(text)
print(text)
PY
