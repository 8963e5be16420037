#!/bin/sh
# Starts (or resumes: geometries already in the dataset are skipped) the stilbene reference batch
# in the background, plus a loop that commits the dataset and its log every 45 minutes while the
# batch runs. One pymolcas process per batch, one thread, work directories on /dev/shm. On the
# 2-core machine run two batches on disjoint lists, each with its own INSTANCE name:
#
#   INSTANCE=a inputs/datasets/run_stilbene_batch.sh inputs/datasets/stilbene_batch1a.xyz
#   INSTANCE=b inputs/datasets/run_stilbene_batch.sh inputs/datasets/stilbene_batch1b.xyz
#
# Stop: kill -TERM $(cat build-molcas/molcas_batch-a.pid) (it finishes the current geometry).
#
# Needs build-molcas/tests/molcas_batch (cmake --build build-molcas --target molcas_batch);
# the binary is copied first so that rebuilding does not disturb the running batch.
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build-molcas}
LIST=${1:-inputs/datasets/stilbene_batch1.xyz}
[ $# -gt 0 ] && shift
DATA=inputs/datasets/stilbene_sa2cas22_631g.h5
LOG=inputs/datasets/stilbene_sa2cas22_631g.log
NAME=molcas_batch${INSTANCE:+-$INSTANCE}
if [ -f "$BUILD/$NAME.pid" ] && kill -0 "$(cat "$BUILD/$NAME.pid")" 2>/dev/null; then
    echo "run_stilbene_batch.sh: batch $NAME is running already (pid $(cat "$BUILD/$NAME.pid"))" >&2
    exit 1
fi
# Work directories of calculations killed with their batch (each holds ~0.5 GB of integrals on
# the RAM disk); a live one is never older than the 1 h timeout.
find /dev/shm -maxdepth 1 -name 'fhmolcas.*' -mmin +120 -exec rm -rf {} + 2>/dev/null || true
mkdir -p "$BUILD/batch-bin" "$BUILD/stilbene-logs"
cp "$BUILD/tests/molcas_batch" "$BUILD/batch-bin/$NAME"

nohup "$BUILD/batch-bin/$NAME" --xyz "$LIST" --dataset "$DATA" \
    --basis 6-31G --nactel 2 --nactorb 2 --inactive 47 --nstates 2 --memory 2000 \
    --scratch /dev/shm --keep-dir "$BUILD/stilbene-logs" \
    --orbital-cache /dev/shm/fh-stilbene-orbitals --timeout 3600 "$@" >> "$LOG" 2>&1 &
BATCH=$!
echo "$BATCH" > "$BUILD/$NAME.pid"

# Commit loop (one for all batches): ends after the last batch ends (one last commit).
if [ -f "$BUILD/commit_loop.pid" ] && kill -0 "$(cat "$BUILD/commit_loop.pid")" 2>/dev/null; then
    echo "batch pid $BATCH (log $LOG); commit loop already running" >&2
    exit 0
fi
nohup sh -c "
  while :; do
    alive=0
    for f in $BUILD/molcas_batch*.pid; do kill -0 \$(cat \$f) 2>/dev/null && alive=1; done
    [ \$alive = 1 ] && sleep 2700
    for try in 1 2 3 4 5 6; do
      files='$DATA $LOG'; [ -f inputs/datasets/verified_ids.txt ] && files=\"\$files inputs/datasets/verified_ids.txt\"
      git add \$files && git commit -q -m 'Stilbene reference dataset: progress' -- \$files && break
      sleep 20
    done
    [ \$alive = 0 ] && break
  done" > "$BUILD/commit_loop.out" 2>&1 &
echo "$!" > "$BUILD/commit_loop.pid"
echo "batch pid $BATCH (log $LOG), commit loop pid $!" >&2
