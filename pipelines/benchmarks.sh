#!/usr/bin/env bash
# make benchmarks (and the second half of make demo): the six robustness
# benchmarks on their embedded twins, built by the tools from the shipped
# Fashion-MNIST test split, for every zoo model:
#   -A  test images the zoo resnet (the small-kernel model, as ResNet-50 for
#       ImageNet-A) gets wrong with softmax >= 0.5 (lk-select)
#   -R  renditions: edge drawings, silhouettes, inverted, posterised (lk-render)
#   -9  the object on the background of an image of the same class or of a
#       random class; BG-Gap = Mixed-Same - Mixed-Rand (lk-render)
#   -C  all 19 corruptions x 5 severities (lk-corrupt)
#   -P  the 10 perturbation sequences of mFR/mT5D (lk-corrupt --perturbations)
#   -O  held-out classes 8 and 9 against in-distribution test images
# CE, FR and T5D are normalised by the zoo's resnet, which plays AlexNet's
# part (the bundled AlexNet errors belong to ImageNet). Results go to
# out/benchmarks/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${LK_BIN:-$PWD/bin}:$PATH" # LK_BIN: the tools, if not make build's
. pipelines/data.sh
. pipelines/csv.sh
OUT=out/benchmarks
ZOO=${MODELS:-"resnet lk3 lk7 lk13 lk31 vit"}
BASE=${BASE:-resnet} # the model the normalised measures divide by
mkdir -p "$OUT"
# SEEDS=all: every model from each seed folder of SEED_DIR (train.py's
# s0, s1, ...; sidecars with a seed column), each cell the mean over the
# seeds with the sample standard deviation (lk-metrics --over seed); the -A
# twin and the normalising baseline stay the MODEL_DIR resnet's.
DIRS=""
[ "${SEEDS:-}" = all ] && DIRS=$(seed_dirs $ZOO)
OVER=${DIRS:+--over seed}
# files SET MODEL: MODEL's predictions on SET, one file per seed with SEEDS=all
files() {
  if [ -z "$DIRS" ]; then preds "$1" "$2"; return; fi
  local d; for d in $DIRS; do (MODEL_DIR=$d; preds "$1" "$2") || return 1; done
}
# cell CSV METRIC [CONDITION]: the metric, "mean±sd" over seeds
cell() {
  local v sd; v=$(echo "$1" | csv_get "$2" ${3:-})
  [ -z "$DIRS" ] || [ -z "$v" ] && { echo "$v"; return; }
  sd=$(echo "$1" | csv_get "$2_sd" ${3:-} 2>/dev/null || true)
  echo "$v${sd:+±$sd}"
}
for m in $ZOO; do
  for set in clean a r 9 c p o-pos o-neg; do files $set $m > /dev/null; done
done
# the baseline's errors (its own CE against AlexNet is not used: -q)
lk-metrics -q --measure ce --by model "$(preds c $BASE)" > "$OUT/c-base.arrow"
lk-metrics --measure fp --by model "$(preds p $BASE)" > "$OUT/p-base.arrow"
nA=$(lk-metrics --format csv "$(preds a resnet)" | csv_get n)
# the notes say what this table shows: with seeds, the resnet row is a
# mean over seeds, and only the MODEL_DIR resnet in it is the baseline
if [ -z "$DIRS" ]; then
  base="the $BASE's, which plays AlexNet's part (so its row reads 100)"
  filt="so its row reads 0 by construction"
else
  base="the $MODEL_DIR $BASE's, which plays AlexNet's part"
  filt="that resnet scores 0 by construction; the other seeds' resnets do not"
fi
echo "The six benchmarks on the Fashion-MNIST twins (classes 0-7; 32 px). Accuracies (top-1) and AUPR in percent;"
echo "mCE, mFR and mT5D in percent of $base."
echo "  clean: 8000 test images; A: the $nA the resnet gets wrong with softmax >= 0.5 ($filt);"
echo "  R: $NR images x 4 renditions; 9: $NR objects on their own / same-class / random-class backgrounds, gap = same - rand;"
echo "  C: $NC images x 19 corruptions x 5 severities; P: $NP sequences x 10 perturbations; O: classes 8-9 vs 2000 test images (AUPR chance 50)"
[ -n "$DIRS" ] && echo "  Each cell: mean ± sample standard deviation over the seeds in $DIRS (the baseline and the -A twin: $MODEL_DIR's resnet)."
echo
W=6; [ -n "$DIRS" ] && W=12
printf "%-7s %${W}s %${W}s %${W}s %${W}s %${W}s %${W}s %${W}s %${W}s %${W}s %${W}s %${W}s\n" model clean A R 9-orig 9-same 9-rand 9-gap mCE mFR mT5D O-AUPR
for m in $ZOO; do
  clean=$(cell "$(lk-metrics $OVER --format csv $(files clean $m))" top1)
  a=$(cell "$(lk-metrics $OVER --format csv $(files a $m))" top1)
  r=$(cell "$(lk-metrics -q $OVER --format csv $(files r $m))" top1) # -q: the four renditions pooled on purpose
  in9=$(lk-metrics --by variant $OVER --format csv $(files 9 $m))
  orig=$(cell "$in9" top1 variant=original)
  same=$(cell "$in9" top1 variant=mixed_same)
  rand=$(cell "$in9" top1 variant=mixed_rand)
  gap=$(cell "$in9" bg_gap variant=mixed_same-mixed_rand)
  mce=$(cell "$(lk-metrics --measure ce --by model $OVER --baseline "$OUT/c-base.arrow" --format csv $(files c $m))" ce corruption=mCE)
  fp=$(lk-metrics --measure fp --by model $OVER --baseline "$OUT/p-base.arrow" --format csv $(files p $m) 2>/dev/null)
  mfr=$(cell "$fp" fr perturbation=mFR)
  mt5=$(cell "$fp" t5d_ratio perturbation=mT5D)
  aupr=$(cell "$(lk-metrics --measure ood --by model $OVER --positive "$(files o-pos $m | paste -sd, -)" --format csv $(files o-neg $m))" aupr model=$m)
  if [ -z "$mce" ] || [ -z "$mfr" ] || [ -z "$mt5" ] || [ -z "$aupr" ]; then undefined=1; fi
  printf "%-7s %${W}s %${W}s %${W}s %${W}s %${W}s %${W}s %${W}s %${W}s %${W}s %${W}s %${W}s\n" "$m" "$clean" "$a" "$r" "$orig" "$same" "$rand" "$gap" "${mce:--}" "${mfr:--}" "${mt5:--}" "${aupr:--}"
done
if [ -n "${undefined:-}" ]; then
  echo
  echo "(-: undefined: e.g. the baseline never flipped on a perturbation, so its FR would divide by 0; lk-metrics --measure fp says which)"
fi
[ -n "$DIRS" ] || echo "
One seed of each model (testdata/zoo/). The table over the three trained seeds, each cell mean ± sd: SEEDS=all make demo (about 10 minutes on two cores)."
