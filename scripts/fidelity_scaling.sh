#!/usr/bin/env bash
# The fidelity issue's scaling curve: the current bounce recipe trained for the
# whole 6-hour budget as one resumable run, keeping its EMA model every 2,500
# steps, so that error and kept share can be read against training compute
# (see docs/fidelity.md). Re-running this script resumes the run exactly.
#
#   bash scripts/fidelity_scaling.sh            # record the data once, train (or resume)
#   SOMNIUM=path/to/somnium bash scripts/...    # another binary
#
# Runs at low priority (nice 19) so the machine stays usable.
set -euo pipefail
cd "$(dirname "$0")/.."
SOMNIUM=${SOMNIUM:-target/release/somnium}
RUN=${RUN:-runs/scale}
# 6 hours of the 2 cores at the recipe's quiet rate (docs/fidelity.md)
STEPS=${STEPS:-64000}

if [ ! -f data/bounce2500/manifest.json ]; then
  "$SOMNIUM" record --scenario bounce-v0 --episodes 2500 --max-steps 60 --policy random --seed 0 --out data/bounce2500
fi
if [ ! -f data/bounce-val/manifest.json ]; then
  "$SOMNIUM" record --scenario bounce-v0 --episodes 50 --seed 1000000 --out data/bounce-val
fi
RESUME=()
if [ -f "$RUN/ckpt/config.json" ]; then RESUME=(--resume); fi
exec nice -n 19 "$SOMNIUM" train --data data/bounce2500 --val-data data/bounce-val \
  --preset small --batch 8 --lr 1e-3 --warmup 200 --sampling-steps 1 \
  --self-rollout-steps 2 --self-rollout-start 12000 --self-rollout-sampling-steps 1 \
  --steps "$STEPS" --save-every 500 --keep-every 2500 --val-every 1000 --seed 0 \
  --out "$RUN" "${RESUME[@]}"
