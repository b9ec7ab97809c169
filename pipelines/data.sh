# Sourced by pipelines/benchmarks.sh and pipelines/reproduce.sh: the image
# streams every experiment reads, built once per recipe into $DATA (default
# out/data). Each comes from the real dataset when its variable names a
# path, else from the embedded Fashion-MNIST twin built by the tools:
#
#   set    variable      real layout (lk-data reads it)            twin
#   clean  IMAGENET_VAL  val/WNID/*.JPEG                           test images, classes 0-7
#   a      IMAGENET_A    imagenet-a/WNID/*.jpg                     what the zoo resnet gets wrong, softmax >= 0.5 (lk-select)
#   r      IMAGENET_R    imagenet-r/WNID/*.jpg                     renditions (lk-render)
#   9      IMAGENET_9    bg_challenge/{original,mixed_same,mixed_rand}/val/NN_class/*
#                                                                  backgrounds swapped (lk-render)
#   c      IMAGENET_C    CORRUPTION/SEVERITY/WNID/*.JPEG           19 corruptions x 5 severities (lk-corrupt)
#   p      IMAGENET_P    PERTURBATION/WNID/*.mp4                   10 perturbation sequences (lk-corrupt)
#   o-pos  IMAGENET_O    imagenet-o/WNID/*.JPEG                    held-out classes 8 and 9
#   o-neg  IMAGENET_VAL  val images of -O's 200 classes              test images, classes 0-7 (2000)
#   small  IMAGENET_VAL  NSMALL val images, shuffled with seed 0     the first NSMALL test images, classes 0-7
#                        (the analyses: occlusion, attacks, noise, lesions, feature variance)
#
# PREP is lk-data's preprocessing for real data (default --resize 256
# --crop 224); N* bound the number of images (or sequences) taken.
DATA=${DATA:-out/data}
FM=testdata/fashion-mnist/t10k-images-idx3-ubyte.gz
PREP=${PREP:---resize 256 --crop 224}
NC=${NC:-300}    # images of the -C twin
NP=${NP:-60}     # sequences per perturbation of the -P twin
NR=${NR:-2000}   # images of the -R and -9 twins
NVAL=${NVAL:-0}  # real val images (0: all)
NSMALL=${NSMALL:-500}
TWIN="--gray3 --crop 32"

# real SET: whether SET comes from a real dataset
real() {
  case $1 in
    clean|o-neg|small) [ -n "${IMAGENET_VAL:-}" ] ;;
    a) [ -n "${IMAGENET_A:-}" ] ;; r) [ -n "${IMAGENET_R:-}" ] ;; 9) [ -n "${IMAGENET_9:-}" ] ;;
    c) [ -n "${IMAGENET_C:-}" ] ;; p) [ -n "${IMAGENET_P:-}" ] ;; o-pos) [ -n "${IMAGENET_O:-}" ] ;;
  esac
}

# RECIPE: the variables that decide what the image streams hold; recipe
# prints them as NAME=value lines. datakey and reproduce's one-configuration
# check both key on this one list.
RECIPE="IMAGENET_VAL IMAGENET_A IMAGENET_R IMAGENET_9 IMAGENET_C IMAGENET_P IMAGENET_O PREP NC NP NR NVAL NSMALL TWIN FM"
recipe() { local v; for v in $RECIPE; do echo "$v=${!v:-}"; done; }

# datakey SET: a short key of what SET's stream is made from (the recipe;
# for the -A twin the zoo resnet's file too), so that a stream cached for
# one recipe is never read for another: setting IMAGENET_C after a run on
# the twins, or changing NC, builds anew.
datakey() {
  { echo "$1"; recipe
    [ "$1" = a ] && ! real a && stat -L -c '%s %Y' testdata/zoo/resnet.onnx
    true; } | sha1sum | cut -c1-10
}

