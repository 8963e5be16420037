#!/bin/sh
# Benchmark of the ensemble runner on stilbene: trajectory-steps per second with 1 and 2 ranks
# (medians of repeated runs), the parallel efficiency, and the projected wall time of the full cis
# deck (100 trajectories x 1 ps at 0.5 fs = 200000 steps) on this machine.
#
#   tests/bench/bench_runner.sh BUILD_DIR [REPEATS (3)] [NTRAJ (8)] [TMAX_FS (200)] [ISOMER (cis)]
#                               [WORKDIR]
#
# The model has the shipped model's size: the small candidate of inputs/train/stilbene.inp
# (16x0e+16x1o, l_max 2, correlation 3, radial MLP [32,32], readout 16, 5 Angstrom, 2 states) with a
# committee of 3, but UNTRAINED weights (tests/tools/runner_model random): the cost of a step does
# not depend on the weights. Because an untrained landscape has no minimum to sample, every
# trajectory starts at rest at the cis- (or trans-) stilbene S0 geometry (sampling = fixed) with a
# gentle landscape (0.001 eV scale), so the molecule keeps its shape and neighbour count over the
# run; the energy, spread and bond monitors are off so that every trajectory runs to tmax. Everything
# else is the cis deck's: 0.5 fs steps, NACs (rescaling along them), EDC, a frame every 2 steps, a
# checkpoint every 200 (so the figures include the output). The load average (other jobs on the
# machine) is printed with every figure, and the CPU time per step of all processes (startup
# included): other jobs inflate it far less than wall-clock time, so wall-clock efficiency well
# below the CPU efficiency means the ranks were waiting for cores taken by other jobs.
set -eu
B=$(cd "$1" && pwd)
REPEATS=${2:-3}
NTRAJ=${3:-8}
TMAX=${4:-200}
ISOMER=${5:-cis}
WORK=${6:-$B/bench_runner}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
FH=$B/fusionhop
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"
cp "$SRC/inputs/geometries/$ISOMER-stilbene.xyz" geom.xyz
"$B/tests/runner_model" random model.h5 geom.xyz --arch stilbene --states 2 --members 3 \
    --seed 1 --gap 4 --scale 0.001 --nac-scale 0.05
cat > deck.inp <<DECK
[surface]
type = ml
model = model.h5
geometry = geom.xyz
[dynamics]
ntraj = $NTRAJ
dt = 0.5 fs
tmax = $TMAX fs
decoherence = edc
edc_c = 0.1 hartree
rescale = nac
frustrated = keep
spread_max = 0 eV
econs_step = 0 eV
econs_drift = 0 eV
bond_break = 0
[initial]
seed = 1001
sampling = fixed
state = 1
[output]
frame_every = 2
checkpoint_every = 200
DECK

load() { cut -d' ' -f1-3 /proc/loadavg; }
rate() { sed -n 's/.*(\([0-9.]*\) trajectory-steps\/s).*/\1/p' "$1"; }
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

steps=$(awk -v n="$NTRAJ" -v t="$TMAX" 'BEGIN {printf "%d", n * t / 0.5}')
echo "bench_runner: $ISOMER-stilbene (26 atoms), 2 states, committee of 3 (untrained), $NTRAJ trajectories x $TMAX fs ($steps steps) per run, $REPEATS repeats"
for R in 1 2; do
    : > rates_$R
    : > cpu_$R
    i=0
    while [ "$i" -lt "$REPEATS" ]; do
        l0=$(load)
        if [ "$R" = 1 ]; then
            /usr/bin/time -f "%U %S" -o cpu.txt "$FH" run deck.inp -o out --force 2> run.log
        else
            /usr/bin/time -f "%U %S" -o cpu.txt mpirun -n "$R" "$FH" run deck.inp -o out --force 2> run.log
        fi
        r=$(rate run.log)
        grep -q "$NTRAJ done, 0 failed" run.log || { cat run.log >&2; exit 1; }
        # CPU time of all processes (startup included) per step: what the ranks cost, whatever
        # else runs on the machine
        c=$(awk -v n="$steps" '{printf "%.2f", 1000 * ($1 + $2) / n}' cpu.txt)
        echo "  $R rank(s), run $((i + 1)): $r trajectory-steps/s, $c CPU-ms/step (load average before: $l0, after: $(load))"
        echo "$r" >> rates_$R
        echo "$c" >> cpu_$R
        i=$((i + 1))
    done
done
r1=$(median < rates_1)
r2=$(median < rates_2)
awk -v r1="$r1" -v r2="$r2" -v c="$(nproc)" -v c1="$(median < cpu_1)" -v c2="$(median < cpu_2)" 'BEGIN {
    printf "median: 1 rank %.1f, 2 ranks %.1f trajectory-steps/s; speed-up %.2f, parallel efficiency %.0f%%\n",
           r1, r2, r2 / r1, 100 * r2 / (2 * r1)
    printf "median CPU time per step: 1 rank %.2f ms, 2 ranks %.2f ms (CPU efficiency %.0f%%)\n",
           c1, c2, 100 * c1 / c2
    printf "per step (1 rank): %.2f ms\n", 1000 / r1
    printf "full cis deck (100 x 1 ps at 0.5 fs = 200000 steps): %.0f min on 1 rank, %.0f min on 2 ranks (%d cores here)\n",
           200000 / r1 / 60, 200000 / r2 / 60, c
}'
