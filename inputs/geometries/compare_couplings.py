# Two committees' couplings along the S1 part of a fusionhop run's trajectories: what decides the
# FSSH hop rate, seen by both models on the same frames. Why: rounds 21 and 22 fit the dataset
# alike but decay at different rates (docs/stilbene.md, "Round 22"); this tells whether their
# couplings differ where the trajectories go, or the trajectories themselves differ.
#
#   /usr/bin/python3 inputs/geometries/compare_couplings.py RUN MODEL_A MODEL_B [TRAJS] [FRAMES]
#   e.g. ... runs/cis-r21/out inputs/models/stilbene.h5 runs/r22b/m.h5 0-19 400
# For trajectories TRAJS (a range a-b, default 0-19), the first FRAMES frames (default 400) on S1
# before any hop: per model the S1-S0 gap, sigma = d.v (1/fs, the NAC made sign-continuous along
# the trajectory), sigma's power in the band of the gaps where the hops happen (1.4-2.1 eV; a
# transition across a gap of E is driven by sigma's Fourier component at E/hbar) and below 0.5 eV,
# and the first-order amplitude |c0|^2 = |integral sigma exp(i integral gap/hbar)|^2 (no
# decoherence; its mean over the frames). Needs build/fusionhop, h5py and numpy; frames 1 fs apart.
import glob
import json
import subprocess
import sys

import h5py
import numpy as np

from h5md_run import write_frame

EV, BOHR, HBAR = 27.211386, 0.529177210903, 0.6582119569  # eV/hartree, Angstrom/bohr, eV fs
run, ma, mb = sys.argv[1], sys.argv[2], sys.argv[3]
a0, a1 = (int(v) for v in (sys.argv[4] if len(sys.argv) > 4 else '0-19').split('-'))
cap = int(sys.argv[5]) if len(sys.argv) > 5 else 400

X, V, seg = [], [], []
for t in range(a0, a1 + 1):
    f = h5py.File('%s/traj/traj_%06d.h5' % (run, t), 'r')
    act = f['observables/active_state/value'][:]
    n = min(int(np.argmax(act != 1)) if (act != 1).any() else len(act), cap)
    if n < 8:
        continue
    X.append(f['particles/all/position/value'][:n])
    V.append(f['particles/all/velocity/value'][:n])  # Angstrom/fs
    Z = f['particles/all/species'][:]
    seg.append(n)
X, V = np.concatenate(X), np.concatenate(V)
tmp = '/tmp/compare_couplings_%d.xyz' % len(X)
with open(tmp, 'w') as o:
    for k in range(len(X)):
        write_frame(o, 'frame %d' % k, Z, X[k])
print('%s: trajectories %d-%d, %d frames on S1' % (run, a0, a1, len(X)))
for name in (ma, mb):
    out = subprocess.run(['build/fusionhop', 'predict', '--model', name, '--xyz', tmp, '--precision',
                          'mixed'], capture_output=True, text=True, check=True).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    E = np.array([r['energies'] for r in rows]) * EV
    d = np.array([r['nac'][0] for r in rows])  # 1/bohr
    o, gaps, sig, hi, lo, amp = 0, [], [], 0.0, 0.0, []
    for n in seg:
        dd = d[o:o + n].copy()
        for k in range(1, n):
            if np.sum(dd[k] * dd[k - 1]) < 0:
                dd[k] *= -1
        s = np.einsum("kai,kai->k", dd, V[o:o + n]) / BOHR  # (1/bohr)(A/fs) -> 1/fs
        g = E[o:o + n, 1] - E[o:o + n, 0]
        F = np.abs(np.fft.rfft(s - s.mean())) ** 2
        w = np.fft.rfftfreq(n, 1.0) * 2 * np.pi * HBAR
        hi += F[(w > 1.4) & (w < 2.1)].sum()
        lo += F[w < 0.5].sum()
        amp.append(np.mean(np.abs(np.cumsum(s * np.exp(1j * np.cumsum(g) / HBAR))) ** 2))
        gaps.append(g), sig.append(np.abs(s))
        o += n
    g, s = np.concatenate(gaps), np.concatenate(sig)
    print('  %s: gap median %.2f eV, below 2 eV %.3f; |sigma| median %.4f mean %.4f 1/fs; power '
          '1.4-2.1 eV %.3g, below 0.5 eV %.3g; first-order |c0|^2 %.2e'
          % (name, np.median(g), np.mean(g < 2.0), np.median(s), s.mean(), hi, lo, np.mean(amp)))
