#!/usr/bin/env bash
# The fidelity issue's lever ablations at equal compute: each arm trained from
# scratch on the scaling run's data for the same step budget (the arms cost
# the same per step to within 1%, docs/fidelity.md), two training seeds each,
# then exported and scored by the benchmark (`somnium eval`, 50 held-out
# episodes, horizons 1-32). Re-running resumes where it stopped; the reports
# of scored arms are committed (git add -f runs/abl2/*/eval/report.json), so a
# fresh checkout skips them.
#
#   bash scripts/fidelity_ablations.sh [ARM:SEED ...]   # default: every arm below
#
# `base-k2:S` and `base-k3:S` are no training run: `base`'s seed-S model
# sampled with 2 or 3 Euler steps instead of 1 (the sampling lever).
# `span5-w8` (8 context frames, a 5-frame attention span, the rolling cache)
# costs about 1.8x the recipe per step: equal steps, not equal compute.
set -euo pipefail
cd "$(dirname "$0")/.."
SOMNIUM=${SOMNIUM:-target/release/somnium}
OUT=${OUT:-runs/abl2}
STEPS=${STEPS:-6750}
declare -A CONFIG=(
  [base]=""
  [aux-0.1-block3]="configs/aux-0.1-block3.json"
  [aux-0.1-block6]="configs/aux-0.1-block6.json"
  [aux-0.3-block3]="configs/aux-0.3-block3.json"
  [span5-w8]="configs/span5-w8.json"
)
ORDER=("$@")
if [ ${#ORDER[@]} -eq 0 ]; then
  ORDER=(base:0 aux-0.1-block3:0 base:1 aux-0.1-block3:1 aux-0.1-block6:0 aux-0.3-block3:0 aux-0.1-block6:1 aux-0.3-block3:1 span5-w8:0 span5-w8:1)
fi
for item in "${ORDER[@]}"; do
  arm=${item%%:*}; seed=${item##*:}
  run="$OUT/$arm-s$seed"
  # a scored arm is done (its report is kept in git between sessions)
  if [ -f "$run/eval/report.json" ]; then continue; fi
  if [[ $arm == base-k* ]]; then
    base="$OUT/base-s$seed"
    if [ ! -f "$base/model/config.json" ]; then echo "skip $item: $base not trained yet"; continue; fi
    mkdir -p "$run"
    if [ ! -f "$run/model/config.json" ]; then
      "$SOMNIUM" export --model "$base" --out "$run/model" --sampling-steps "${arm#base-k}"
    fi
  elif [ ! -f "$run/model/config.json" ]; then
    args=(--data data/bounce2500 --val-data data/bounce-val --preset small --batch 8 --lr 1e-3
          --warmup 200 --sampling-steps 1 --steps "$STEPS" --save-every 500 --val-every 1000
          --rollout-episodes 16 --seed "$seed" --out "$run")
    if [ -n "${CONFIG[$arm]}" ]; then args+=(--config "${CONFIG[$arm]}"); fi
    if [ -f "$run/ckpt/config.json" ]; then args+=(--resume); fi
    nice -n 19 "$SOMNIUM" train "${args[@]}"
    "$SOMNIUM" export --model "$run" --out "$run/model"
  fi
  if [ ! -f "$run/eval/report.json" ]; then
    nice -n 19 "$SOMNIUM" eval --model "$run/model" --scenario bounce-v0 --variant id \
      --episodes 50 --horizon 32 --out "$run/eval"
  fi
done
