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
# part (the bundled AlexNet errors belong to ImageNet). Under each row, the
# 95% interval of the test set's sampling; under the table, LK against
# PAIRS_WITH by paired bootstrap. The baselines' tables go to out/benchmarks/
# (BENCH_OUT).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${LK_BIN:-$PWD/bin}:$PATH" # LK_BIN: the tools, if not make build's
. pipelines/data.sh
. pipelines/csv.sh
OUT=${BENCH_OUT:-out/benchmarks} # the baselines' tables
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
# The intervals: LEVEL percent (0: none), a percentile bootstrap over the
# images (sequences for -P) of the test set, 1000 resamples, seed 0; with
# SEEDS=all the interval of the mean over the seeds (lk-metrics --ci).
LEVEL=${LEVEL:-95}
CIF=""; [ "$LEVEL" != 0 ] && CIF="--ci $LEVEL --seed 0"
# The paired comparisons printed under the table: LK against each model of
# PAIRS_WITH (default: the small-kernel lk3, the resnet and the ViT).
LK=${LK:-lk31}
PAIRS_WITH=${PAIRS_WITH:-"lk3 resnet vit"}
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
# scores SET MODEL... [FLAGS]: lk-metrics --format csv of the models' files
# of SET, for one model or (with --compare) two; each benchmark's measure
scores() {
  local set=$1 ms=$2 m fl by="--by model"; shift 2
  local in=() pos=()
  [ $# -gt 0 ] && by="" # --compare model=...: the model column is compared, not grouped
  for m in $ms; do
    mapfile -t -O "${#in[@]}" in < <(files "$set" "$m")
    [ "$set" = o-neg ] && mapfile -t -O "${#pos[@]}" pos < <(files o-pos "$m")
  done
  case $set in
    clean|a) fl="" ;;
    r) fl="-q" ;; # the four renditions pooled on purpose
    9) fl="--by variant" ;;
    c) fl="--measure ce $by --baseline $OUT/c-base.arrow" ;;
    p) fl="--measure fp $by --baseline $OUT/p-base.arrow" ;;
    o-neg) fl="--measure ood $by --positive $(IFS=,; echo "${pos[*]}")" ;;
  esac
  lk-metrics $fl $OVER $CIF "$@" --format csv "${in[@]}" 2>/dev/null
}
# the table's columns: name, set, metric, condition
COLS="clean:clean:top1: A:a:top1: R:r:top1: 9-orig:9:top1:variant=original 9-same:9:top1:variant=mixed_same 9-rand:9:top1:variant=mixed_rand 9-gap:9:bg_gap:variant=mixed_same-mixed_rand mCE:c:ce:corruption=mCE mFR:p:fr:perturbation=mFR mT5D:p:t5d_ratio:perturbation=mT5D O-AUPR:o-neg:aupr:"
# num X: X with one decimal, none from 100 up (an interval's bound)
num() { awk -v x="$1" 'BEGIN { printf((x >= 100 || x <= -100) ? "%.0f" : "%.1f", x) }'; }
# iv CSV METRIC [CONDITION]: "[lo,hi]", the metric's interval
iv() {
  [ -n "$CIF" ] || return 0
  local v; v=$(echo "$1" | csv_get "$2_lo,$2_hi" ${3:-} 2>/dev/null) || true
  [ -n "$v" ] && echo "[$(num "${v%,*}"),$(num "${v#*,}")]"
  true
}
echo "The six benchmarks on the Fashion-MNIST twins (classes 0-7; 32 px). Accuracies (top-1) and AUPR in percent;"
echo "mCE, mFR and mT5D in percent of $base."
echo "  clean: 8000 test images; A: the $nA the resnet gets wrong with softmax >= 0.5 ($filt);"
echo "  R: $NR images x 4 renditions; 9: $NR objects on their own / same-class / random-class backgrounds, gap = same - rand;"
echo "  C: $NC images x 19 corruptions x 5 severities; P: $NP sequences x 10 perturbations; O: classes 8-9 vs 2000 test images (AUPR chance 50)"
[ -n "$DIRS" ] && echo "  Each cell: mean ± sample standard deviation over the seeds in $DIRS (the baseline and the -A twin: $MODEL_DIR's resnet)."
[ -n "$CIF" ] && echo "  Under each row, the ${LEVEL}% interval of the test set's sampling${DIRS:+ (of the mean over the seeds)}: a percentile bootstrap over the images (the sequences for mFR and mT5D; for mCE each image in or out under all 95 conditions at once; the baseline's errors held fixed), 1000 resamples, seed 0."
echo
W=11; [ -n "$DIRS" ] && W=12
line() { printf "%-7s" "$1"; shift; printf " %${W}s" "$@"; echo; }
line model $(for c in $COLS; do echo "${c%%:*}"; done)
declare -A CSV SPREAD
undefined=""
for m in $ZOO; do
  for set in clean a r 9 c p o-neg; do CSV[$m,$set]=$(scores $set $m); done
  vals=() ivs=()
  for c in $COLS; do
    IFS=: read -r name set metric cond <<< "$c"
    v=$(cell "${CSV[$m,$set]}" "$metric" $cond)
    [ -n "$v" ] || undefined=1
    vals+=("${v:--}")
    ivs+=("$(iv "${CSV[$m,$set]}" "$metric" $cond)")
    [ -n "$DIRS" ] && SPREAD[$m,$name]=$(echo "${CSV[$m,$set]}" | csv_get "${metric}_min,${metric}_max" $cond 2>/dev/null || true)
  done
  line "$m" "${vals[@]}"
  [ -n "$CIF" ] && line "" "${ivs[@]}"
done
if [ -n "$undefined" ]; then
  echo
  echo "(-: undefined: e.g. the baseline never flipped on a perturbation, so its FR would divide by 0; lk-metrics --measure fp says which)"
fi
# the paired comparisons: LK minus each other model on the rows both have,
# the difference (of the means over the seeds) with its paired bootstrap
# interval; * where the interval excludes 0 (beyond the test set's noise),
# s where the two models' ranges over the seeds do not overlap
pairs=""; for o in $PAIRS_WITH; do [ "$o" != "$LK" ] && [[ " $ZOO " == *" $o "* ]] && [[ " $ZOO " == *" $LK "* ]] && pairs="$pairs $o"; done
if [ -n "$CIF" ] && [ -n "$pairs" ]; then
  echo
  echo "$LK against the others: the difference ($LK minus the other${DIRS:+, of the means over the seeds}) on the images both saw, its ${LEVEL}% paired bootstrap interval,"
  echo "and * where that excludes 0: a difference beyond the test set's sampling noise${DIRS:+; s where the two models' min-max ranges over the seeds do not overlap (beyond the seeds' spread)}."
  echo
  { printf "%-8s" ""; for o in $pairs; do printf " %-24s" "$LK - $o"; done; echo
  declare -A DIFF
  for o in $pairs; do
    for set in clean a r 9 c p o-neg; do DIFF[$o,$set]=$(scores $set "$LK $o" --compare "model=$LK,$o"); done
  done
  for c in $COLS; do
    IFS=: read -r name set metric cond <<< "$c"
    [ "$set" = o-neg ] && cond="" # the model column is compared away
    printf "%-8s" "$name"
    for o in $pairs; do
      d=$(echo "${DIFF[$o,$set]}" | csv_get "$metric.diff" $cond 2>/dev/null || true)
      lh=$(echo "${DIFF[$o,$set]}" | csv_get "$metric.diff_lo,$metric.diff_hi" $cond 2>/dev/null || true)
      if [ -z "$d" ] || [ -z "$lh" ]; then printf " %-24s" "-"; continue; fi
      mark=$(awk -v v="$lh" 'BEGIN { split(v, a, ","); if (a[1] > 0 || a[2] < 0) printf "*" }')
      if [ -n "$DIRS" ]; then
        mark=$mark$(awk -v a="${SPREAD[$LK,$name]}" -v b="${SPREAD[$o,$name]}" 'BEGIN { if (split(a, x, ",") == 2 && split(b, y, ",") == 2 && (x[2] + 0 < y[1] + 0 || x[1] + 0 > y[2] + 0)) printf "s" }')
      fi
      printf " %-24s" "$(awk -v d="$d" 'BEGIN { printf "%+.2f", d }') [$(num "${lh%,*}"),$(num "${lh#*,}")] $mark"
    done
    echo
  done; } | sed 's/ *$//'
fi
[ -n "$DIRS" ] || echo "
One seed of each model (testdata/zoo/). The table over the three trained seeds, each cell mean ± sd: SEEDS=all make demo (about 12 minutes on two cores)."
