#!/usr/bin/env bash
# GPU benchmarks (issue 12, item 5): lk on an NVIDIA GPU through ONNX
# Runtime's CUDA provider, against bare ONNX Runtime and PyTorch on the same
# GPU, and the CPU side that feeds it. For a machine with CUDA 13 and cuDNN 9
# in its Python environment (the nvidia-* wheels), PyTorch and torchvision,
# and no network: everything lk needs travels from here.
#
# The CUDA provider alone is 230 MB, more than one call to such a machine
# carries beside the checkout, so the payload (ONNX Runtime 1.29's core and
# CUDA provider, lk's tools and Go benchmark, libturbojpeg) goes as an xz
# tarball cut into parts, one part per call, gathered on the machine while it
# stays up; the last call runs the measurements.
#
#   here:   pipelines/bench/gpu.sh pack        # .gpu/pNN/part (git-ignored); prints the calls to make
#   there:  pipelines/bench/gpu.sh receive     # each call, carrying one .gpu/pNN
#   there:  pipelines/bench/gpu.sh run         # the last call, after its receive; results in $OUT/gpu.md
#           (pipelines/bench/gpu.sh unpack checks and unpacks the payload alone)
#   here:   pipelines/bench/gpu.sh rehearse    # run on this machine's CPU, small, to check the script
#
# Environment: WORK (where the machine keeps the payload, default
# /root/lk-gpu), N (images per stream, default 2048), BATCHES (default
# "64 256"), MODELS (default "resnet50 convnext_tiny vit_b_16 replknet31b"),
# ATTACK_MODELS (default "resnet50 vit_b_16"), ATTACK_BATCH (default 64), PROVIDER (default cuda), OUT
# (results, default $WORK/out; on the device machine give OUT=$OUT).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PART_BYTES=$((24 * 1024 * 1024)) # a part plus the checkout (about 37 MiB) stays under a call's 64 MiB
PY=${PY:-python3}

pack() {
  make -s deps-gpu
  local stage
  stage=$(mktemp -d)
  trap 'rm -rf "$stage"' RETURN
  mkdir -p "$stage/lk/bin" "$stage/lk/lib" "$stage/lk/ort"
  go build -trimpath -ldflags='-s -w' -o "$stage/lk/bin/" ./tools/lk-data ./tools/lk-corrupt ./tools/lk-infer ./tools/lk-attack
  go test -c -trimpath -ldflags='-s -w' -o "$stage/lk/bin/infer.test" ./lib/infer/
  cp -L "$(ldconfig -p | awk '/libturbojpeg.so.0 / { print $NF; exit }')" "$stage/lk/lib/"
  cp .deps/onnxruntime-gpu-1.29.0/* "$stage/lk/ort/"
  rm -rf .gpu && mkdir -p .gpu
  tar -C "$stage" -cf - lk | xz -T0 -6 > "$stage/payload.tar.xz"
  sha256sum < "$stage/payload.tar.xz" | cut -d' ' -f1 > .gpu/payload.sha256
  split -b $PART_BYTES -d -a 2 "$stage/payload.tar.xz" "$stage/part."
  local n=0
  for f in "$stage"/part.*; do
    n=$((n + 1))
    mkdir -p ".gpu/p${f##*.}"
    mv "$f" ".gpu/p${f##*.}/part"
  done
  cp .gpu/payload.sha256 ".gpu/p$(printf %02d $((n - 1)))/"
  echo "payload: $(du -sh "$stage/payload.tar.xz" | cut -f1) in $n parts under .gpu/"
  echo "calls (device run, carry one part each, back to back so the machine stays up):"
  for d in .gpu/p[0-9]*; do
    if [ "$d" = "$(ls -d .gpu/p[0-9]* | tail -1)" ]; then
      echo "  carry [\"$d\"]: bash pipelines/bench/gpu.sh receive && bash pipelines/bench/gpu.sh run"
    else
      echo "  carry [\"$d\"]: bash pipelines/bench/gpu.sh receive"
    fi
  done
}

receive() {
  WORK=${WORK:-/root/lk-gpu}
  mkdir -p "$WORK/parts"
  for d in .gpu/p[0-9]*; do
    [ -f "$d/part" ] || continue
    cp "$d/part" "$WORK/parts/${d##*/}"
    [ -f "$d/payload.sha256" ] && cp "$d/payload.sha256" "$WORK/parts/"
    echo "received ${d##*/}: $(ls "$WORK/parts" | grep -c '^p[0-9]') parts so far"
  done
}

