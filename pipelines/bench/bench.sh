#!/usr/bin/env bash
# make bench: the spine's side-by-side benchmarks, each a ratio measured in
# one run on this machine. Results go to out/bench/results.md; BENCH.md keeps
# the numbers that were recorded with the machine and the command.
#
#   1. lk-infer end to end (saved stream -> lk-infer -> /dev/null) vs bare
#      ONNX Runtime (Go benchmark, same session, pre-made tensors), batch 64
#   2. lk-infer vs PyTorch CPU eager, same architecture and thread count
#   3. lk-data decode+resize+crop vs Pillow on 200 real-size JPEGs, per core
#   4. lk-infer peak RSS on a 100,000-row stream vs a 1,000-row one
#   5. lk-featvar vs lk-infer on the kernel-31 zoo model
#   6. lk-attn-dist on a RepLKNet-31B-sized model (exported by make_arch.py)
#   7. lk-attack PGD-5 vs PyTorch autograd; one gradient pass vs one forward pass
#   8. every corruption's time per image at 224 and 32 pixels, vector and scalar builds, vs the Python libraries
#   9. the stream plumbing's throughput (BenchmarkPlumbing)
#  10. the CPU side a GPU needs: lk-data | lk-corrupt all 95 conditions vs a Python process pool
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=out/bench
THREADS=${THREADS:-2}
PY=/usr/bin/python3
mkdir -p "$OUT"
export PATH="$PWD/bin:$PATH"
res="$OUT/results.md"
: > "$res"
say() { echo "$*" | tee -a "$res"; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.1f", n / s }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# best KEPT NEW [hi]: the smaller of two timings (the larger with hi: a rate)
best() { awk -v a="$1" -v b="$2" -v hi="${3:-}" 'BEGIN { print (a == "" || (hi ? b > a : b < a)) ? b : a }'; }
secs() { local t0 t1; t0=$(date +%s.%N); "$@"; t1=$(date +%s.%N); awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'; }
# on N: section N runs (all of them unless SECTIONS lists some, as
# SECTIONS="8 10" make bench)
on() { [ -z "${SECTIONS:-}" ] || [[ " $SECTIONS " == *" $1 "* ]]; }
# the inputs the sections share, made once
need_idx() { [ -f "$OUT/big-images-idx3-ubyte" ] || $PY pipelines/bench/make_idx.py "$OUT" 100000; }
need_jpegs() { [ -d "$OUT/jpegs/photos" ] || $PY pipelines/bench/make_jpegs.py "$OUT/jpegs" 200; }

say "# make bench, $(date -u +%Y-%m-%dT%H:%MZ)"
say ""
say "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB; $(go version | cut -d' ' -f3); threads $THREADS"
say ""

if on 1 || on 2; then
  # 1 and 2: inference, on a stream long enough that process start-up
  # (loading the 35 MB library, creating the session: about 0.17 s) is a
  # small part of the run, as in real use.
  N=50000
  need_idx
  lk-data -q --gray3 --crop 32 --limit $N "$OUT/big-images-idx3-ubyte" > "$OUT/fm50k.arrow"
  go test -c -o "$OUT/infer.test" ./lib/infer/
  say "## 1-2. lk-infer vs bare ONNX Runtime and vs PyTorch eager ($N images, batch 64, $THREADS threads)"
  say ""
  say "| model | bare ORT img/s | lk-infer img/s | lk-infer / bare | PyTorch eager img/s | lk-infer / PyTorch |"
  say "|---|---|---|---|---|---|"
  for m in lk3 lk31; do
    # Timings on this machine drift by 10-20% over minutes, so the two are
    # interleaved, three times each, and the best of each is kept.
    lk-infer -q --batch 64 --threads "$THREADS" --model testdata/zoo/$m.onnx < "$OUT/fm50k.arrow" > /dev/null # warm the page cache
    best=0; bare=0
    for run in 1 2 3; do
      (cd lib/infer && LK_BENCH_THREADS=$THREADS ../../$OUT/infer.test -test.run '^$' -test.bench "BareORT/$m\$" -test.benchtime 300x) > "$OUT/bare.txt"
      b=$(awk '/images\/s/ { for (i = 1; i <= NF; i++) if ($i == "images/s") print $(i-1) }' "$OUT/bare.txt")
      bare=$(awk -v a="$bare" -v b="$b" 'BEGIN { print (b > a) ? b : a }')
      s=$(secs sh -c "lk-infer -q --batch 64 --threads $THREADS --model testdata/zoo/$m.onnx < $OUT/fm50k.arrow > /dev/null")
      r=$(rate $N "$s"); best=$(awk -v a="$best" -v b="$r" 'BEGIN { print (b > a) ? b : a }')
    done
    torch=$($PY pipelines/bench/torch_infer.py $m --threads "$THREADS" --images 2560)
    say "| $m | $bare | $best | $(ratio "$best" "$bare") | $torch | $(ratio "$best" "$torch") |"
  done
  say ""
fi

if on 3; then
  # 3: preprocessing
  need_jpegs
  # interleaved three times (Pillow, lk-data on one core, on all), the
  # fastest of each kept
  pil=""; s1=""; s2=""
  for i in 1 2 3; do
    pil=$(best "$pil" "$($PY pipelines/bench/pillow_preprocess.py "$OUT/jpegs")" hi)
    s1=$(best "$s1" "$(secs sh -c "lk-data -q --workers 1 --resize 256 --crop 224 $OUT/jpegs 2>/dev/null > /dev/null")")
    s2=$(best "$s2" "$(secs sh -c "lk-data -q --resize 256 --crop 224 $OUT/jpegs 2>/dev/null > /dev/null")")
  done
  say "## 3. Decode + Resize(256) + CenterCrop(224) + to float CHW, 200 JPEGs 500x375 (fastest of three interleaved runs)"
  say ""
  say "| | img/s | vs Pillow (1 core) |"
  say "|---|---|---|"
  say "| Pillow 1 process | $pil | 1.00 |"
  say "| lk-data --workers 1 | $(rate 200 "$s1") | $(ratio "$(rate 200 "$s1")" "$pil") |"
  say "| lk-data, all cores | $(rate 200 "$s2") | $(ratio "$(rate 200 "$s2")" "$pil") |"
  say ""
  say "(lk-data's times include process start and writing the Arrow stream to /dev/null.)"
  say ""
  # and decoding alone, of 224 px files as ImageNet-C's
  if [ ! -d "$OUT/jpegs224/c224" ]; then $PY pipelines/bench/make_jpegs.py --224 "$OUT/jpegs224" 1000; fi
  pil=$($PY pipelines/bench/pillow_preprocess.py --decode-only "$OUT/jpegs224")
  s1=$(secs sh -c "lk-data -q --workers 1 $OUT/jpegs224 2>/dev/null > /dev/null")
  say "## 3b. Decode + to float CHW, 1000 JPEGs of 224x224 (ImageNet-C's size)"
  say ""
  say "| | img/s | vs Pillow (1 core) |"
  say "|---|---|---|"
  say "| Pillow 1 process | $pil | 1.00 |"
  say "| lk-data --workers 1 | $(rate 1000 "$s1") | $(ratio "$(rate 1000 "$s1")" "$pil") |"
  say ""
fi

if on 4; then
  # 4: memory
  need_idx
  rss() { lk-data -q --gray3 --crop 32 --limit "$1" "$OUT/big-images-idx3-ubyte" | /usr/bin/time -f %M lk-infer -q --model testdata/zoo/lk3.onnx 2>&1 >/dev/null | tail -1; }
  r1=$(rss 1000); r2=$(rss 100000)
  say "## 4. lk-infer peak RSS (lk3)"
  say ""
  say "| rows | peak RSS KiB |"
  say "|---|---|"
  say "| 1,000 | $r1 |"
  say "| 100,000 | $r2 |"
  say ""
  say "Ratio 100k / 1k: $(ratio "$r2" "$r1")"
  say ""
fi

if on 5; then
  # 5: feature-map variance vs plain inference, same stream and threads
  N5=8000
  need_idx
  lk-data -q --gray3 --crop 32 --limit $N5 "$OUT/big-images-idx3-ubyte" > "$OUT/fm8k.arrow"
  inf=0; fv=0
  for run in 1 2 3; do
    a=$(secs sh -c "lk-infer -q --threads $THREADS --model testdata/zoo/lk31.onnx < $OUT/fm8k.arrow > /dev/null")
    b=$(secs sh -c "lk-featvar -q --threads $THREADS --model testdata/zoo/lk31.onnx < $OUT/fm8k.arrow > /dev/null")
    inf=$(awk -v a="$inf" -v b="$a" 'BEGIN { print (a == 0 || b < a) ? b : a }')
    fv=$(awk -v a="$fv" -v b="$b" 'BEGIN { print (a == 0 || b < a) ? b : a }')
  done
  say "## 5. lk-featvar vs lk-infer (lk31, $N5 images, $THREADS threads, best of 3 interleaved)"
  say ""
  say "| lk-infer s | lk-featvar s | lk-featvar / lk-infer |"
  say "|---|---|---|"
  say "| $inf | $fv | $(ratio "$fv" "$inf") |"
  say ""
fi

if on 6; then
  # 6: kernel attention distance on a model of RepLKNet-31B's size
  if [ ! -f "$OUT/replknet31b/replknet31b.onnx" ]; then $PY testdata/arch/make_arch.py --replknet31b "$OUT/replknet31b" > /dev/null 2>&1; fi
  cat "$OUT/replknet31b/replknet31b.onnx" > /dev/null # page cache
  best=0
  for run in 1 2 3; do
    s=$(secs sh -c "lk-attn-dist --model $OUT/replknet31b/replknet31b.onnx > /dev/null")
    best=$(awk -v a="$best" -v b="$s" 'BEGIN { print (a == 0 || b < a) ? b : a }')
  done
  sum=$(lk-summary --format csv "$OUT/replknet31b/replknet31b.onnx" | tail -1)
  say "## 6. lk-attn-dist on a RepLKNet-31B-sized model (random weights; lk-summary: $sum)"
  say ""
  say "Best of 3: $best s (target: under 5 s)"
  say ""
fi

if on 7; then
  # 7: PGD-5 through ONNX Runtime's gradients vs PyTorch autograd; gradient vs forward
  N7=1024
  need_idx
  lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit $N7 "$OUT/big-images-idx3-ubyte" --labels "$OUT/big-labels-idx1-ubyte" > "$OUT/fm1k.arrow"
  say "## 7. lk-attack PGD-5 vs PyTorch autograd ($N7 images, batches of 32, $THREADS threads, best of 3 interleaved)"
  say ""
  say "| model | PyTorch img/s | lk-attack img/s | lk / PyTorch | lk-infer --batch 32 s | lk-attack fgsm s | gradient / forward |"
  say "|---|---|---|---|---|---|---|"
  for m in lk3 lk31; do
    lk=0; pt=0; fw=0; fg=0
    for run in 1 2 3; do
      s=$(secs sh -c "lk-attack -q --threads $THREADS --model testdata/zoo/$m.onnx --attack pgd --eps 0.03 --steps 5 < $OUT/fm1k.arrow > /dev/null")
      r=$(rate $N7 "$s"); lk=$(awk -v a="$lk" -v b="$r" 'BEGIN { print (b > a) ? b : a }')
      r=$($PY pipelines/bench/torch_pgd.py $m --threads "$THREADS" --images $N7); pt=$(awk -v a="$pt" -v b="$r" 'BEGIN { print (b > a) ? b : a }')
      a=$(secs sh -c "lk-infer -q --batch 32 --threads $THREADS --model testdata/zoo/$m.onnx < $OUT/fm1k.arrow > /dev/null")
      b=$(secs sh -c "lk-attack -q --threads $THREADS --model testdata/zoo/$m.onnx --attack fgsm --eps 0.03 < $OUT/fm1k.arrow > /dev/null")
      fw=$(awk -v x="$fw" -v y="$a" 'BEGIN { print (x == 0 || y < x) ? y : x }')
      fg=$(awk -v x="$fg" -v y="$b" 'BEGIN { print (x == 0 || y < x) ? y : x }')
    done
    say "| $m | $pt | $lk | $(ratio "$lk" "$pt") | $fw | $fg | $(ratio "$fg" "$fw") |"
  done
  say ""
  say "(gradient / forward compares whole processes, start-up included: lk-attack builds and loads its gradient model first.)"
  say ""
fi

if on 8; then
  # 8: corruptions, milliseconds per image at 224 and 32 (severity 3), lk's
  # vector build (GOEXPERIMENT=simd, the default) and scalar build against the
  # Python reference libraries, interleaved three times (vector, scalar,
  # Python); the fastest run of each is kept, as the machine's timings drift
  : > "$OUT/corrupt_simd.txt"; : > "$OUT/corrupt_scalar.txt"; : > "$OUT/corrupt_py.txt"
  for i in 1 2 3; do
    for f in simd scalar py; do echo "run $i" >> "$OUT/corrupt_$f.txt"; done
    (cd lib/corrupt && GOEXPERIMENT=simd go test -run '^$' -bench Apply -benchtime 30x .) >> "$OUT/corrupt_simd.txt"
    (cd lib/corrupt && GOEXPERIMENT= go test -run '^$' -bench Apply -benchtime 30x .) >> "$OUT/corrupt_scalar.txt"
    $PY pipelines/bench/corrupt_py.py >> "$OUT/corrupt_py.txt"
  done
  say "## 8. Corruptions, milliseconds per image, severity 3, one core each (lk: Go benchmark, vector and scalar builds; reference: numpy/scipy/skimage/OpenCV/Pillow/ImageMagick); fastest of three interleaved runs"
  say ""
  say "| corruption | lk 224 | lk scalar 224 | reference 224 | reference / lk | reference / lk scalar | lk 32 | reference 32 |"
  say "|---|---|---|---|---|---|---|---|"
  awk 'function keep(a, k, v) { if (!(k in a) || v < a[k]) a[k] = v }
       FILENAME ~ /simd/ || FILENAME ~ /scalar/ {
         if ($1 ~ /^BenchmarkApply/) { split($1, p, "/"); sub(/-[0-9]+$/, "", p[3]); k = p[2] " " p[3]; names[p[2]] = 1
           if (FILENAME ~ /simd/) keep(vec, k, $3 / 1e6); else keep(sca, k, $3 / 1e6) }
         next }
       $1 != "run" { keep(py, $1 " " $2, $3 * 1000) }
       END { for (c in names) {
               r = (c " 224" in py); r224 = r ? sprintf("%.2f", py[c " 224"]) : "-"; r32 = (c " 32" in py) ? sprintf("%.3f", py[c " 32"]) : "-"
               x = r ? sprintf("%.1f", py[c " 224"] / vec[c " 224"]) : "-"; xs = r ? sprintf("%.1f", py[c " 224"] / sca[c " 224"]) : "-"
               printf "| %s | %.2f | %.2f | %s | %s | %s | %.3f | %s |\n", c, vec[c " 224"], sca[c " 224"], r224, x, xs, vec[c " 32"], r32 } }' \
    "$OUT/corrupt_simd.txt" "$OUT/corrupt_scalar.txt" "$OUT/corrupt_py.txt" | sort | tee "$OUT/corrupt_table.md" >> "$res"
  cat "$OUT/corrupt_table.md"
  median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
  say ""
  say "Median of the reference / lk ratios at 224 (target 5): $(awk -F'|' '$6 ~ /[0-9]/ { print $6 + 0 }' "$OUT/corrupt_table.md" | median) (scalar build: $(awk -F'|' '$7 ~ /[0-9]/ { print $7 + 0 }' "$OUT/corrupt_table.md" | median)); slower than the reference: $(awk -F'|' '$6 ~ /[0-9]/ && $6 + 0 < 1 { n++ } END { print n + 0 }' "$OUT/corrupt_table.md") of $(awk -F'|' '$6 ~ /[0-9]/ { n++ } END { print n + 0 }' "$OUT/corrupt_table.md") (scalar build: $(awk -F'|' '$7 ~ /[0-9]/ && $7 + 0 < 1 { n++ } END { print n + 0 }' "$OUT/corrupt_table.md"))"
  say ""
  # each run on its own: its reference / lk ratios at 224, vector build
  for i in 1 2 3; do
    awk -v run="$i" '$1 == "run" { r = $2; next } r != run { next }
         FILENAME ~ /simd/ && $1 ~ /^BenchmarkApply/ { split($1, p, "/"); sub(/-[0-9]+$/, "", p[3]); if (p[3] == 224) lk[p[2]] = $3 / 1e9; next }
         FILENAME ~ /py/ && $2 == 224 { py[$1] = $3 }
         END { for (c in lk) if (c in py) print py[c] / lk[c] }' "$OUT/corrupt_simd.txt" "$OUT/corrupt_py.txt" > "$OUT/corrupt_run$i.txt"
    say "Run $i alone: median $(median < "$OUT/corrupt_run$i.txt" | xargs printf %.2f), slower than the reference $(awk '$1 < 1 { n++ } END { print n + 0 }' "$OUT/corrupt_run$i.txt") of $(wc -l < "$OUT/corrupt_run$i.txt"), lowest $(sort -g "$OUT/corrupt_run$i.txt" | head -1 | xargs printf %.2f)"
  done
  say ""
fi

if on 9; then
  # 9: stream plumbing: 3x224x224 float32 records through a Transformer
  # between pipes (a producer and a consumer goroutine beside it), against
  # the ceiling of the same topology with plain byte copies and no Arrow,
  # interleaved three times
  : > "$OUT/plumbing.txt"
  for i in 1 2 3; do
    (cd lib/stream && go test -run '^$' -bench 'Plumbing|PipeCeiling' -benchtime 10x .) >> "$OUT/plumbing.txt"
  done
  p=$(awk '/^BenchmarkPlumbing/ { for (i = 1; i < NF; i++) if ($(i + 1) == "MB/s") print $i }' "$OUT/plumbing.txt" | sort -n | tail -1)
  c=$(awk '/^BenchmarkPipeCeiling/ { for (i = 1; i < NF; i++) if ($(i + 1) == "MB/s") print $i }' "$OUT/plumbing.txt" | sort -n | tail -1)
  say "## 9. Stream plumbing: $p MB/s of 3x224x224 float32 images through a tool's read-transform-write between pipes (target 2000); the same bytes copied between the same pipes with no Arrow: $c MB/s; ratio $(awk -v p="$p" -v c="$c" 'BEGIN { printf "%.2f", p / c }')"
fi

if on 10; then
  # 10: the CPU side a GPU would need: decode, Resize(256), CenterCrop(224)
  # and all 19 corruptions at 5 severities of 8 photos, on all cores, lk's
  # pipe against the reference in a process pool of the same size,
  # interleaved three times, the fastest of each kept
  need_jpegs
  mkdir -p "$OUT/pool8"
  for f in $(ls "$OUT"/jpegs/photos/*.jpg | head -8); do ln -sf "$PWD/$f" "$OUT/pool8/"; done
  lk_best=""; py_best=""; n_py=0
  for i in 1 2 3; do
    lk_best=$(best "$lk_best" "$(secs sh -c "lk-data -q --resize 256 --crop 224 $OUT/pool8 2>/dev/null | lk-corrupt -q --corruptions all --severities 1-5 > /dev/null")")
    read -r n_py t < <($PY pipelines/bench/corrupt_pool.py "$(nproc)" "$OUT"/pool8/*.jpg)
    py_best=$(best "$py_best" "$t")
  done
  say "## 10. The CPU side for a GPU: 8 photos decoded, resized, cropped and corrupted 95 ways (19 corruptions x 5 severities) on all $(nproc) cores"
  say ""
  say "| | corrupted images/s | vs the reference |"
  say "|---|---|---|"
  say "| reference: Pillow + the Python libraries, a pool of $(nproc) processes | $(rate "$n_py" "$py_best") | 1.00 |"
  say "| lk-data \| lk-corrupt | $(rate 760 "$lk_best") | $(ratio "$(rate 760 "$lk_best")" "$(rate "$n_py" "$py_best")") |"
  say ""
fi