# data SET: the path of SET's image stream, built if missing.
data() {
  local f; f="$DATA/$1-$(datakey "$1").arrow"
  if [ ! -s "$f" ]; then
    mkdir -p "$DATA"
    local lim=""; [ "$NVAL" -gt 0 ] && lim="--limit $NVAL --shuffle --seed 0"
    case $1 in
      clean) if real clean; then lk-data -q $PREP $lim "$IMAGENET_VAL"; else lk-data -q $TWIN --keep-labels 0-7 $FM; fi ;;
      a) if real a; then lk-data -q $PREP "$IMAGENET_A"
         else lk-infer -q --model testdata/zoo/resnet.onnx < "$(data clean)" | lk-select -q --misclassified --min-confidence 0.5; fi ;;
      r) if real r; then lk-data -q $PREP "$IMAGENET_R"
         else lk-data -q $TWIN --keep-labels 0-7 --limit "$NR" $FM | lk-render -q --renditions all; fi ;;
      9) if real 9; then lk-data -q $PREP "$IMAGENET_9"
         else lk-data -q $TWIN --keep-labels 0-7 --limit "$NR" $FM | lk-render -q --backgrounds original,mixed_same,mixed_rand --seed 1; fi ;;
      c) if real c; then lk-data -q $PREP "$IMAGENET_C"
         else lk-data -q $TWIN --keep-labels 0-7 --limit "$NC" $FM | lk-corrupt -q --corruptions all --seed 1; fi ;;
      p) if real p; then lk-data -q "$IMAGENET_P"
         else lk-data -q $TWIN --keep-labels 0-7 --limit "$NP" $FM \
           | lk-corrupt -q --perturbations gaussian_noise,shot_noise,motion_blur,zoom_blur,snow,brightness,translate,rotate,tilt,scale --seed 1; fi ;;
      o-pos) if real o-pos; then lk-data -q $PREP "$IMAGENET_O"; else lk-data -q $TWIN --keep-labels 8-9 $FM; fi ;;
      o-neg) if real o-neg; then lk-data -q $PREP --keep-labels imagenet-o "$IMAGENET_VAL"; else lk-data -q $TWIN --keep-labels 0-7 --limit 2000 $FM; fi ;;
      small) if real small; then lk-data -q $PREP --shuffle --seed 0 --limit "$NSMALL" "$IMAGENET_VAL"
         else lk-data -q $TWIN --keep-labels 0-7 --limit "$NSMALL" $FM; fi ;;
      *) echo "data: unknown set $1" >&2; return 1 ;;
    esac > "$f.part" || { echo "data: building the $1 set failed" >&2; rm -f "$f.part"; return 1; }
    mv "$f.part" "$f"
  fi
  echo "$f"
}

# model NAME: the ONNX file of a model name (MODEL_DIR, default the zoo).
MODEL_DIR=${MODEL_DIR:-testdata/zoo}
model() { echo "$MODEL_DIR/$1.onnx"; }

# modelkey NAME: a short key of the model file and its sidecar (path, size,
# modification time), so that predictions cached for one model file are
# never reused for another of the same name (another MODEL_DIR, a seed, a
# retrained zoo): a change only costs a rerun.
modelkey() {
  local m; m=$(model "$1")
  [ -e "$m" ] || { echo "model $1: no file $m" >&2; return 1; }
  { realpath "$m"; stat -L -c '%s %Y' "$m" "${m%.onnx}.json" 2>/dev/null || true; } | sha1sum | cut -c1-10
}

# seed_dirs MODELS...: the seed folders of SEED_DIR (train.py's s0, s1,
# ...) that hold every one of MODELS, space-separated; none is an error
# (a folder whose training has not finished is left out).
SEED_DIR=${SEED_DIR:-testdata/zoo/seeds}
seed_dirs() {
  local d m ok out=""
  for d in "$SEED_DIR"/s*/; do
    ok=y; for m in "$@"; do [ -e "$d$m.onnx" ] || ok=""; done
    [ -n "$ok" ] && out="$out ${d%/}"
  done
  [ -n "$out" ] || { echo "SEEDS=all: no folder in $SEED_DIR has all of $*" >&2; return 1; }
  echo "${out# }"
}

# preds SET MODEL: the path of MODEL's predictions on SET, run if missing
# (keyed by the model file and by SET's recipe).
preds() {
  local key; key=$(modelkey "$2") || return 1
  key=$key-$(datakey "$1")
  local f="$DATA/preds/$1-$2-$key.arrow"
  if [ ! -s "$f" ]; then
    mkdir -p "$DATA/preds"
    local in
    in=$(data "$1") || return 1
    lk-infer -q --model "$(model "$2")" < "$in" > "$f.part" || { echo "preds: $2 on the $1 set failed" >&2; rm -f "$f.part"; return 1; }
    mv "$f.part" "$f"
  fi
  echo "$f"
}
