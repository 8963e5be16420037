#!/bin/sh
# Ensemble-runner tests under mpirun (plain processes: Criterion forks each test, MPI dislikes that).
#   runner_tests.sh FUSIONHOP WORKDIR ranks      rank-count independence (1, 2, 3 ranks)
#   runner_tests.sh FUSIONHOP WORKDIR kill       SIGKILL mid-run, resume, compare with uninterrupted
#   runner_tests.sh FUSIONHOP WORKDIR failing    failing trajectories are recorded, the rest go on
# Trajectories are compared with h5diff on the frame data, hops and status (bitwise: h5diff with no
# tolerance reports any difference).
set -eu
FH=$1
WORK=$2
MODE=$3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"

cat > deck.inp <<'DECK'
[surface]
type = tully1
[dynamics]
ntraj = 7
dt = 0.5 fs
tmax = 150 fs
[initial]
seed = 11
sampling = fixed
position = -10 bohr
momentum = 12 au
[output]
frame_every = 2
flush_every = 5
checkpoint_every = 20
DECK

same_runs() { # dirA dirB ntraj
    i=0
    while [ "$i" -lt "$3" ]; do
        f=$(printf 'traj/traj_%06d.h5' "$i")
        # h5diff exits 0 on datasets of different shapes ("not comparable"): compare shapes too
        if [ "$(h5ls -r "$1/$f")" != "$(h5ls -r "$2/$f")" ]; then
            echo "FAIL: $1/$f and $2/$f differ in shape" >&2
            exit 1
        fi
        for obj in /particles /observables /tsh/hops; do
            if ! h5diff -q "$1/$f" "$2/$f" "$obj" "$obj"; then
                echo "FAIL: $1/$f and $2/$f differ in $obj" >&2
                h5diff -r "$1/$f" "$2/$f" "$obj" "$obj" | head -20 >&2
                exit 1
            fi
        done
        i=$((i + 1))
    done
}

status_of() { h5dump -d /trajectories/status "$1/ensemble.h5" | grep -o "\"$2\"" | wc -l; }

case "$MODE" in
ranks)
    mpirun -n 1 "$FH" run deck.inp -o r1 2>r1.log
    mpirun -n 2 "$FH" run deck.inp -o r2 2>r2.log
    mpirun -n 3 "$FH" run deck.inp -o r3 2>r3.log
    "$FH" run deck.inp -o serial 2>serial.log
    same_runs r1 r2 7
    same_runs r1 r3 7
    same_runs r1 serial 7
    n=$(status_of r3 done)
    [ "$n" -eq 7 ] || { echo "FAIL: $n of 7 trajectories done with 3 ranks" >&2; exit 1; }
    # the ensemble index links every trajectory file
    h5ls -r r3/ensemble.h5 | grep -q 'traj_000006.*External Link' ||
        { echo "FAIL: ensemble.h5 lacks external links" >&2; h5ls -r r3/ensemble.h5 >&2; exit 1; }
    ;;
kill)
    # long enough (30000 steps per trajectory) that the kill lands mid-run on an idle machine
    sed -i 's/tmax = 150 fs/tmax = 15000 fs/; s/checkpoint_every = 20/checkpoint_every = 200/' deck.inp
    "$FH" run deck.inp -o ref 2>ref.log
    mpirun -n 2 "$FH" run deck.inp -o killed 2>killed.log &
    pid=$!
    # kill once a trajectory has finished (so some resume from the index, others from checkpoints)
    for _ in $(seq 1 600); do
        if [ -f killed/ensemble.h5 ] &&
            [ "$(HDF5_USE_FILE_LOCKING=FALSE status_of killed done 2>/dev/null || echo 0)" -ge 1 ]; then
            break
        fi
        sleep 0.05
    done
    kill -9 $pid 2>/dev/null || true
    pkill -9 -f "fusionhop run deck.inp -o killed" 2>/dev/null || true
    wait $pid 2>/dev/null || true
    done_before=$(status_of killed done)
    echo "killed with $done_before of 7 done" >&2
    [ "$done_before" -lt 7 ] || { echo "FAIL: the run ended before the kill; nothing was tested" >&2; exit 1; }
    mpirun -n 2 "$FH" run deck.inp -o killed 2>resume.log
    grep -q "already finished" resume.log
    same_runs ref killed 7
    n=$(status_of killed done)
    [ "$n" -eq 7 ] || { echo "FAIL: $n of 7 done after resume" >&2; exit 1; }
    # a third invocation has nothing left to do and changes nothing
    "$FH" run deck.inp -o killed 2>again.log
    grep -q "0 done, 0 failed, 7 already finished" again.log
    # a different deck on the same directory is refused, and the results stay
    if "$FH" run deck.inp -o killed --set dynamics.dt=0.25 2>diff.log; then
        echo "FAIL: a different deck resumed a run" >&2; exit 1
    fi
    grep -q "different deck" diff.log
    same_runs ref killed 7
    # a finished trajectory's file lost or damaged after the index recorded it is run again (the
    # same trajectory: its random numbers depend only on seed and index); the others are kept
    rm killed/traj/traj_000002.h5
    sz=$(stat -c %s killed/traj/traj_000005.h5)
    truncate -s $((sz / 2)) killed/traj/traj_000005.h5
    "$FH" run deck.inp -o killed 2>lost.log
    grep -q "trajectory 2 is recorded as finished but its file .* running it again" lost.log
    grep -q "trajectory 5 is recorded as finished but its file .* running it again" lost.log
    grep -q "2 done, 0 failed, 5 already finished" lost.log
    same_runs ref killed 7
    ;;
failing)
    # every trajectory violates the per-step energy tolerance: all are recorded as failed with
    # their reason, and the ensemble still runs all of them
    "$FH" run deck.inp -o fail --set dynamics.econs_step=1e-12eV 2>fail.log
    n=$(status_of fail failed)
    [ "$n" -eq 7 ] || { echo "FAIL: $n of 7 recorded as failed" >&2; cat fail.log >&2; exit 1; }
    h5dump -d /trajectories/stop_reason fail/ensemble.h5 | grep -q econs_step
    # --force with --range would reset other job-array tasks' records: refused with exit code 2
    set +e
    "$FH" run deck.inp -o fail --force --range 0:2 2>force.log
    rc=$?
    set -e
    [ "$rc" -eq 2 ] || { echo "FAIL: --force --range exit code $rc" >&2; exit 1; }
    grep -q "cannot be combined with --range" force.log
    [ "$(status_of fail failed)" -eq 7 ] || { echo "FAIL: records changed" >&2; exit 1; }
    ;;
*)
    echo "unknown mode $MODE" >&2
    exit 2
    ;;
esac
echo "runner_tests $MODE: ok" >&2
