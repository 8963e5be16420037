#!/bin/sh
# Does STO-3G pretraining buy accuracy per ab initio hour? (issue 8) Trains one member of the
# shipped architecture on the 6-31G data (a) from scratch and (b) from one member pretrained on the
# STO-3G data, with the same seed, epochs and split (by id: the STO-3G training part holds no 6-31G
# test geometry), and prints the test reports next to the cost of the two datasets.
#
#   inputs/train/pretrain_compare.sh [EPOCHS (1000)] [OUT (runs/pretrain)]
#   environment: D631, DSTO: the datasets (default the shipped ones; give frozen copies while a
#   sampling run appends to them); SEED (default 1): the split and the initial weights
set -eu
cd "$(dirname "$0")/../.."
EPOCHS=${1:-1000}
OUT=${2:-runs/pretrain}
D631=$(realpath "${D631:-inputs/datasets/stilbene_sa2cas22_631g.h5}")
DSTO=$(realpath "${DSTO:-inputs/datasets/stilbene_sa2cas22_sto3g.h5}")
SEED=${SEED:-1}
FH=./build/fusionhop
mkdir -p "$OUT"
A=$(cd "$OUT" && pwd)
$FH dataset info "$D631" --seed "$SEED" | grep -E "^all|^cost|^split"
$FH dataset info "$DSTO" --seed "$SEED" | grep -E "^all|^cost|^split"
echo "== (p) pretraining on STO-3G" >&2
# with the 6-31G deck's readout (stilbene_sto3g.inp keeps the vector readout of rounds 4-8, which
# the diabatic one of stilbene.inp cannot start from)
$FH train inputs/train/stilbene_sto3g.inp -o "$A/sto3g.h5" --set train.committee=1 \
    --set train.seed="$SEED" --set train.dataset="$DSTO" --set train.epochs="$EPOCHS" \
    --set model.coupling=diabatic --set model.nac_even_head=true \
    --set 'model.nac_gap_eps=1e-3 hartree' > "$A/sto3g.log" 2>&1
echo "== (a) 6-31G from scratch" >&2
$FH train inputs/train/stilbene.inp -o "$A/scratch.h5" --set train.committee=1 \
    --set train.seed="$SEED" --set train.dataset="$D631" --set 'train.init_model=""' \
    --set train.epochs="$EPOCHS" > "$A/scratch.log" 2>&1
echo "== (b) 6-31G fine-tuned from the STO-3G model" >&2
$FH train inputs/train/stilbene.inp -o "$A/finetuned.h5" --set train.committee=1 \
    --set train.seed="$SEED" --set train.dataset="$D631" --set train.init_model="$A/sto3g.h5" \
    --set train.epochs="$EPOCHS" > "$A/finetuned.log" 2>&1
for r in sto3g scratch finetuned; do
    echo "$r: $(grep -E '^test \(' "$A/$r.log")"
    grep -E '^test NACs' "$A/$r.log" || true
done
