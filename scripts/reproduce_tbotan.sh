#!/usr/bin/env bash
# T-BOTAN at full scale: six temperatures (0.44, 0.47, 0.50, 0.56, 0.64, 0.80), train on four,
# predict the two held out (their mobility and temperature), for thermal (TS), inherent (IS) and
# combined (TS+IS) inputs.  The dataset is the botan preset over all six temperatures (about
# 272,000 core-hours, dominated by T=0.44; see scripts/reproduce_botan.sh, whose store this
# reuses when OUT is the same).  Training: 4 x 400 graphs per epoch at N=4096, GPU work.
#
#   SCHED=tcp://HOST:8786 OUT=/shared/botan GPUS=4 bash scripts/reproduce_tbotan.sh
set -euo pipefail
SCHED=${SCHED:?start a Dask cluster (scripts/dask_cluster.py) and export SCHED=tcp://HOST:PORT}
OUT=${OUT:-out/botan}
GPUS=${GPUS:-1}
EPOCHS=${EPOCHS:-1000}
TRAIN_T=${TRAIN_T:-"0.44,0.50,0.64,0.80"}   # held out: 0.47 and 0.56

glassdyn simulate --preset botan --out "$OUT/data.zarr" --scheduler "$SCHED" --seed 0

for INPUT in ts is ts+is; do
    run="$OUT/runs/tbotan_${INPUT/+/_}"
    args=(train --data "$OUT/data.zarr" --model tbotan --input "$INPUT" --times all
          --train-temperatures "$TRAIN_T" --epochs "$EPOCHS" --lr 1e-4 --out "$run")
    if [ "$GPUS" -gt 1 ]; then
        torchrun --standalone --nproc_per_node "$GPUS" -m glassdyn.cli "${args[@]}"
    else
        glassdyn "${args[@]}" --device cuda
    fi
    # held-out temperatures are evaluated on all their configurations; the latent heat map is
    # written to $run/latent_distances.png
    glassdyn evaluate "$run" --data "$OUT/data.zarr" --json > "$run/evaluation.json"
    glassdyn predict "$run" --data "$OUT/data.zarr" --out "$run.predictions.zarr" --overwrite
    glassdyn analyze "$OUT/data.zarr" --predictions "$run.predictions.zarr" --out "$run.analysis" --overwrite
done
