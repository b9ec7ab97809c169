#!/usr/bin/env bash
# make reproduce (or make fig1 ... table7): every figure and table of the
# paper, made by lk's tools into $OUT (default out/reproduce), and a report
# (report.md) that shows each one with the commands that made it.
#
#   pipelines/reproduce.sh [TARGET ...]     (default: all targets, then the report)
#
# Parameters (environment): MODELS (model names in MODEL_DIR, default the
# zoo), the dataset paths of pipelines/data.sh (default: the embedded
# twins), SALIENCY (the ViT whose last attention ranks patches; default the
# zoo ViT, the paper's is DINO ViT-S/16), PATCH (occlusion patch side: 4
# for the 32-pixel zoo, 16 for 224-pixel images), NSMALL (images of the
# analyses), NATT and NTAIG (images attacked), LK, SMALL and VIT (the
# large-kernel, small-kernel and transformer models compared in Table 5,
# Fig. 7 and 9), KERNELS (the kernel-size ablation), BASE (the model that
# normalises mCE, mFR and mT5D on the twins; with real ImageNet-C the
# bundled AlexNet errors are used instead). Beyond the paper: autoattack
# (NAA images, budget AAEPS, Square's AAQUERIES queries; AutoAttack's
# standard sequence: APGD-CE, APGD-T, FAB-T, Square) and erf (the effective receptive field
# of KERNELS over NERF images; maps of SMALL and LK) and calibration (ECE
# and RMS calibration error, clean and per corruption and severity of -C)
# and shapebias (NSHAPE cue-conflict twin images). SEEDS=all: every target
# once per seed folder of SEED_DIR (default testdata/zoo/seeds, train.py's
# s0, s1, ...), then each table as mean ± sd over the seeds and each figure
# at the mean with the min-max range (see seeds() below).
set -euo pipefail
shopt -s inherit_errexit # a failing step inside $(...) stops the run too
cd "$(dirname "$0")/.."
export PATH="${LK_BIN:-$PWD/bin}:$PATH" # LK_BIN: the tools, if not make build's
. pipelines/data.sh
. pipelines/csv.sh
OUT=${OUT:-out/reproduce}
MODELS=${MODELS:-"resnet lk3 lk7 lk13 lk31 vit"}
SALIENCY=${SALIENCY:-testdata/zoo/vit.onnx}
PATCH=${PATCH:-4}
NATT=${NATT:-200}
NTAIG=${NTAIG:-40}
LK=${LK:-lk31}; SMALL=${SMALL:-lk3}; VIT=${VIT:-vit}
KERNELS=${KERNELS:-"lk3 lk7 lk13 lk31"}
BASE=${BASE:-resnet}
BYSEED=${BYSEED:-} # ",seed" in a seed folder's run: tables keep the seed column
NAA=${NAA:-50}; AAEPS=${AAEPS:-0.0078}; AAQUERIES=${AAQUERIES:-5000}; NERF=${NERF:-50}; NSHAPE=${NSHAPE:-2000}
W=$OUT/work
mkdir -p "$OUT" "$W"
# One OUT holds one configuration: the report gathers every target made so
# far, and must not put one set of models', data's or counts' results
# beside another's under a header that names only the last. The
# configuration: the models, the data's recipe (pipelines/data.sh) and every
# parameter of the analyses.
CONF=$(for v in MODELS MODEL_DIR SEEDS SEED_DIR BASE BASE_DIR SALIENCY PATCH NATT NTAIG LK SMALL VIT KERNELS NAA AAEPS AAQUERIES NERF NSHAPE; do
  echo "$v=${!v:-}"; done; recipe)
CONF=$(echo "$CONF" | tr '\n' ' ')
if [ -s "$W/config" ] && [ "$(cat "$W/config")" != "$CONF" ]; then
  echo "reproduce: $OUT holds results of another configuration:" >&2
  echo "  there: $(cat "$W/config")" >&2; echo "  now:   $CONF" >&2
  echo "use another OUT, or remove $OUT" >&2; exit 2
fi
echo "$CONF" > "$W/config"
# lk-plot with one colour per model in every figure
SO="--series-order $(echo $MODELS | tr ' ' ,)"

# run CMD: runs a shell pipeline and records it in the target's log.
LOG=/dev/null
run() { echo "$*" >> "$LOG"; bash -o pipefail -c "$*"; }
begin() { LOG="$W/$1.cmds"; : > "$LOG"; echo "reproduce: $1" >&2; }

# plot NAME FLAGS TABLE...: lk-plot FLAGS over the tables into
# $OUT/NAME.png, keeping the flags and the tables' names in $W so that
# SEEDS=all can draw the figure again over every seed's tables.
plot() {
  local name=$1 flags=$2 f; shift 2
  echo "$flags" > "$W/$name.plot"
  for f in "$@"; do basename "$f"; done > "$W/$name.in"
  run "lk-plot $flags -o $OUT/$name.png $*"
}

