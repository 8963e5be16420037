#!/bin/sh
# One active-learning round for the stilbene model: train the committee on the dataset as it is,
# run short S1 ensembles from cis- and trans-stilbene on it, and start the reference calculations
# (SA2-CASSCF(2,2)/6-31G, in the background) at the frames where the committee disagrees. The
# next round starts when those are in the dataset.
#
#   inputs/stilbene/active_learning.sh ROUND [NTRAJ (16)] [TMAX (500 fs)]
#
# Writes inputs/models/stilbene.h5 (and its training log inputs/models/stilbene.train.log),
# runs/al/ROUND/{cis,trans} and dataset rows with origin al<ROUND>-cis / al<ROUND>-trans.
set -eu
cd "$(dirname "$0")/../.."
ROUND=${1:?usage: active_learning.sh ROUND [NTRAJ] [TMAX]}
NTRAJ=${2:-16}
TMAX=${3:-500 fs}
FH=./build/fusionhop
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

echo "== round $ROUND: training the committee" >&2
$FH train inputs/train/stilbene.inp 2>&1 | tee inputs/models/stilbene.train.log | grep -E "^fusionhop|^test" >&2

mkdir -p "runs/al/$ROUND"
for side in cis trans; do
    out=runs/al/$ROUND/$side
    echo "== round $ROUND: $NTRAJ S1 trajectories from $side-stilbene, $TMAX -> $out" >&2
    mpirun -n 2 $FH run inputs/stilbene/$side.inp -o "$out" --set dynamics.ntraj="$NTRAJ" \
        --set "dynamics.tmax=$TMAX" 2> "$out.log" || true
    tail -1 "$out.log" >&2
done

echo "== round $ROUND: reference calculations at the frames with a large committee spread" >&2
inputs/datasets/run_sampling.sh \
    inputs/stilbene/sample_active.inp --set "sample.source=../../runs/al/$ROUND/cis" \
        --set "sample.origin=al$ROUND-cis" \
    -- inputs/stilbene/sample_active.inp --set "sample.source=../../runs/al/$ROUND/trans" \
        --set "sample.origin=al$ROUND-trans"