# unpack checks and unpacks the gathered payload into $WORK/lk.
unpack() {
  [ -d "$WORK/lk" ] && return
  [ -f "$WORK/parts/payload.sha256" ] || { echo "the last part (with payload.sha256) has not arrived"; exit 1; }
  local got
  got=$(cat "$WORK"/parts/p[0-9]* | sha256sum | cut -d' ' -f1)
  if [ "$got" != "$(cat "$WORK/parts/payload.sha256")" ]; then
    echo "payload sha256 $got, want $(cat "$WORK/parts/payload.sha256"): a part is missing or damaged ($(ls "$WORK/parts" | tr '\n' ' '))"
    exit 1
  fi
  cat "$WORK"/parts/p[0-9]* | $PY -c 'import lzma, sys, tarfile; tarfile.open(fileobj=lzma.open(sys.stdin.buffer), mode="r|").extractall(sys.argv[1])' "$WORK"
}

# cuda_env puts the CUDA and cuDNN libraries of the Python environment's
# nvidia-* packages on LD_LIBRARY_PATH.
cuda_env() {
  local dirs
  dirs=$($PY -c 'import glob, os, nvidia; print(":".join(sorted(d for p in nvidia.__path__ for d in glob.glob(os.path.join(p, "*", "lib")))))' 2>/dev/null || true)
  export LD_LIBRARY_PATH="$WORK/lk/lib:${dirs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
}

# timed FILE CMD...: runs CMD with its stdout to FILE and prints its seconds.
timed() {
  local out=$1 t0 t1
  shift
  t0=$(date +%s.%N)
  "$@" > "$out"
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}
say() { echo "$*" | tee -a "$OUT/gpu.md"; }

# marginal images/s of a command reading a stream: its time on the long
# stream less its time on the short one, so that start-up (loading the
# library, cuDNN's algorithm search) does not count.
marginal() {
  local short=$1 long=$2 ns=$3 nl=$4
  shift 4
  local ts tl
  ts=$(timed /dev/null "$@" < "$short")
  tl=$(timed /dev/null "$@" < "$long")
  awk -v a="$ts" -v b="$tl" -v ns="$ns" -v nl="$nl" 'BEGIN { printf "%.1f", (nl - ns) / (b - a) }'
}