# basepreds SET: the normalising model's predictions (BASE from BASE_DIR:
# with SEEDS=all every seed is divided by one model, as every ImageNet
# model by the one AlexNet; seeds() passes BASE_DIR on, not MODEL_DIR,
# since a prefix assignment already sees the MODEL_DIR=$d before it)
BASE_DIR=${BASE_DIR:-$MODEL_DIR}
BASENAME=$BASE; [ "$BASE_DIR" = "$MODEL_DIR" ] || BASENAME="$BASE of $BASE_DIR" # for the tables' titles
basepreds() { (MODEL_DIR=$BASE_DIR; preds "$1" "$BASE"); }
allpreds() { for m in $MODELS; do preds "$1" "$m"; done; }
top1() { lk-metrics --format csv "$(preds "$1" "$2")" | csv_get "${3:-top1}"; }
# metrics flags for a set: the 200-class mask of real ImageNet-A/-R/-O
sub() { case $1 in a) real a && echo "--subset imagenet-a" ;; r) real r && echo "--subset imagenet-r" ;; o*) real o-pos && echo "--subset imagenet-o" ;; esac; true; }
t1() { case $1 in a|r) real $1 && echo top1_masked && return ;; esac; echo top1; }

fig1() {
  begin fig1
  run "lk-summary $(for m in $MODELS; do printf '%s ' "$(model $m)"; done) > $W/summary.arrow"
  run "lk-metrics --by model$BYSEED $(allpreds clean | tr '\n' ' ') > $W/clean.arrow"
  plot fig1 "--kind scatter --join model --x parameters --y top1 --ylabel 'top-1 (%)' --series model $SO --label model --title 'Model size and clean top-1'" $W/clean.arrow $W/summary.arrow
}
fig2() {
  begin fig2
  run "lk-metrics --by model $(sub a) $(allpreds a | tr '\n' ' ') > $W/a.arrow"
  plot fig2a "--kind bar --ylabel 'top-1 (%)' --x model --series model $SO --y $(t1 a) --title 'ImageNet-A (twin): top-1'" $W/a.arrow
  run "lk-metrics --by model,severity $(allpreds c | tr '\n' ' ') > $W/c-sev.arrow"
  plot fig2b "--kind bar --where severity=5 --x model --series model $SO --y top1 --ylabel 'top-1 (%)' --title 'ImageNet-C (twin): mean top-1 over 19 corruptions, severity 5'" $W/c-sev.arrow
  : > "$W/ood.files"
  for m in $MODELS; do
    run "lk-metrics --measure ood --by model $(sub o) --positive $(preds o-pos $m) $(preds o-neg $m) > $W/ood-$m.arrow"
  done
  plot fig2c "--kind bar --x model --series model $SO --y aupr --ylabel 'AUPR (%)' --title 'ImageNet-O (twin): AUPR'" $(for m in $MODELS; do printf '%s ' $W/ood-$m.arrow; done)
}
fig3() {
  begin fig3
  run "lk-metrics --by model $(sub r) $(allpreds r | tr '\n' ' ') > $W/r.arrow"
  plot fig3 "--kind bar --ylabel 'top-1 (%)' --x model --series model $SO --y $(t1 r) --title 'ImageNet-R (twin): top-1'" $W/r.arrow
}
table1() {
  begin table1
  local base="" by="AlexNet (the bundled errors)"
  if ! real c; then
    run "lk-metrics -q --measure ce --by model $(basepreds c) > $W/c-base.arrow" # its errors only
    base="--baseline $W/c-base.arrow" by="$BASENAME, on the twin"
  fi
  run "lk-metrics --measure ce --by model $base --format csv $(allpreds c | tr '\n' ' ') > $W/table1.csv"
  { echo "mCE (%) over the 15 standard corruptions, normalised by $by:"; echo
    echo "model,mCE" | csv2md | head -2
    csv_get model,ce corruption=mCE < "$W/table1.csv" | while IFS=, read -r m ce; do echo "| $m | $ce |"; done; } > "$OUT/table1.md"
}
table2() {
  begin table2
  local base=""
  run "lk-metrics --measure fp --by model $(basepreds p) > $W/p-base.arrow"
  for m in $MODELS; do
    run "lk-metrics --measure fp --by model --baseline $W/p-base.arrow --format csv $(preds p $m) 2>/dev/null > $W/fp-$m.csv"
  done
  { echo "mFR and mT5D (%), normalised by $BASENAME (AlexNet's flip rates are in no public code):"; echo
    echo "model,mFR,mT5D" | csv2md | head -2
    for m in $MODELS; do
      fr=$(csv_get fr perturbation=mFR < "$W/fp-$m.csv")
      t5=$(csv_get t5d_ratio perturbation=mT5D < "$W/fp-$m.csv")
      echo "| $m | ${fr:--} | ${t5:--} |"
    done; } > "$OUT/table2.md"
}
table3() {
  begin table3
  local measure=""; real 9 && measure="--measure in9"
  run "lk-metrics $measure --by model,variant --format csv $(allpreds 9 | tr '\n' ' ') > $W/in9.csv"
  { echo "ImageNet-9 (twin) top-1 (%); BG-Gap = Mixed-Same - Mixed-Rand:"; echo
    echo "model,Original,Mixed-Same,Mixed-Rand,BG-Gap" | csv2md | head -2
    local k=top1; head -1 "$W/in9.csv" | tr , '\n' | grep -qx top1_in9 && k=top1_in9
    for m in $MODELS; do
      echo "| $m | $(csv_get $k model=$m variant=original < "$W/in9.csv") | $(csv_get $k model=$m variant=mixed_same < "$W/in9.csv") | $(csv_get $k model=$m variant=mixed_rand < "$W/in9.csv") | $(csv_get bg_gap model=$m variant=mixed_same-mixed_rand < "$W/in9.csv") |"
    done; } > "$OUT/table3.md"
}
occlusion() { # the occluded images of the analyses, all three modes
  if [ ! -s "$W/occ-$1.arrow" ]; then
    run "lk-occlude -q --patch $PATCH --mode random,salient,nonsalient --saliency-model $SALIENCY < $(data small) | lk-infer -q --model $(model $1) > $W/occ-$1.arrow.part"
    mv "$W/occ-$1.arrow.part" "$W/occ-$1.arrow"
  fi
  echo "$W/occ-$1.arrow"
}
fig4() {
  begin fig4
  local files=""; for m in $MODELS; do files="$files $(occlusion $m)"; done
  run "lk-metrics --by model,drop_mode,drop_ratio $files > $W/occ.arrow"
  plot fig4a "--kind line --where drop_mode=random --x drop_ratio --y top1 --ylabel 'top-1 (%)' --series model $SO --xlabel 'patches dropped (fraction)' --title 'Random patch drop'" $W/occ.arrow
  plot fig4b "--kind line --where drop_mode=salient --x drop_ratio --y top1 --ylabel 'top-1 (%)' --series model $SO --xlabel 'saliency mass dropped (lambda)' --title 'Salient patch drop'" $W/occ.arrow
  plot fig4c "--kind line --where drop_mode=nonsalient --x drop_ratio --y top1 --ylabel 'top-1 (%)' --series model $SO --xlabel 'saliency mass kept (lambda)' --title 'Non-salient patch drop'" $W/occ.arrow
}
fig5() {
  begin fig5
  run "lk-data -q $TWIN --keep-labels 0-7 --limit 6 $FM | lk-occlude -q --patch $PATCH --mode random,salient,nonsalient --ratios 0.5 --lambdas 0.5 --saliency-model $SALIENCY | lk-plot --kind montage --label drop_mode --per-image 6 --limit 3 --cols 3 --title 'Patch drop at 50%: random, salient, non-salient' -o $OUT/fig5.png"
}
fig6() {
  begin fig6
  local a="" b="" c=""
  for m in $MODELS; do
    run "lk-data -q $TWIN --keep-labels 0-7 --limit $NATT $FM | lk-attack -q --model $(model $m) --attack fgsm --eps 0,0.005,0.01,0.02,0.04 | lk-infer -q --model $(model $m) > $W/fgsm-$m.arrow"
    run "lk-data -q $TWIN --keep-labels 0-7 --limit $NATT $FM | lk-attack -q --model $(model $m) --attack pgd --steps 5 --eps 0.002,0.004,0.006,0.008 --seed 1 | lk-infer -q --model $(model $m) > $W/pgd-eps-$m.arrow"
    run "lk-data -q $TWIN --keep-labels 0-7 --limit $NATT $FM | lk-attack -q --model $(model $m) --attack pgd --eps 0.006 --steps 1,2,4,8 --seed 1 | lk-infer -q --model $(model $m) > $W/pgd-steps-$m.arrow"
    a="$a $W/fgsm-$m.arrow"; b="$b $W/pgd-eps-$m.arrow"; c="$c $W/pgd-steps-$m.arrow"
  done
  run "lk-metrics --by model,eps $a > $W/fgsm.arrow"
  plot fig6a "--kind line --x eps --y top1 --ylabel 'top-1 (%)' --series model $SO --xlabel 'eps (L-inf, pixel range [0,1])' --title FGSM" $W/fgsm.arrow
  run "lk-metrics --by model,eps $b > $W/pgd-eps.arrow"
  plot fig6b "--kind line --x eps --y top1 --ylabel 'top-1 (%)' --series model $SO --xlabel 'eps (L-inf, pixel range [0,1])' --title 'PGD, 5 steps'" $W/pgd-eps.arrow
  run "lk-metrics --by model,steps $c > $W/pgd-steps.arrow"
  plot fig6c "--kind line --x steps --y top1 --ylabel 'top-1 (%)' --series model $SO --xlabel 'PGD steps' --title 'PGD, eps 0.006'" $W/pgd-steps.arrow
}
table4() {
  begin table4
  local surs="$VIT"; case " $MODELS " in *" $VIT "*) surs="$VIT $LK" ;; esac
  for sur in $surs; do # adversarial images made once per surrogate
    run "lk-data -q $TWIN --keep-labels 0-7 --limit $NTAIG $FM | lk-attack -q --model $(model $sur) --attack taig --eps 0.03,0.06,0.1 --seed 1 > $W/taig-by-$sur.arrow"
  done
  for m in $MODELS; do
    local sur=$VIT; [ "$m" = "$VIT" ] && sur=$LK
    run "lk-infer -q --model $(model $m) < $W/taig-by-$sur.arrow > $W/taig-$m.arrow"
  done
  run "lk-metrics --by model,eps --format csv $(for m in $MODELS; do printf '%s ' $W/taig-$m.arrow; done) > $W/taig.csv"
  { echo "TAIG-R attack success rate (%), surrogate $VIT for the CNNs and $LK for $VIT, $NTAIG images:"; echo
    echo "model,eps 0.03,eps 0.06,eps 0.1" | csv2md | head -2
    for m in $MODELS; do
      echo "| $m | $(csv_get success_rate model=$m eps=0.03 < "$W/taig.csv") | $(csv_get success_rate model=$m eps=0.06 < "$W/taig.csv") | $(csv_get success_rate model=$m eps=0.1 < "$W/taig.csv") |"
    done; } > "$OUT/table4.md"
}
fig7() {
  begin fig7
  local files=""
  for m in $LK $VIT; do
    local group=2; [ "$m" = "$VIT" ] && group=scope
    rm -rf "$W/lesion-$m"
    run "lk-lesion --model $(model $m) --group $group --n 1,2,3 --samples 5 --seed 1 --out $W/lesion-$m > /dev/null"
    for f in "$W/lesion-$m"/*.onnx; do
      run "lk-infer -q --name $m --model $f < $(data small) > $f.preds.arrow"
      files="$files $f.preds.arrow"
    done
  done
  run "lk-metrics --by model,drop_n,sample $files > $W/lesion.arrow"
  plot fig7 "--kind line --band --x drop_n --y top1 --ylabel 'top-1 (%)' --series model $SO --xlabel 'units removed' --title 'Lesion study: mean and min-max of 5 samples'" $W/lesion.arrow
}
fig8() {
  begin fig8
  local files=""
  for m in $MODELS; do
    run "lk-fft-noise -q --eps 0.1 --seed 1 < $(data small) | lk-infer -q --model $(model $m) > $W/fft-$m.arrow"
    files="$files $W/fft-$m.arrow"
  done
  run "lk-metrics --by model,freq$BYSEED $files > $W/fft.arrow"
  run "lk-metrics --by model$BYSEED $(allpreds small | tr '\n' ' ') > $W/clean-small.arrow"
  plot fig8 "--kind line --x freq --y top1 --series model $SO --minus $W/clean-small.arrow --minus-by model$BYSEED --xlabel 'noise frequency (x pi)' --ylabel 'top-1 change (points)' --title 'Band-limited noise, eps 0.1'" $W/fft.arrow
}
fig9() {
  begin fig9
  run "lk-attn-dist --model $(model $LK) --min-kernel 5 > $W/attn.arrow"
  plot fig9 "--kind line --x position --y score --series stage,block --xlabel 'channels, sorted (fraction)' --title 'Kernel attention distance, $LK'" $W/attn.arrow
}
fig10() {
  begin fig10
  local files=""
  for m in $MODELS; do
    run "lk-featvar -q --model $(model $m) < $(data small) > $W/featvar-$m.arrow"
    files="$files $W/featvar-$m.arrow"
  done
  plot fig10 "--kind line --x depth --y variance --series model $SO --xlabel 'normalised depth' --title 'Feature-map variance'" $files
}
table5() {
  begin table5
  local ms="$LK $VIT $SMALL"
  for m in $ms; do occlusion $m > /dev/null; [ -s "$W/fft-$m.arrow" ] || run "lk-fft-noise -q --eps 0.1 --seed 1 < $(data small) | lk-infer -q --model $(model $m) > $W/fft-$m.arrow"; done
  { echo "Kernel-size ablation: $LK against $SMALL, with $VIT; twins, top-1 (%) except AUPR; drops in points from clean:"; echo
    echo "model,A,C (sev. 5),R,O AUPR,Salient-Drop-50%,Noise-0.7pi" | csv2md | head -2
    for m in $ms; do
      a=$(top1 a $m); r=$(top1 r $m)
      c=$(lk-metrics --by severity --format csv "$(preds c $m)" | csv_get top1 severity=5)
      o=$(lk-metrics --measure ood --by model --positive "$(preds o-pos $m)" --format csv "$(preds o-neg $m)" | csv_get aupr)
      base=$(lk-metrics --by drop_mode,drop_ratio --format csv "$W/occ-$m.arrow" | csv_get top1 drop_mode=random drop_ratio=0)
      sal=$(minus "$(lk-metrics --by drop_mode,drop_ratio --format csv "$W/occ-$m.arrow" | csv_get top1 drop_mode=salient drop_ratio=0.5)" "$base")
      fft=$(minus "$(lk-metrics --by freq --format csv "$W/fft-$m.arrow" | csv_get top1 freq=0.7)" "$base")
      echo "| $m | $a | $c | $r | $o | $sal | $fft |"
    done; } > "$OUT/table5.md"
  echo "lk-metrics, lk-occlude and lk-fft-noise outputs of fig2-fig4 and fig8, combined" >> "$LOG"
}
table6() {
  begin table6
  run "lk-summary --format csv $(for m in $MODELS; do printf '%s ' "$(model $m)"; done) > $W/summary.csv"
  { echo "More results (twins, top-1 %); the largest depthwise kernel from the ONNX graph (lk-summary; - : none):"; echo
    echo "model,kernel,clean,A,R,C (sev. 5)" | csv2md | head -2
    for m in $MODELS; do
      k=$(csv_get max_kernel model=$m < "$W/summary.csv")
      c=$(lk-metrics --by severity --format csv "$(preds c $m)" | csv_get top1 severity=5)
      [ "${k:-0}" = 0 ] && k=- || k="${k}x$k"
      echo "| $m | $k | $(top1 clean $m) | $(top1 a $m) | $(top1 r $m) | $c |"
    done; } > "$OUT/table6.md"
}
table7() {
  begin table7
  { echo "Kernel size and robustness (twins, top-1 %):"; echo
    echo "model,clean,A,R" | csv2md | head -2
    for m in $KERNELS; do echo "| $m | $(top1 clean $m) | $(top1 a $m) | $(top1 r $m) |"; done; } > "$OUT/table7.md"
  echo "lk-metrics on the predictions of fig1-fig3" >> "$LOG"
}

autoattack() {
  begin autoattack
  local files=""
  for m in $MODELS; do
    run "lk-data -q $TWIN --keep-labels 0-7 --limit $NAA $FM | lk-attack -q --model $(model $m) --attack autoattack --eps $AAEPS --queries $AAQUERIES --seed 1 | lk-infer -q --model $(model $m) > $W/aa-$m.arrow"
    files="$files $W/aa-$m.arrow"
  done
  run "lk-metrics --measure robust --by model,eps --format csv $files > $W/aa.csv"
  { echo "AutoAttack (APGD-CE, APGD-T, FAB-T, Square) at eps $AAEPS, $NAA images: accuracy (%) left after each attack:"; echo
    echo "model,clean,APGD-CE,APGD-T,FAB-T,Square,robust" | csv2md | head -2
    for m in $MODELS; do
      printf '| %s |' "$m"
      for k in clean robust_after_apgd-ce robust_after_apgd-t robust_after_fab-t robust_after_square robust; do printf ' %s |' "$(csv_get "$k" model=$m < "$W/aa.csv")"; done
      echo
    done; } > "$OUT/autoattack.md"
}

erf() {
  begin erf
  local files=""
  for m in $KERNELS; do
    run "lk-data -q $TWIN --keep-labels 0-7 --limit $NERF $FM | lk-erf -q --model $(model $m) --images $NERF --areas --format csv > $W/erf-areas-$m.csv"
    files="$files $W/erf-areas-$m.csv"
  done
  local f=a
  for m in $SMALL $LK; do
    run "lk-data -q $TWIN --keep-labels 0-7 --limit $NERF $FM | lk-erf -q --model $(model $m) --images $NERF | lk-plot --kind heatmap --x x --y y --z erf --title 'Effective receptive field, $m (log10(score+1), scaled)' -o $OUT/erf$f.png"
    f=b
  done
  { echo "Effective receptive field (RepLKNet's high-contribution area ratio, $NERF images at the twin's 32x32): side of the smallest centred square holding more than 20/30/50/99% of the scaled map (its area share in parentheses; - where only the whole image does):"; echo
    echo "model,20%,30%,50%,99%" | csv2md | head -2
    for m in $KERNELS; do
      printf '| %s |' "$m"
      for th in 0.2 0.3 0.5 0.99; do
        local side area
        side=$(csv_get side threshold=$th < "$W/erf-areas-$m.csv" || true); area=$(csv_get area threshold=$th < "$W/erf-areas-$m.csv" || true)
        if [ -n "$side" ]; then printf ' %s (%.2f) |' "$side" "$area"; else printf ' - |'; fi
      done
      echo
    done; } > "$OUT/erf.md"
}

calibration() {
  begin calibration
  run "lk-metrics --measure calibration --by model --format csv $(allpreds clean | tr '\n' ' ') > $W/cal-clean.csv"
  run "lk-metrics --measure calibration --by model --format csv $(allpreds c | tr '\n' ' ') > $W/cal-c.csv"
  run "lk-metrics --measure calibration --by model,corruption,severity --format csv $(allpreds c | tr '\n' ' ') > $OUT/calibration-c.csv"
  run "lk-metrics --measure reliability --by model $(allpreds c | tr '\n' ' ') > $W/reliability.arrow"
  plot calibration "--kind line --x confidence --y accuracy --series model $SO --diagonal --xlabel 'confidence (%)' --ylabel 'accuracy (%)' --title 'Reliability on ImageNet-C (twin), every corruption and severity'" $W/reliability.arrow
  { echo "Calibration (%): ECE over 15 equal-width confidence bins (Guo et al. 2017) and the RMS calibration error with adaptive bins of 100 (hendrycks' calib_err), clean and on the -C twin (every corruption and severity; per corruption and severity in calibration-c.csv):"; echo
    echo "model,clean top-1,clean ECE,clean RMS,-C top-1,-C confidence,-C ECE,-C RMS" | csv2md | head -2
    for m in $MODELS; do
      printf '| %s |' "$m"
      for k in top1 ece rms_calibration_error; do printf ' %s |' "$(csv_get "$k" model=$m < "$W/cal-clean.csv")"; done
      for k in top1 confidence ece rms_calibration_error; do printf ' %s |' "$(csv_get "$k" model=$m < "$W/cal-c.csv")"; done
      echo
    done; } > "$OUT/calibration.md"
}

shapebias() {
  begin shapebias
  local files=""
  for m in $MODELS; do
    run "lk-data -q $TWIN --keep-labels 0-7 --limit $NSHAPE $FM | lk-render -q --cue-conflict --seed 1 | lk-infer -q --model $(model $m) > $W/cue-$m.arrow"
    files="$files $W/cue-$m.arrow"
  done
  run "lk-metrics --measure shape-bias --by model --format csv $files > $W/shapebias.csv"
  run "lk-data -q $TWIN --keep-labels 0-7 --limit 16 $FM | lk-render -q --cue-conflict --seed 1 | lk-plot --kind montage --label label,texture --limit 16 --title 'Cue-conflict twin: shape (label) and texture classes' -o $OUT/shapebias.png"
  { echo "Shape bias on the cue-conflict twin ($NSHAPE Fashion-MNIST images, each silhouette filled with another class's texture; percent of all images decided by shape and by texture, shape bias = shape / (shape + texture)):"; echo
    echo "model,shape,texture,shape bias" | csv2md | head -2
    for m in $MODELS; do
      printf '| %s |' "$m"
      for k in shape_match texture_match shape_bias; do printf ' %s |' "$(csv_get "$k" model=$m < "$W/shapebias.csv")"; done
      echo
    done; } > "$OUT/shapebias.md"
}

# the six benchmarks in one table with the 95% interval of every cell, and
# LK against SMALL, BASE and VIT by paired bootstrap (pipelines/benchmarks.sh;
# with SEEDS=all over the seed folders, run once by seeds()).
benchmarks() {
  begin benchmarks
  local seeds="" spread=""; [ -n "${SEEDDIRS:-}" ] && seeds=all spread="; s beyond the seeds' spread"
  run "MODELS='$MODELS' BASE=$BASE LK=$LK PAIRS_WITH='$SMALL $BASE $VIT' SEEDS=$seeds BENCH_OUT=$W/benchmarks pipelines/benchmarks.sh > $W/benchmarks.txt"
  { echo "The six benchmarks, each cell with the 95% interval of the test set's sampling under it, and $LK against $SMALL, $BASE and $VIT by paired bootstrap (* beyond the test set's noise$spread):"; echo
    sed 's/^/    /' "$W/benchmarks.txt"; } > "$OUT/benchmarks.md"
}

# effective robustness (Taori et al. 2020): each shifted set's top-1
# against clean top-1, the baseline line fitted on logit axes over the
# models, and each model's distance above it (lk-metrics --measure
# effective), with the 95% bootstrap interval (clean and shifted images
# resampled, the line refitted). -9 is its Mixed-Rand images.
effective() {
  begin effective
  effective_into "$MODEL_DIR"
}
# effective_into DIRS: the figures and table over the models of every
# folder of DIRS: one folder, a point per model; the seed folders, a point
# per model and seed, the line fitted over all of them and each model's
# effective robustness the mean over its seeds.
effective_into() {
  local dirs=$1 by=model over="" set i=0 clean shifted w v m letters=(a b c d)
  [ "$(echo $dirs | wc -w)" -gt 1 ] && by=model,seed over="--over seed"
  local sets=""
  for set in a r c 9; do
    [ "$set" = 9 ] && real 9 && continue # real -9 is scored 9-way (--measure in9), which the fit does not take
    sets="$sets $set"
    clean=$(eff_preds "$dirs" $set clean | paste -sd,)
    shifted=$(eff_preds "$dirs" $set $set | tr '\n' ' ')
    w=""; [ "$set" = 9 ] && w="--where variant=mixed_rand"
    run "lk-metrics -q --measure effective --by $by $(sub $set) $w --clean $clean $shifted > $W/eff-$set.arrow"
    plot "effective${letters[$i]}" "--kind scatter --x clean --y shifted --series model $SO --fit logit --xlabel 'clean top-1 (%)' --ylabel '$(eff_name $set) top-1 (%)' --title 'Effective robustness: $(eff_name $set)'" $W/eff-$set.arrow
    run "lk-metrics --measure effective --by $by $over --ci 95 --seed 0 $(sub $set) $w --clean $clean --format csv $shifted > $W/eff-$set.csv 2> $W/eff-$set.line"
    i=$((i + 1))
  done
  local points="the models" per=""
  [ -n "$over" ] && points="every model and seed" per="; each model's value is the mean over its seeds"
  { echo "Effective robustness (percentage points above the line fitted over $points on logit axes; -C is top-1 over all 19 corruptions x 5 severities; 95% bootstrap interval, the images resampled and the line refitted$per):"; echo
    printf '| model |'; for set in $sets; do printf ' %s |' "$(eff_name $set)"; done; echo
    printf '|---|'; for set in $sets; do printf -- '---|'; done; echo
    for m in $MODELS; do
      printf '| %s |' "$m"
      for set in $sets; do
        v=$(csv_get effective,effective_lo,effective_hi model=$m < "$W/eff-$set.csv" | awk -F, '{ printf "%+.2f [%.2f, %.2f]", $1, $2, $3 }')
        printf ' %s |' "${v:--}"
      done
      echo
    done
    echo
    for set in $sets; do echo "$(eff_name $set): $(grep -o 'baseline: .*' "$W/eff-$set.line" | sed 's/^baseline: //')."; done
    real a || echo "-: left out of -A's fit, the model that filtered the -A twin (it scores 0 there by construction)."
  } > "$OUT/effective.md"
}
# eff_preds DIRS SET KIND: the KIND predictions of the models of DIRS that
# are points of SET's fit: on the -A twin not the model that filtered it
# (testdata/zoo/resnet.onnx, 0 by construction, no logit)
eff_preds() {
  local d m
  for d in $1; do
    for m in $MODELS; do
      [ "$2" = a ] && ! real a && cmp -s "$d/$m.onnx" testdata/zoo/resnet.onnx && continue
      (MODEL_DIR=$d; preds "$3" "$m")
    done
  done
}
eff_name() { case $1 in a) echo "-A" ;; r) echo "-R" ;; c) echo "-C" ;; 9) echo "-9 Mixed-Rand" ;; esac; }

# twin_note TARGET: pipelines/twins/TARGET.md (how the twins TARGET reads
# were built and what they cannot show at 32 pixels) when one of the sets
# its first line names is a twin ("zoo": the models are the zoo's or one of
# its seed folders'), or it
# names none (the target has no real-data form)
twin_note() {
  local f="pipelines/twins/$1.md" s sets show=""
  [ -e "$f" ] || return 0
  sets=$(sed -n '1s/^<!-- sets:\(.*\)-->$/\1/p' "$f")
  [ -z "${sets// /}" ] && show=y
  for s in $sets; do
    if [ "$s" = zoo ]; then case $MODEL_DIR in testdata/zoo|testdata/zoo/seeds/*) show=y ;; esac
    else real "$s" || show=y; fi
  done
  if [ -n "$show" ]; then tail -n +2 "$f"; echo; fi
}

report() {
  local r="$OUT/report.md" made="" t by
  # the targets this folder holds (runs of single targets gather here)
  for t in $ALL; do [ -e "$W/$t.cmds" ] && made="$made $t"; done
  by="make reproduce"; [ "$made" = " $(echo $ALL)" ] || by="make${made:- (no target yet)}"
  {
    echo "# lk: the paper's figures and tables"
    echo
    echo "Made by \`$by\` on $(date -u +%Y-%m-%d) with lk $(git describe --always --dirty 2>/dev/null || echo '?'), ONNX Runtime 1.24.1,"
    echo "on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))."
    echo "Models: $MODELS (from ${SEEDDIRS:-$MODEL_DIR}). Data: $(for s in clean a r 9 c p o-pos; do real $s && printf '%s real; ' $s || printf '%s twin; ' $s; done)"
    [ -n "${SEEDDIRS:-}" ] && { echo; echo "Every target was run once per seed folder ($SEEDDIRS; each run's own report, tables and figures are in seeds/). Each table cell here is the mean ± the sample standard deviation over the seeds (a cell that differs but is not a number lists the seeds' values); each line or bar is at the mean, its shading or whiskers the min-max range over the seeds. Under a table, $LK against $SMALL, $BASE and $VIT column by column: \"higher\" or \"lower\" only where the two models' min-max ranges over the seeds do not overlap, else \"within the spread\" (md_apart); a claim of a difference rests on that. fig1 shows one point per model and seed; fig5, the effective receptive field maps, the reliability diagram and the cue-conflict montage are seed $(basename "${SEEDDIRS%% *}")'s."; }
    echo "Every stream records its provenance (tools, arguments, model sha256) in its schema metadata (lk.provenance)."
    echo; echo "Model files (sha256):"; echo; echo '```'
    for d in ${SEEDDIRS:-$MODEL_DIR}; do for m in $MODELS; do sha256sum "$d/$m.onnx"; done; done
    echo '```'
    for t in $ALL; do
      [ -e "$W/$t.cmds" ] || continue
      echo; echo "## $t"; echo
      for f in "$OUT/$t.png" "$OUT/$t"[a-d].png; do [ -e "$f" ] && echo "![$t]($(basename "$f"))" && echo; done
      [ -e "$OUT/$t.md" ] && cat "$OUT/$t.md" && echo
      twin_note "$t"
      [ -e "pipelines/paper/$t.md" ] && { echo "The paper's $t (ImageNet; Chen et al. 2024):"; echo; cat "pipelines/paper/$t.md"; echo; }
      echo "Commands:"; echo; echo '```sh'; cat "$W/$t.cmds"; echo '```'
    done
  } > "$r"
  lk-report -o "$OUT/report.html" "$r"
  echo "report: $r and $OUT/report.html (one self-contained page for a browser)" >&2
}

# seedkey DIR TARGET...: what the run of TARGETs on seed folder DIR
# depends on: the targets, the configuration, the bytes of the models (the
# folder's, the baseline, the saliency ViT, the zoo resnet that filters the
# -A twin), of the tools and of the pipelines, the ONNX Runtime libraries
# and the LK_* environment.
seedkey() {
  local d=$1 m; shift
  { echo "$*"; echo "$CONF"
    for m in $MODELS; do cat "$d/$m.onnx" "$d/$m.json" 2>/dev/null | sha256sum; done
    cat "$(model "$BASE")" "$SALIENCY" testdata/zoo/resnet.onnx | sha256sum
    cat "${LK_BIN:-$PWD/bin}"/lk-* pipelines/*.sh pipelines/*/*.md | sha256sum
    stat -L -c '%n %s %Y' .deps/onnxruntime*/*.so* ${LK_ORT_LIB:-} 2>/dev/null || true
    env | grep '^LK_' | sort || true
  } | sha256sum | cut -c1-16
}

# seeds TARGET...: SEEDS=all. The targets once per seed folder of SEED_DIR
# that holds every model of MODELS, into $OUT/seeds/sI with that folder as
# MODEL_DIR (the baseline stays MODEL_DIR's BASE); then, into $OUT, each
# table as mean ± sd over the seeds (md_mean) and each figure drawn again
# over every seed's tables: lines and bars at the mean, the min-max range
# shaded (lk-plot --band).
# A seed folder's run that finished with the same seedkey is reused, so a
# sweep stopped after some seeds, or run again when a new seed folder is
# complete, runs only the folders it lacks.
seeds() {
  local d ok m t n f files key stamp
  SEEDDIRS=$(seed_dirs $MODELS) || exit 1
  [ $# -gt 0 ] || return 0 # the report alone
  for d in $SEEDDIRS; do
    key=$(seedkey "$d" "$@"); stamp=$OUT/seeds/$(basename "$d")/work/seed.key
    if [ -s "$stamp" ] && [ "$(cat "$stamp")" = "$key" ]; then
      echo "reproduce: seed folder $d: reusing its finished run (same targets, models, tools and configuration; remove $stamp to run it again)" >&2
      continue
    fi
    echo "reproduce: seed folder $d" >&2
    rm -f "$stamp"
    local per; per=$(printf '%s\n' "$@" | grep -vx benchmarks | tr '\n' ' ') # benchmarks: once, over every seed (below)
    [ -n "${per// /}" ] && OUT=$OUT/seeds/$(basename "$d") MODEL_DIR=$d BASE_DIR=$BASE_DIR BYSEED=,seed SEEDS= bash pipelines/reproduce.sh $per
    echo "$key" > "$stamp"
  done
  local s0; s0=$OUT/seeds/$(basename "${SEEDDIRS%% *}")
  for t in "$@"; do
    if [ "$t" = benchmarks ]; then
      benchmarks
      continue
    fi
    [ -e "$s0/work/$t.cmds" ] || continue
    LOG=$W/$t.cmds
    { for d in $SEEDDIRS; do echo "OUT=$OUT/seeds/$(basename "$d") MODEL_DIR=$d BASE_DIR=$BASE_DIR BYSEED=,seed pipelines/reproduce.sh $t"; done
      echo "# which ran, for $s0:"; cat "$s0/work/$t.cmds"; echo "# then over the seeds:"; } > "$LOG"
    if [ "$t" = effective ]; then # the line over every model and seed, not a mean of per-seed lines
      effective_into "$SEEDDIRS"
      continue
    fi
    if [ -e "$s0/$t.md" ]; then
      files=""; for d in $SEEDDIRS; do files="$files $OUT/seeds/$(basename "$d")/$t.md"; done
      echo "md_mean$files > $OUT/$t.md" >> "$LOG"
      md_mean $files > "$OUT/$t.md"
      local other
      for other in $(printf '%s\n' "$SMALL" "$BASE" "$VIT" | awk '!seen[$0]++'); do
        [ "$other" = "$LK" ] && continue
        echo "md_apart $LK $other$files >> $OUT/$t.md" >> "$LOG"
        md_apart "$LK" "$other" $files | sed '1s/^/\n/' >> "$OUT/$t.md"
      done
    fi
    for f in "$s0/$t.png" "$s0/$t"[a-c].png; do
      [ -e "$f" ] || continue
      n=$(basename "$f" .png)
      case $n in
        fig5|erfa|erfb|calibration|shapebias) run "cp $f $OUT/$n.png" ;;
        fig1)
          run "lk-metrics --by model,seed $(for d in $SEEDDIRS; do (MODEL_DIR=$d; allpreds clean); done | tr '\n' ' ') > $W/clean.arrow"
          run "lk-plot $(cat "$s0/work/fig1.plot") -o $OUT/fig1.png $W/clean.arrow $s0/work/summary.arrow" ;;
        *)
          local flags; flags=$(cat "$s0/work/$n.plot")
          if [ "$n" = fig8 ]; then
            run "lk-metrics --by model,seed $(for d in $SEEDDIRS; do (MODEL_DIR=$d; allpreds small); done | tr '\n' ' ') > $W/clean-small.arrow"
            flags=${flags//$s0\/work\/clean-small.arrow/$W/clean-small.arrow}
          fi
          files=""; for d in $SEEDDIRS; do while read -r f; do files="$files $OUT/seeds/$(basename "$d")/work/$f"; done < "$s0/work/$n.in"; done
          run "lk-plot $flags --band -o $OUT/$n.png$files" ;;
      esac
    done
  done
}

ALL="benchmarks fig1 fig2 fig3 table1 table2 table3 fig4 fig5 fig6 table4 fig7 fig8 fig9 fig10 table5 table6 table7 autoattack erf calibration shapebias effective"
TARGETS=${*:-$ALL}
for t in $TARGETS; do
  case " $ALL report " in *" $t "*) ;; *) echo "unknown target $t (want: $ALL, report)" >&2; exit 2 ;; esac
done
if [ "${SEEDS:-}" = all ]; then
  seeds $(echo " $TARGETS " | sed 's/ report / /g')
else
  for t in $TARGETS; do [ "$t" = report ] || "$t"; done
fi
report # of every target made so far
