#!/usr/bin/env bash
# Ensemble members that differ where it matters (issue 37), with the existing tools only.
#
# The paper's 7 classification members shared their learning-rate policy and differed "only in
# sampling methodologies and the random order" of the images; SPP-net found that fine-tunings of
# one pre-trained network do not ensemble, while networks pre-trained apart do ("mainly because
# of the convolutional layers"). So each member here is its own classifier pre-training, with
# its own seed (initial weights, image order, augmentation draws) and crop sampling, and its own
# detector fine-tuned from it; the third member also looks at more context around each region.
#
#   docs/ensemble_recipe.sh CLS_CONFIG CLS_DATA DET_CONFIG DET_DATA OUT [train_det.py args...]
#
# e.g. on the demo data (make demo first):
#   docs/ensemble_recipe.sh configs/demo_cls.yaml outputs/demo/data/cls \
#       configs/demo_det.yaml outputs/demo/data/det outputs/ensemble_demo
# then the members' table, the ensemble, the greedy subset and the bootstrap:
#   .venv/bin/python tools/eval_det.py --data outputs/demo/data/det --split val --members \
#       --ckpt outputs/ensemble_demo/det0/final.pth --ckpt outputs/ensemble_demo/det1/final.pth \
#       --ckpt outputs/ensemble_demo/det2/final.pth --out outputs/ensemble_demo/val.json
# Finished members are skipped and an interrupted one resumes (--resume), so running the script
# again continues where it stopped.
set -euo pipefail
if [ $# -lt 5 ]; then
    sed -n '2,22p' "$0"
    exit 2
fi
CLS_CONFIG=$1 CLS_DATA=$2 DET_CONFIG=$3 DET_DATA=$4 OUT=$5
shift 5
PY=${PYTHON:-.venv/bin/python}

# member k: classifier overrides | detector overrides
MEMBERS=(
    "seed=0 data.augment.area=[0.35,1.0] data.augment.aspect=[0.75,1.3333333]|seed=0"
    "seed=1 data.augment.area=[0.25,1.0] data.augment.aspect=[0.6,1.6666667]|seed=1"
    "seed=2 data.augment.area=[0.6,1.0] data.augment.aspect=[0.75,1.3333333] data.augment.random_interpolation=false|seed=2 head.context=8.0"
)

run() {  # run DIR CMD...: skip a finished run, resume an interrupted one
    local dir=$1
    shift
    if [ -f "$dir/final.pth" ]; then
        echo "$dir: done"
    elif [ -f "$dir/last.pth" ]; then
        "$@" --out "$dir" --resume
    else
        "$@" --out "$dir"
    fi
}

for k in "${!MEMBERS[@]}"; do
    IFS='|' read -r cls_opts det_opts <<<"${MEMBERS[$k]}"
    # shellcheck disable=SC2086  # the overrides are words
    run "$OUT/cls$k" "$PY" tools/train_cls.py --config "$CLS_CONFIG" --data "$CLS_DATA" --opts $cls_opts
    # shellcheck disable=SC2086
    run "$OUT/det$k" "$PY" tools/train_det.py --config "$DET_CONFIG" --data "$DET_DATA" \
        --init "$OUT/cls$k/final.pth" "$@" --opts $det_opts
done
