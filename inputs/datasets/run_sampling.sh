#!/bin/sh
# Runs sampling decks one after another in the background (`mpirun -n 2 fusionhop sample DECK`:
# one OpenMolcas process per core, work directories on /dev/shm), plus a loop that commits the
# dataset and the log every 45 minutes while they run and once at the end. Resumable: run it again
# after a kill or a reboot and every deck skips the geometries the dataset already holds.
#
#   inputs/datasets/run_sampling.sh [--first] DECK [--set section.key=value]... [-- DECK ...]
#   e.g. inputs/datasets/run_sampling.sh inputs/stilbene/sample_xyz.inp \
#          -- inputs/stilbene/sample_wigner_cis.inp -- inputs/stilbene/sample_wigner_trans.inp
#   inputs/datasets/run_sampling.sh --list
#
# The decks wait in a queue file next to the dataset (DATA with .queue for .h5, one `fusionhop
# sample` argument list per line; QUEUE=FILE for another), committed with the dataset so that a
# fresh clone on a new machine resumes where the last one stopped; a deck leaves it when its run
# ends. (Active-learning lines read trajectories under runs/, which a fresh clone lacks:
# `SKIP_TRAIN=1 inputs/stilbene/active_learning.sh ROUND` with the round's settings remakes them,
# bitwise, from the same model and seeds; a line whose source is missing fails and leaves.)
# Called while a run is going on, the script only adds the decks to the queue (at its end, or
# after the running deck with --first), so nothing in progress is lost. A stopped or killed run
# started again goes on with the deck it was running.
#
# Stop: kill -TERM -- -$(cat build/sampling.pid) (the whole process group; the OpenMolcas runs in
# progress end with it and their geometries are lost, nothing else; the queue stays).
# NOCOMMIT=1: no commit loop. The fusionhop binary is copied first so that rebuilding does not
# disturb the running jobs.
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
NP=${NP:-2}
DATA=${DATA:-inputs/datasets/stilbene_sa2cas22_631g.h5}
LOG=${LOG:-inputs/datasets/stilbene_sa2cas22_631g.log}
QUEUE=${QUEUE:-${DATA%.h5}.queue}
mkdir -p "$BUILD"
touch "$QUEUE"
# alive PID: the process exists and is not a zombie (an orphan's parent may never reap it)
alive() {
    [ -r "/proc/$1/stat" ] && [ "$(sed 's/^.*) \(.\).*$/\1/' "/proc/$1/stat")" != Z ]
}
running=0
if [ -f "$BUILD/sampling.pid" ] && alive "$(cat "$BUILD/sampling.pid")"; then
    running=1
fi
if [ "${1:-}" = "--list" ]; then
    [ $running = 1 ] && echo "running (pid $(cat "$BUILD/sampling.pid")); queue $QUEUE:" ||
        echo "not running; queue $QUEUE:"
    cat "$QUEUE"
    exit 0
fi
first=0
if [ "${1:-}" = "--first" ]; then first=1; shift; fi
[ $# -gt 0 ] || [ $running = 0 ] || { echo "usage: run_sampling.sh [--first] DECK [--set k=v]... [-- DECK ...] | --list (no DECK: resume the queue)" >&2; exit 2; }

# The decks, separated by "--", each with its own --set options, one line each.
JOBS=$(mktemp)
job=""
for a in "$@"; do
    if [ "$a" = "--" ]; then
        [ -n "$job" ] && echo "$job" >> "$JOBS"
        job=""
    else
        job="$job '$a'"
    fi
done
[ -n "$job" ] && echo "$job" >> "$JOBS"
if [ $first = 1 ] && [ $running = 1 ] && [ -s "$QUEUE" ]; then
    # after the line being run (the first), before the rest
    { head -n 1 "$QUEUE"; cat "$JOBS"; tail -n +2 "$QUEUE"; } > "$QUEUE.new"
elif [ $first = 1 ]; then
    { cat "$JOBS"; cat "$QUEUE"; } > "$QUEUE.new"
else
    { cat "$QUEUE"; cat "$JOBS"; } > "$QUEUE.new"
fi
mv "$QUEUE.new" "$QUEUE"
rm -f "$JOBS"
if [ $running = 1 ]; then
    echo "run_sampling.sh: queued behind the running deck ($QUEUE):" >&2
    cat "$QUEUE" >&2
    exit 0
fi
[ -s "$QUEUE" ] || { echo "run_sampling.sh: nothing queued" >&2; exit 2; }

# (work directories that killed runs left on the RAM disk, ~0.6 GB each, are removed by the next
# OpenMolcas provider: fh_molcas_sweep_scratch)
mkdir -p "$BUILD/sampling-bin"
cp "$BUILD/fusionhop" "$BUILD/sampling-bin/fusionhop"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# The loop takes the first line, runs it and removes it (unless the queue was edited meanwhile so
# that another line is first).
setsid nohup sh -c "
  echo \"\$(date '+%Y-%m-%d %H:%M:%S') run_sampling.sh: start\"
  while [ -s '$QUEUE' ]; do
    line=\$(head -n 1 '$QUEUE')
    echo \"\$(date '+%Y-%m-%d %H:%M:%S') fusionhop sample \$line\"
    eval mpirun -n $NP $BUILD/sampling-bin/fusionhop sample \$line < /dev/null || true
    if [ \"\$(head -n 1 '$QUEUE')\" = \"\$line\" ]; then
      tail -n +2 '$QUEUE' > '$QUEUE.next' && mv '$QUEUE.next' '$QUEUE'
    fi
  done
  echo \"\$(date '+%Y-%m-%d %H:%M:%S') run_sampling.sh: all decks finished\"
" >> "$LOG" 2>&1 &
RUN=$!
echo "$RUN" > "$BUILD/sampling.pid"

[ "${NOCOMMIT:-0}" = 1 ] && exit 0
# Commit loop: ends after the sampling ends (one last commit).
nohup sh -c "
  while :; do
    alive=1; [ -r /proc/$RUN/stat ] && [ \"\$(sed 's/^.*) \\(.\\).*\$/\\1/' /proc/$RUN/stat)\" != Z ] || alive=0
    [ \$alive = 1 ] && sleep 2700
    for try in 1 2 3 4 5 6; do
      git add $DATA $LOG $QUEUE &&
        git commit -q -m 'Stilbene reference dataset: progress' -- $DATA $LOG $QUEUE && break
      sleep 20
    done
    [ \$alive = 0 ] && break
  done" > "$BUILD/sampling_commit.out" 2>&1 &
echo "sampling pid $RUN (log $LOG), commit loop pid $!" >&2
