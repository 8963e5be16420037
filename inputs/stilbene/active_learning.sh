#!/bin/sh
# One active-learning round for the stilbene model: train the committee on the dataset as it is,
# run short S1 ensembles from cis- and trans-stilbene on it, and start the reference calculations
# (SA2-CASSCF(2,2)/6-31G, in the background) at the frames where the committee disagrees. The
# next round starts when those are in the dataset.
#
#   inputs/stilbene/active_learning.sh ROUND [NTRAJ (16)] [TMAX (500 fs)]
#   environment: SPREAD_MAX (e.g. "1 eV": let the trajectories go further than the decks' 0.3 eV
#   limit, into the torsion), COUNT (frames per side, default the deck's 60), SKIP_TRAIN=1 (the
#   model was trained already), EPOCHS (default the training deck's), PRECISION=double (the
#   model's arithmetic in the dynamics; rounds before 2026-12-05 ran in double, so remaking one
#   bitwise needs it)
#
# Writes inputs/models/stilbene.h5 (and its training log inputs/models/stilbene.train.log),
# runs/al/ROUND/{cis,trans} and dataset rows with origin al<ROUND>-cis / al<ROUND>-trans (the two
# decks join the sampling queue if a sampling run is going on).
set -eu
cd "$(dirname "$0")/../.."
ROUND=${1:?usage: active_learning.sh ROUND [NTRAJ] [TMAX]}
NTRAJ=${2:-16}
TMAX=${3:-500 fs}
FH=./build/fusionhop
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

if [ "${SKIP_TRAIN:-0}" != 1 ]; then
    # the out-of-sample test of the last round: the current model on the rows added since
    echo "== round $ROUND: the current committee on the rows added since it was trained" >&2
    $FH dataset errors inputs/datasets/stilbene_sa2cas22_631g.h5 --model inputs/models/stilbene.h5 \
        --new >&2 || true
    echo "== round $ROUND: training the committee" >&2
    $FH train inputs/train/stilbene.inp ${EPOCHS:+--set train.epochs=$EPOCHS} 2>&1 |
        tee inputs/models/stilbene.train.log | grep -E "^fusionhop|^test" >&2
fi

mkdir -p "runs/al/$ROUND"
for side in cis trans; do
    out=runs/al/$ROUND/$side
    echo "== round $ROUND: $NTRAJ S1 trajectories from $side-stilbene, $TMAX -> $out" >&2
    mpirun -n 2 $FH run inputs/stilbene/$side.inp -o "$out" --set dynamics.ntraj="$NTRAJ" \
        --set "dynamics.tmax=$TMAX" ${SPREAD_MAX:+--set "dynamics.spread_max=$SPREAD_MAX"} \
        ${PRECISION:+--set "surface.precision=$PRECISION"} 2> "$out.log" || true
    tail -1 "$out.log" >&2
done

echo "== round $ROUND: reference calculations at the frames with a large committee spread" >&2
set -- inputs/stilbene/sample_active.inp --set "sample.source=../../runs/al/$ROUND/cis" \
        --set "sample.origin=al$ROUND-cis" ${COUNT:+--set sample.count=$COUNT} \
    -- inputs/stilbene/sample_active.inp --set "sample.source=../../runs/al/$ROUND/trans" \
        --set "sample.origin=al$ROUND-trans" ${COUNT:+--set sample.count=$COUNT}
inputs/datasets/run_sampling.sh "$@"   # starts the queue, or joins the running one
