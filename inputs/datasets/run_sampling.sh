#!/bin/sh
# Runs sampling decks one after another in the background (`mpirun -n 2 fusionhop sample DECK`:
# one OpenMolcas process per core, work directories on /dev/shm), plus a loop that commits the
# dataset and the log every 45 minutes while they run and once at the end. Resumable: run it again
# after a kill or a reboot and every deck skips the geometries the dataset already holds.
#
#   inputs/datasets/run_sampling.sh DECK [--set section.key=value]... [-- DECK ...]
#   e.g. inputs/datasets/run_sampling.sh inputs/stilbene/sample_xyz.inp \
#          -- inputs/stilbene/sample_wigner_cis.inp -- inputs/stilbene/sample_wigner_trans.inp
#
# Stop: kill -TERM -- -$(cat build/sampling.pid) (the whole process group; the OpenMolcas runs in
# progress end with it and their geometries are lost, nothing else). NOCOMMIT=1: no commit loop.
# The fusionhop binary is copied first so that rebuilding does not disturb the running jobs.
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
NP=${NP:-2}
DATA=${DATA:-inputs/datasets/stilbene_sa2cas22_631g.h5}
LOG=${LOG:-inputs/datasets/stilbene_sa2cas22_631g.log}
if [ -f "$BUILD/sampling.pid" ] && kill -0 "$(cat "$BUILD/sampling.pid")" 2>/dev/null; then
    echo "run_sampling.sh: already running (pid $(cat "$BUILD/sampling.pid"))" >&2
    exit 1
fi
[ $# -gt 0 ] || { echo "usage: run_sampling.sh DECK [--set k=v]... [-- DECK ...]" >&2; exit 2; }
# work directories of calculations killed with an earlier run (~0.5 GB each on the RAM disk)
find /dev/shm -maxdepth 1 -name 'fhmolcas.*' -mmin +120 -exec rm -rf {} + 2>/dev/null || true
mkdir -p "$BUILD/sampling-bin"
cp "$BUILD/fusionhop" "$BUILD/sampling-bin/fusionhop"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# The decks, separated by "--", each with its own --set options.
JOBS=""
job=""
for a in "$@"; do
    if [ "$a" = "--" ]; then JOBS="$JOBS$job
"; job=""; else job="$job '$a'"; fi
done
JOBS="$JOBS$job"

setsid nohup sh -c "
  echo \"\$(date '+%Y-%m-%d %H:%M:%S') run_sampling.sh: start\"
  echo \"$JOBS\" | while read -r line; do
    [ -n \"\$line\" ] || continue
    echo \"\$(date '+%Y-%m-%d %H:%M:%S') fusionhop sample \$line\"
    eval mpirun -n $NP $BUILD/sampling-bin/fusionhop sample \$line < /dev/null || true
  done
  echo \"\$(date '+%Y-%m-%d %H:%M:%S') run_sampling.sh: all decks finished\"
" >> "$LOG" 2>&1 &
RUN=$!
echo "$RUN" > "$BUILD/sampling.pid"

[ "${NOCOMMIT:-0}" = 1 ] && exit 0
# Commit loop: ends after the sampling ends (one last commit).
nohup sh -c "
  while :; do
    alive=1; kill -0 $RUN 2>/dev/null || alive=0
    [ \$alive = 1 ] && sleep 2700
    for try in 1 2 3 4 5 6; do
      git add $DATA $LOG && git commit -q -m 'Stilbene reference dataset: progress' -- $DATA $LOG && break
      sleep 20
    done
    [ \$alive = 0 ] && break
  done" > "$BUILD/sampling_commit.out" 2>&1 &
echo "sampling pid $RUN (log $LOG), commit loop pid $!" >&2
