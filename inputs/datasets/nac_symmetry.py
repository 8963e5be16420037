#!/usr/bin/python3
# Is the reference coupling odd or even under the swap of stilbene's two halves, band by band of
# the S1-S0 gap? The model's coupling heads are flipped ([model] nac_flip: odd under the swap,
# right where S0 and S1 have opposite symmetry, as at the Franck-Condon points) plus, optionally,
# unflipped parts (nac_even_head for H01, nac_residual_even for the residual head) for states of
# the same symmetry. Per completed row with the CI block h = <psi_0|dH/dR|psi_1> (hartree/bohr):
# the rotation that best superimposes the geometry on its half-swapped copy (Kabsch; atom 1 <-> 2,
# k <-> k + 12 for k = 3..14, the order of inputs/geometries/*-stilbene.xyz), the RMSD of that
# fit (how symmetric the geometry is), and the odd share |h - O h|^2 / (4 |h|^2) with (O h)_a =
# R h_swap(a). Printed per gap band: rows, median odd share over all rows and over the rows whose
# halves superimpose within 0.3 A (where the split means something), median RMSD. Seconds.
#   /usr/bin/python3 inputs/datasets/nac_symmetry.py [DATASET]
# (Debian's python3 with numpy and h5py: python3-numpy, python3-h5py)
import sys

import h5py
import numpy as np

path = sys.argv[1] if len(sys.argv) > 1 else "inputs/datasets/stilbene_sa2cas22_631g.h5"
HARTREE_EV = 27.211386245988
BANDS = [(0, 0.5), (0.5, 1), (1, 1.5), (1.5, 2), (2, 2.5), (2.5, 3), (3, 4), (4, 10)]
NEAR = 0.3   # Angstrom

swap = np.arange(26)
swap[0], swap[1] = 1, 0
for k in range(2, 14):
    swap[k], swap[k + 12] = k + 12, k


def best_rotation(p, q):
    """Proper rotation R minimising |p R^T - q| (rows are centred points)."""
    u, _, vt = np.linalg.svd(p.T @ q)
    d = np.sign(np.linalg.det(vt.T @ u.T))
    return vt.T @ np.diag([1.0, 1.0, d]) @ u.T


with h5py.File(path, "r") as f:
    status, E, X = f["status"][:], f["energies"][:], f["positions"][:]
    H, has = f["nacs_ci"][:, 0], f["has_nac_parts"][:, 0]

rows = []
for r in np.flatnonzero((status == 0) & (has != 0)):
    if X[r].shape[0] != 26:
        sys.exit("nac_symmetry: %s is not stilbene (26 atoms)" % path)
    x = X[r] - X[r].mean(axis=0)
    R = best_rotation(x[swap], x)
    rmsd = np.sqrt(((x[swap] @ R.T - x) ** 2).sum(axis=1).mean())
    h = H[r]
    oh = h[swap] @ R.T
    odd = ((h - oh) ** 2).sum() / (4.0 * (h ** 2).sum())
    rows.append(((E[r, 1] - E[r, 0]) * HARTREE_EV, odd, rmsd))
rows = np.array(rows)

print("%s: %d rows with the CI-block coupling" % (path, len(rows)))
print("odd share of |h|^2 under the swap of the halves (0: even, 1: odd); near: halves within %.1f A" % NEAR)
print("gap (eV)     rows  odd (all)  near rows  odd (near)  RMSD median (A)")
for lo, hi in BANDS:
    s = (rows[:, 0] >= lo) & (rows[:, 0] < hi)
    if not s.any():
        continue
    near = s & (rows[:, 2] < NEAR)
    print("%4.1f - %4.1f  %5d  %9.2f  %9d  %10s  %15.2f" %
          (lo, hi, s.sum(), np.median(rows[s, 1]), near.sum(),
           "%.2f" % np.median(rows[near, 1]) if near.any() else "-", np.median(rows[s, 2])))
