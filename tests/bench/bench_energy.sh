#!/bin/sh
# Energy conservation of ML surface-hopping trajectories run by `fusionhop run`: the distribution
# over an ensemble of each trajectory's largest total-energy deviation max_t |E_tot(t) - E_tot(0)|
# (column max_dE_eV of `fusionhop analyze`'s quality.tsv): median, 90th percentile, maximum.
#
#   tests/bench/bench_energy.sh BUILD_DIR [NTRAJ (32)] [TMAX (1 ps)] [WORKDIR]
#
# The model: the tiny three-state model fitted to an analytic H-C-O (tests/tools/runner_model fit:
# 8x0e+8x1o, l_max 2, correlation 2, committee of 2; smooth, with a true S0 minimum). Three
# ensembles from Wigner samples (0 K) of its optimised S0 minimum:
#   S1, dt 0.5 fs    FSSH as in the cis deck (NAC rescaling, EDC, spread_max 0.3 eV)
#   S0, dt 0.5 fs    no hops: the velocity-Verlet integrator alone
#   S0, dt 0.25 fs   the same with half the step: a second-order integrator's error falls ~4x
set -eu
B=$(cd "$1" && pwd)
NTRAJ=${2:-32}
TMAX=${3:-1 ps}
WORK=${4:-$B/bench_energy}
FH=$B/fusionhop
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"
"$B/tests/runner_model" fit . > fit.log
cat > deck.inp <<DECK
[surface]
type = ml
model = hco_model.h5
geometry = hco.xyz
[dynamics]
ntraj = $NTRAJ
dt = 0.5 fs
tmax = $TMAX
decoherence = edc
rescale = nac
spread_max = 0.3 eV
[initial]
seed = 1001
sampling = wigner
temperature = 0 K
optimize = true
state = 1
[output]
frame_every = 2
checkpoint_every = 200
DECK

# summary of quality.tsv: all trajectories with frames, and those that reached tmax
stats() {
    awk -F'\t' 'NR > 1 && $6 > 0 {print $8, ($2 == "done")}' "$1/analysis/quality.tsv" | sort -g |
        awk '{v[++n] = $1; if ($2) {w[++m] = $1}}
             function q(a, k, p,   i) { i = int(p * (k - 1) + 0.5) + 1; return a[i] }
             END {
                 printf "%d trajectories: max|dE| median %.2f meV, 90th percentile %.2f meV, max %.2f meV",
                        n, 1e3 * q(v, n, 0.5), 1e3 * q(v, n, 0.9), 1e3 * v[n]
                 if (m > 0) printf "; the %d that reached tmax: median %.2f, 90th %.2f, max %.2f meV",
                                   m, 1e3 * q(w, m, 0.5), 1e3 * q(w, m, 0.9), 1e3 * w[m]
                 printf "\n"
             }'
}

ensemble() { # NAME SETTINGS...
    name=$1
    shift
    "$FH" run deck.inp -o "$name" --force "$@" 2> "$name.log"
    "$FH" analyze "$name" --no-plots > /dev/null 2> "$name.analyze.log"
    printf '%-16s %s | %s\n' "$name" "$(stats "$name")" "$(tail -1 "$name.log" | sed 's/^fusionhop run: //')"
}

echo "bench_energy: $(cat fit.log)"
echo "bench_energy: $NTRAJ trajectories x $TMAX, Wigner 0 K; load average $(cut -d' ' -f1-3 /proc/loadavg)"
ensemble S1_dt0.5 
ensemble S0_dt0.5 --set initial.state=0
ensemble S0_dt0.25 --set initial.state=0 --set dynamics.dt=0.25fs
