#!/usr/bin/python3
# Is a held-out row badly predicted because the training data do not reach it? For every row of a
# split part (default test) this finds the nearest row of the training part (RMSD in Angstrom
# after the best rotation and translation, atoms in dataset order: a phenyl ring turned by 180
# degrees counts as far, so the distances are upper bounds) and prints the model's gap and force
# MAE per band of that distance, and the median distance of the rows of each origin group.
# The errors come from `fusionhop dataset errors --rows` (the committee mean; seconds).
#   /usr/bin/python3 inputs/datasets/coverage.py DATASET MODEL [PART] [FUSIONHOP]
# HOT=TAG,TAG,...: the origins counted as one group (default the stilbene hot-S0 frames
# al16-cis,al16c-cis,al16b-cis,al15-cis,al21-cis,al21b-cis,al16d-cis). SEED=S: the split seed (1).
# (Debian's python3 with numpy and h5py: python3-numpy, python3-h5py)
import os
import subprocess
import sys

import h5py
import numpy as np


def rows(fusionhop, data, model, part, seed):
    """id -> (origin, gap error meV, force error meV/A) of one split part."""
    out = subprocess.run([fusionhop, 'dataset', 'errors', data, '--model', model, '--split', part,
                          '--seed', seed, '--rows'], check=True, capture_output=True, text=True)
    table = {}
    for line in out.stdout.splitlines():
        f = line.split()
        # row lines: id origin gap_eV E0 E1 gap force nac (the per-origin table has no decimal
        # point in its third column)
        if len(f) == 8 and '.' in f[2]:
            table[f[0]] = (f[1], float(f[5]), float(f[6]))
    return table


def nearest(x, train):
    """Smallest RMSD from x [n,3] to each of train [m,n,3] (all centred), Kabsch."""
    h = np.einsum('ai,mak->mik', x, train)
    u, s, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(np.einsum('mij,mjk->mik', u, vt)))
    s[:, -1] *= d
    e = (x ** 2).sum() + (train ** 2).sum(axis=(1, 2)) - 2 * s.sum(axis=1)
    return float(np.sqrt(np.maximum(e, 0) / x.shape[0]).min())


def main():
    if len(sys.argv) < 3:
        sys.exit('usage: coverage.py DATASET MODEL [PART] [FUSIONHOP]')
    data, model = sys.argv[1], sys.argv[2]
    part = sys.argv[3] if len(sys.argv) > 3 else 'test'
    fusionhop = sys.argv[4] if len(sys.argv) > 4 else 'build/fusionhop'
    seed = os.environ.get('SEED', '1')
    hot = set(os.environ.get('HOT', 'al16-cis,al16c-cis,al16b-cis,al15-cis,al21-cis,al21b-cis,'
                             'al16d-cis').split(','))
    held = rows(fusionhop, data, model, part, seed)
    trained = rows(fusionhop, data, model, 'train', seed)
    with h5py.File(data, 'r') as f:
        ids = [v.decode() if isinstance(v, bytes) else v for v in f['id'][:]]
        status = f['status'][:]
        pos = f['positions'][:]
    where = {i: k for k, i in enumerate(ids) if status[k] == 0}
    centred = lambda x: x - x.mean(axis=0)
    train = np.array([centred(pos[where[i]]) for i in trained])
    found = []
    for i, (origin, gap, force) in held.items():
        found.append((nearest(centred(pos[where[i]]), train), origin in hot, gap, force))
    print(f'{len(found)} {part} rows against {len(train)} training rows ({model})')
    edges = [0, 0.05, 0.1, 0.2, 0.4, float('inf')]
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = [r for r in found if lo <= r[0] < hi]
        if sel:
            print(f'nearest training row {lo:.2f}-{hi:.2f} A: {len(sel):4d} rows '
                  f'({sum(r[1] for r in sel)} hot), gap MAE {np.mean([r[2] for r in sel]):5.0f} meV, '
                  f'force MAE {np.mean([r[3] for r in sel]):5.0f} meV/A')
    for name, flag in (('hot', True), ('other', False)):
        d = [r[0] for r in found if r[1] == flag]
        if d:
            print(f'{name} rows: {len(d)}, median distance to the nearest training row '
                  f'{np.median(d):.3f} A')


if __name__ == '__main__':
    main()
