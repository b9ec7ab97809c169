#!/usr/bin/env bash
# make benchmarks: three of the six robustness benchmarks on the embedded
# twins, built by the tools from the shipped Fashion-MNIST test split, for
# every zoo model: -C (all 19 corruptions x 5 severities), -P (the 10
# perturbation sequences of mFR/mT5D) and -O (held-out classes 8 and 9
# against in-distribution test images). CE, FR and T5D are normalised by
# the zoo's resnet, which plays AlexNet's part (the bundled AlexNet errors
# belong to ImageNet). Results go to out/benchmarks/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/bin:$PATH"
OUT=out/benchmarks
FM=testdata/fashion-mnist/t10k-images-idx3-ubyte.gz
ZOO="resnet lk3 lk7 lk13 lk31 vit"
NC=${NC:-300}   # images of the -C twin
NP=${NP:-60}    # sequences per perturbation of the -P twin
mkdir -p "$OUT"
lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit "$NC" $FM | lk-corrupt -q --corruptions all --seed 1 > "$OUT/c.arrow"
lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit "$NP" $FM \
  | lk-corrupt -q --perturbations gaussian_noise,shot_noise,motion_blur,zoom_blur,snow,brightness,translate,rotate,tilt,scale --seed 1 > "$OUT/p.arrow"
lk-data -q --gray3 --crop 32 --keep-labels 8-9 $FM > "$OUT/o-pos.arrow"
lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 2000 $FM > "$OUT/o-neg.arrow"
for m in $ZOO; do
  lk-infer -q --model testdata/zoo/$m.onnx < "$OUT/c.arrow" > "$OUT/c-$m.arrow"
  lk-infer -q --model testdata/zoo/$m.onnx < "$OUT/p.arrow" > "$OUT/p-$m.arrow"
  lk-infer -q --model testdata/zoo/$m.onnx < "$OUT/o-pos.arrow" > "$OUT/o-pos-$m.arrow"
  lk-infer -q --model testdata/zoo/$m.onnx < "$OUT/o-neg.arrow" > "$OUT/o-neg-$m.arrow"
done
lk-metrics --measure ce --by model "$OUT/c-resnet.arrow" > "$OUT/c-base.arrow"
lk-metrics --measure fp --by model "$OUT/p-resnet.arrow" > "$OUT/p-base.arrow"
echo "Fashion-MNIST twins ($NC images x 19 corruptions x 5 severities; $NP sequences x 10 perturbations; classes 8-9 vs 2000 test images)"
echo "CE, FR and T5D in percent of the zoo resnet's (the AlexNet of this table); AUPR in percent (chance $(awk 'BEGIN { printf "%.1f", 100 * 2000 / 4000 }'))."
echo
printf "%-7s %8s %8s %8s %8s %8s\n" model mCE mFR mT5D AUPR AUROC
for m in $ZOO; do
  mce=$(lk-metrics --measure ce --by model --baseline "$OUT/c-base.arrow" --format csv "$OUT/c-$m.arrow" | awk -F, '$2 == "mCE" { print $NF }')
  fp=$(lk-metrics --measure fp --by model --baseline "$OUT/p-base.arrow" --format csv "$OUT/p-$m.arrow" 2>/dev/null)
  mfr=$(echo "$fp" | awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i } $2 == "mFR" { print $c["fr"] }')
  mt5=$(echo "$fp" | awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i } $2 == "mT5D" { print $c["t5d_ratio"] }')
  ood=$(lk-metrics --measure ood --by model --positive "$OUT/o-pos-$m.arrow" --format csv "$OUT/o-neg-$m.arrow" | tail -1)
  aupr=$(echo "$ood" | cut -d, -f3); auroc=$(echo "$ood" | cut -d, -f4)
  printf "%-7s %8s %8s %8s %8s %8s\n" "$m" "${mce:--}" "${mfr:--}" "${mt5:--}" "${aupr:--}" "${auroc:--}"
done
echo
echo "(-: undefined: e.g. the baseline never flipped on a perturbation, so its FR would divide by 0; lk-metrics --measure fp says which)"
