#!/usr/bin/env bash
# make slurm-check: a real one-node Slurm cluster on this machine (munged,
# slurmctld and slurmd as root, no cgroups), a job array of 4 shards of a
# corruption sweep on the zoo (pipelines/slurm/sweep.sbatch), one task
# requeued while it runs, and the shards' table compared byte for byte with
# the unsharded run's. The cluster is stopped however the check ends.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
export PATH="$root/bin:$PATH"
for c in slurmctld slurmd sbatch squeue scontrol munged; do
  command -v $c >/dev/null || { echo "slurm-check: $c missing (apt-get install slurmctld slurmd slurm-client munge)" >&2; exit 1; }
done
D=$(mktemp -d /tmp/lk-slurm.XXXXXX)
chmod 755 "$D"
started_munge=""
cleanup() {
  SLURM_CONF=$D/slurm.conf scontrol shutdown >/dev/null 2>&1 || true
  sleep 1
  pkill -f "slurmctld -f $D/slurm.conf" 2>/dev/null || true
  pkill -f "slurmd -f $D/slurm.conf" 2>/dev/null || true
  if [ -n "$started_munge" ]; then kill "$started_munge" 2>/dev/null || true; fi
  rm -rf "$D"
}
trap cleanup EXIT
fail() { echo "slurm-check: FAIL: $*" >&2; for f in "$D"/log/*.log "$D"/out/task-*.txt; do [ -f "$f" ] && { echo "== $f" >&2; tail -20 "$f" >&2; }; done; exit 1; }

# munge authenticates slurm's daemons to each other
if ! munge -n >/dev/null 2>&1; then
  [ -s /etc/munge/munge.key ] || fail "no /etc/munge/munge.key (reinstall the munge package)"
  mkdir -p /run/munge && chown munge:munge /run/munge
  su -s /bin/sh munge -c "/usr/sbin/munged --pid-file=/run/munge/munged.pid" || fail "munged did not start"
  sleep 1
  started_munge=$(cat /run/munge/munged.pid)
  munge -n >/dev/null || fail "munge does not work"
fi

port=$((17000 + RANDOM % 2000))
host=$(hostname)
mkdir -p "$D/state" "$D/spool" "$D/log" "$D/out"
cat > "$D/slurm.conf" <<CONF
ClusterName=lkcheck
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
SlurmctldPort=$port
SlurmdPort=$((port + 1))
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
NodeName=$host CPUs=$(nproc) RealMemory=4000 State=UNKNOWN
PartitionName=check Nodes=ALL Default=YES MaxTime=30 State=UP
CONF
export SLURM_CONF=$D/slurm.conf
slurmctld -f "$SLURM_CONF" || fail "slurmctld did not start"
slurmd -f "$SLURM_CONF" || fail "slurmd did not start"
for i in $(seq 60); do
  [ "$(sinfo -h -o %t 2>/dev/null)" = idle ] && break
  sleep 0.5
done
[ "$(sinfo -h -o %t)" = idle ] || fail "the node is not idle: $(sinfo -h)"
echo "slurm-check: cluster up ($(sinfo -h -o '%P %D %t %N'))"

# the sweep: 800 Fashion-MNIST test images x 3 corruptions x 3 severities
src=testdata/fashion-mnist/t10k-images-idx3-ubyte.gz
export LK_BIN="$root/bin"
export LK_DATA_FLAGS="--gray3 --crop 32 --keep-labels 0-7 --limit 800"
export LK_CORRUPT="--workers 1 --corruptions gaussian_noise,contrast,fog --severities 1-3"
export LK_INFER="--batch 4 --threads 1"
model=testdata/zoo/lk31.onnx
# shellcheck disable=SC2086
lk-data -q $LK_DATA_FLAGS $src | lk-corrupt -q $LK_CORRUPT | lk-infer -q $LK_INFER --model $model > "$D/whole.arrow"
lk-metrics --by model,corruption,severity --format csv "$D/whole.arrow" > "$D/whole.csv"

job=$(sbatch --parsable --array=0-3 -o "$D/out/task-%a.txt" pipelines/slurm/sweep.sbatch $model $src "$D/out")
echo "slurm-check: job array $job submitted"
# requeue task 1 once it has written part of its file
victim="$D/out/preds-1.arrow"
for i in $(seq 600); do
  state=$(squeue -h -j "${job}_1" -o %T 2>/dev/null || true)
  size=$(stat -c %s "$victim" 2>/dev/null || echo 0)
  # a few complete record batches (about 400 kB each), not the last
  [ "$state" = RUNNING ] && [ "$size" -gt 1500000 ] && break
  [ -z "$state" ] && fail "task 1 ended before it could be requeued (make the sweep longer)"
  sleep 0.05
done
scontrol requeue "${job}_1" || fail "scontrol requeue ${job}_1"
echo "slurm-check: task 1 requeued at $size bytes of its file"
# a requeued job waits before it is eligible again; let it start now
for i in $(seq 40); do
  [ "$(squeue -h -j "${job}_1" -o %T 2>/dev/null)" = PENDING ] && break
  sleep 0.25
done
scontrol update JobId="${job}_1" StartTime=now >/dev/null 2>&1 || true
for i in $(seq 600); do
  [ -z "$(squeue -h -j "$job" 2>/dev/null)" ] && break
  sleep 0.5
done
[ -z "$(squeue -h -j "$job")" ] || fail "the job array did not finish in 5 minutes: $(squeue -h -j "$job")"
grep -q "restart 1" "$D/out/task-1.txt" || fail "task 1 did not run again after the requeue"
grep -q "resuming" "$D/out/task-1.txt" || fail "task 1's second run did not resume its file"
for k in 0 1 2 3; do [ -s "$D/out/preds-$k.arrow" ] || fail "no output of task $k"; done
lk-metrics --by model,corruption,severity --format csv "$D"/out/preds-*.arrow > "$D/shards.csv" || fail "lk-metrics on the shards"
cmp "$D/whole.csv" "$D/shards.csv" || fail "the shards' table differs from the unsharded run's"
echo "slurm-check: 4 shards, task 1 killed and requeued mid-run: $(grep -h resuming "$D/out/task-1.txt" | head -1 | sed 's/.*resuming/resuming/')"
echo "slurm-check: the shards' table equals the unsharded run's ($(($(wc -l < "$D/whole.csv") - 1)) rows): ok"