measure() {
  local bin=$1
  export PATH="$bin:$PATH"
  mkdir -p "$OUT" "$WORK/data"
  : > "$OUT/gpu.md"
  say "# lk on the GPU, $(date -u +%Y-%m-%dT%H:%MZ)"
  say ""
  say "Machine: $(nvidia-smi -L 2>/dev/null | head -1 || echo 'no GPU'); $(nproc) cores; ONNX Runtime at $LK_ORT_LIB; provider $PROVIDER; PyTorch $($PY -c 'import torch; print(torch.__version__)')"
  say ""
  local n=$N ns=$((N / 4))
  [ -f "$WORK/data/photos/0000.jpg" ] || $PY pipelines/bench/make_jpegs.py "$WORK/data" "$n" > /dev/null
  ls "$WORK/data/photos" | awk '{ print $1, 0 }' > "$WORK/data/labels.txt"
  local t
  t=$(timed "$WORK/data/long.arrow" lk-data -q --resize 256 --crop 224 --labels "$WORK/data/labels.txt" "$WORK/data/photos")
  say "lk-data, decode + resize 256 + crop 224 of $n 500x375 JPEGs on $(nproc) cores: $(awk -v n="$n" -v t="$t" 'BEGIN { printf "%.0f", n / t }') images/s"
  lk-data -q --resize 256 --crop 224 --limit "$ns" --labels "$WORK/data/labels.txt" "$WORK/data/photos" > "$WORK/data/short.arrow"
  t=$(timed /dev/null lk-corrupt -q --corruptions all --severities 3 < "$WORK/data/short.arrow")
  say "lk-corrupt, all 19 corruptions at severity 3 on $ns images at 224 px, $(nproc) cores: $(awk -v n="$((ns * 19))" -v t="$t" 'BEGIN { printf "%.0f", n / t }') corrupted images/s"
  say ""
  $PY pipelines/bench/gpu_models.py "$WORK/models" $MODELS > "$OUT/models.log" 2>&1
  say "| model | batch | lk-infer images/s | bare ONNX Runtime images/s | ratio | PyTorch images/s |"
  say "|---|---|---|---|---|---|"
  for m in $MODELS; do
    for b in $BATCHES; do
      local lk bare torch
      lk=$(marginal "$WORK/data/short.arrow" "$WORK/data/long.arrow" "$ns" "$n" lk-infer -q --provider "$PROVIDER" --batch "$b" --model "$WORK/models/$m.onnx")
      bare=$(cd lib/infer && LK_BENCH_MODELS="$WORK/models/$m.onnx" LK_BENCH_BATCH=$b LK_BENCH_PROVIDER=$PROVIDER LK_BENCH_THREADS=$(nproc) \
        "$bin/infer.test" -test.run '^$' -test.bench 'BareORT' -test.benchtime "$((n / b))x" | awk '/images\/s/ { for (i = 1; i < NF; i++) if ($(i + 1) == "images/s") print $i }')
      torch=-
      [ "$m" != replknet31b ] && torch=$($PY pipelines/bench/gpu_torch.py "$m" --batch "$b" --images "$n" --what infer --device "$TORCH_DEVICE" 2>/dev/null || echo -)
      say "| $m | $b | $lk | $bare | $(awk -v a="$lk" -v b="$bare" 'BEGIN { printf "%.2f", a / b }') | $torch |"
    done
  done
  say ""
  local na=$((ns / 2))
  [ "$na" -ge "$ATTACK_BATCH" ] || na=$ATTACK_BATCH
  lk-data -q --resize 256 --crop 224 --limit "$na" --labels "$WORK/data/labels.txt" "$WORK/data/photos" > "$WORK/data/atk-short.arrow"
  lk-data -q --resize 256 --crop 224 --limit "$((na * 3))" --labels "$WORK/data/labels.txt" "$WORK/data/photos" > "$WORK/data/atk-long.arrow"
  say "| model | lk-attack PGD-10 images/s (batch $ATTACK_BATCH) | PyTorch autograd PGD-10 images/s | ratio |"
  say "|---|---|---|---|"
  for m in $ATTACK_MODELS; do
    local lk torch
    lk=$(marginal "$WORK/data/atk-short.arrow" "$WORK/data/atk-long.arrow" "$na" "$((na * 3))" \
      lk-attack -q --provider "$PROVIDER" --batch "$ATTACK_BATCH" --attack pgd --steps 10 --eps 0.03 --model "$WORK/models/$m.onnx")
    torch=$($PY pipelines/bench/gpu_torch.py "$m" --batch "$ATTACK_BATCH" --images "$((na * 2))" --what pgd --steps 10 --device "$TORCH_DEVICE" 2>/dev/null || echo -)
    say "| $m | $lk | $torch | $(awk -v a="$lk" -v b="$torch" 'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else print "-" }') |"
  done
}

case "${1:-}" in
pack) pack ;;
receive) receive ;;
unpack)
  WORK=${WORK:-/root/lk-gpu}
  unpack
  ls -l "$WORK/lk"/*
  ;;
run)
  WORK=${WORK:-/root/lk-gpu}
  unpack
  cuda_env
  export LK_ORT_LIB=$WORK/lk/ort/libonnxruntime.so.1
  OUT=${OUT:-$WORK/out} N=${N:-2048} BATCHES=${BATCHES:-"64 256"} PROVIDER=${PROVIDER:-cuda} TORCH_DEVICE=cuda
  MODELS=${MODELS:-"resnet50 convnext_tiny vit_b_16 replknet31b"} ATTACK_MODELS=${ATTACK_MODELS:-"resnet50 vit_b_16"} ATTACK_BATCH=${ATTACK_BATCH:-64}
  measure "$WORK/lk/bin"
  ;;
rehearse)
  # the same measurements on this machine's CPU, small: checks the script,
  # not the GPU (models: the bundled zoo's are 32 px, so torchvision's are
  # exported here as there)
  make -s build deps-gpu
  go test -c -o bin/infer.test ./lib/infer/
  export LK_ORT_LIB=$ROOT/.deps/onnxruntime-gpu-1.29.0/libonnxruntime.so.1
  WORK=${WORK:-$ROOT/out/gpu-rehearsal} OUT=${OUT:-$ROOT/out/gpu-rehearsal/out} N=${N:-64} BATCHES=${BATCHES:-8} PROVIDER=cpu TORCH_DEVICE=cpu
  MODELS=${MODELS:-resnet50} ATTACK_MODELS=${ATTACK_MODELS:-resnet50} ATTACK_BATCH=${ATTACK_BATCH:-4} PY=/usr/bin/python3
  measure "$ROOT/bin"
  ;;
*)
  sed -n '2,23p' "$0"
  exit 2
  ;;
esac
