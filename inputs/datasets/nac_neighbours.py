#!/usr/bin/python3
# How fast does the reference coupling turn near the intersections, compared with how densely the
# dataset samples them? For every row with an S1-S0 gap below GAP eV, the nearest other such row
# (RMSD after the best rotation, Kabsch, reflections allowed) and the phase-free |cos| between the
# two rows' CI-block couplings h (nacs_ci, the model's target; the neighbour's rotated onto the
# row). Averaged per band of RMSD. A model cannot be expected to predict coupling directions
# better than the data resolve them: where even the nearest computed neighbour disagrees, the
# test cosine measures sampling density as much as the model. Read-only; seconds.
#   /usr/bin/python3 inputs/datasets/nac_neighbours.py [DATASET] [GAP_EV]
# (Debian's python3 with numpy and h5py: python3-numpy, python3-h5py)
import sys
import h5py
import numpy as np

path = sys.argv[1] if len(sys.argv) > 1 else "inputs/datasets/stilbene_sa2cas22_631g.h5"
gap_max = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
HARTREE_EV = 27.211386245988

with h5py.File(path, "r") as f:
    ok = (f["status"][:] == 0) & (f["has_nac_parts"][:, 0] == 1)
    E, X, H = f["energies"][:], f["positions"][:], f["nacs_ci"][:, 0]
    origin = f["origin"][:].astype(str)
gap = (E[:, 1] - E[:, 0]) * HARTREE_EV
rows = np.where(ok & (gap < gap_max))[0]


def align(a, b):
    """Rotation R (reflection allowed) with (b - mean) R closest to (a - mean), and the RMSD."""
    a0, b0 = a - a.mean(0), b - b.mean(0)
    u, _, vt = np.linalg.svd(b0.T @ a0)
    r = u @ vt
    return r, np.sqrt((((b0 @ r) - a0) ** 2).sum(1).mean())


result = []
for i in rows:
    best = None
    for j in rows:
        if j != i:
            r, d = align(X[i], X[j])
            if best is None or d < best[1]:
                best = (j, d, r)
    j, d, r = best
    hi, hj = H[i].ravel(), (H[j] @ r).ravel()
    result.append((origin[i], d, abs(hi @ hj) / np.linalg.norm(hi) / np.linalg.norm(hj)))

print(f"{path}: {len(rows)} rows with a gap below {gap_max:g} eV")
d = np.array([t[1] for t in result])
c = np.array([t[2] for t in result])
for lo, hi in [(0.0, 0.05), (0.05, 0.1), (0.1, 0.2), (0.2, 10.0)]:
    m = (d >= lo) & (d < hi)
    if m.any():
        print(f"nearest neighbour {lo:.2f}-{hi:.2f} A: {m.sum():4d} rows, mean |cos| {c[m].mean():.2f}, "
              f"median {np.median(c[m]):.2f}")
for o in sorted(set(t[0] for t in result)):
    m = np.array([t[0] == o for t in result])
    print(f"  {o:18s} {m.sum():3d} rows: median nearest RMSD {np.median(d[m]):.3f} A, mean |cos| {c[m].mean():.2f}")
