# Geometries between where S1 trajectories go and the twisted S1/S0 intersection ("bridge" rows of
# the stilbene dataset). Why: the round-5 trajectories twist and pyramidalize, their ethylenic core
# comes within about 0.3 A (RMSD) of the twisted MECI's, yet they stay on S1; the data had the MECI
# region and the visited region but nothing in between, which is where the model decides whether
# the way down to the seam is open.
#
# For each trajectory: the S1 frame (every 5th) whose ethylenic core (C1, C2, H3, C4, H15, C16) is
# closest to the MECI's, over the MECI's mirror image and its swapped halves. Then the geometry a
# fraction of the way from that frame to the MECI: C1, C2, H3, H15 linearly, each phenyl ring
# (ipso carbon included) as a rigid body (centre linearly, rotation by the same fraction of its
# angle, ring labelled so that it turns least) plus the same fraction of its change of shape.
# The trajectories are ranked by that RMSD and every 6th is kept (15 of 100).
# RUN may instead be a multi-frame XYZ file: every frame is a start point, ranked and thinned the
# same way (the LIIC rows: from the model's twisted S1 minima, s1min-r6, to the MECI, to measure
# the barrier between them on the real surface).
#
#   /usr/bin/python3 inputs/geometries/make_bridge.py RUN TAG OUT.xyz [FRACTIONS]
#   e.g. ... runs/cis-r5 bridge-r5 inputs/geometries/stilbene-bridge-r5.xyz 0.4,0.7
#        ... inputs/geometries/stilbene-s1min-r6.xyz liic-s1min \
#            inputs/geometries/stilbene-liic-s1min.xyz 0.2,0.4,0.6,0.8
# (h5py and numpy: Debian's python3-h5py, installed for the H5MD tests.)
import glob
import sys

import h5py
import numpy as np

run, tag, out = sys.argv[1:4]
fractions = [float(x) for x in (sys.argv[4] if len(sys.argv) > 4 else '0.4,0.7').split(',')]
here = __file__.rsplit('/', 1)[0] if '/' in __file__ else '.'
CORE = [0, 1, 2, 3, 14, 15]
LINEAR = [0, 1, 2, 14]
RINGS = [list(range(3, 14)), list(range(15, 26))]
RING_FLIP = [{4: 8, 8: 4, 5: 7, 7: 5, 9: 13, 13: 9, 10: 12, 12: 10},
             {16: 20, 20: 16, 17: 19, 19: 17, 21: 25, 25: 21, 22: 24, 24: 22}]


def read_frames(path):
    """Every frame of a multi-frame XYZ file (Angstrom): (comment, symbols, coordinates)."""
    lines, out, k = open(path).read().split('\n'), [], 0
    while k < len(lines) and lines[k].strip():
        n = int(lines[k])
        rows = [l.split() for l in lines[k + 2:k + 2 + n]]
        out.append((lines[k + 1], [r[0] for r in rows],
                    np.array([[float(t) for t in r[1:4]] for r in rows])))
        k += n + 2
    return out


def read_xyz(path):
    """The first frame's symbols and coordinates."""
    return read_frames(path)[0][1:]


def closest_variant(x):
    """(RMSD, MECI variant placed onto x) for the variant whose core is closest to x's."""
    best = None
    for V in variants:
        R, ca, cb, r = kabsch(V[CORE], x[CORE])
        if best is None or r < best[0]:
            best = (r, (V - ca) @ R + cb)
    return best


def kabsch(a, b):
    """Proper rotation R (row vectors) with (a - ca) @ R ~ b - cb; the centres; the RMSD."""
    ca, cb = a.mean(0), b.mean(0)
    u, _, vt = np.linalg.svd((a - ca).T @ (b - cb))
    R = u @ np.diag([1, 1, np.sign(np.linalg.det(u @ vt))]) @ vt
    rmsd = np.sqrt(np.mean(np.sum(((a - ca) @ R - (b - cb))**2, 1)))
    return R, ca, cb, rmsd


def angle(R):
    return np.arccos(np.clip((np.trace(R) - 1) / 2, -1, 1))


def rotation_part(R, f):
    """The rotation R (row vectors) taken the fraction f of its angle about its axis."""
    ang = angle(R)
    if ang < 1e-9:
        return np.eye(3)
    w = np.array([R[1, 2] - R[2, 1], R[2, 0] - R[0, 2], R[0, 1] - R[1, 0]]) / (2 * np.sin(ang))
    K = np.array([[0, -w[2], w[1]], [w[2], 0, -w[0]], [-w[1], w[0], 0]])
    Q = np.eye(3) + np.sin(f * ang) * K + (1 - np.cos(f * ang)) * K @ K  # column vectors
    return Q.T


sym, meci = read_xyz(here + '/stilbene-meci-twisted.xyz')
swap = list(range(26))  # the two CH-C6H5 halves exchanged
for i, j in [(0, 1), (2, 14), (3, 15)] + [(a, a + 12) for a in range(4, 14)]:
    swap[i], swap[j] = j, i
mirror = meci * np.array([1, 1, -1])
variants = [meci, mirror, meci[swap], mirror[swap]]

picked = []
if run.endswith('.xyz'):
    for k, (comment, _, x) in enumerate(read_frames(run)):
        r, target = closest_variant(x)
        keys = dict(w.split('=', 1) for w in comment.split() if '=' in w)
        name = keys.get('id', 'frame%03d' % k)
        origin = keys.get('origin', '')
        short = name[len(origin) + 1:] if origin and name.startswith(origin + '-') else name
        picked.append((r, k, 0, x, target, float('nan'), (name, short)))
for path in sorted(glob.glob(run + '/traj/traj_*.h5')) if not run.endswith('.xyz') else []:
    f = h5py.File(path, 'r')
    X = f['particles/all/position/value'][:]
    pe = f['observables/potential_energy/value'][:]
    state = f['observables/active_state/value'][:]
    best = None
    for i in range(0, len(X), 5):
        if state[i] != 1:
            continue
        r, target = closest_variant(X[i])
        if best is None or r < best[0]:
            best = (r, i, target)
    if best is not None:
        r, i, target = best
        picked.append((r, int(path[-9:-3]), i, X[i], target, pe[i, 1] - pe[i, 0], None))
rank = np.argsort(np.round([p[0] for p in picked], 3))  # by RMSD to 1 mA (numpy's sort)
picked = [picked[k] for k in sorted(rank[::6][:15])]

blocks = []
for r, traj, frame, x0, target, gap, name in picked:
    for ring, flip in zip(RINGS, RING_FLIP):
        flipped = [flip.get(a, a) for a in ring]
        if angle(kabsch(x0[ring], target[flipped])[0]) < angle(kabsch(x0[ring], target[ring])[0]):
            target[ring] = target[flipped]
    for fr in fractions:
        x = np.empty_like(x0)
        x[LINEAR] = (1 - fr) * x0[LINEAR] + fr * target[LINEAR]
        for ring in RINGS:
            a, b = x0[ring], target[ring]
            R, c0, c1, _ = kabsch(a, b)
            x[ring] = ((a - c0) @ rotation_part(R, fr) + (1 - fr) * c0 + fr * c1
                       + fr * (b - ((a - c0) @ R + c1)))
        pct = int(round(fr * 100))
        if name is not None:
            head = ('id=%s-%s-p%02d origin=%s (%d%% of the way from %s of %s (ethylenic core'
                    ' %.2f A RMSD from the twisted MECI) to inputs/geometries/'
                    'stilbene-meci-twisted.xyz: core atoms linear, phenyl rings rigid)'
                    ) % (tag, name[1], pct, tag, pct, name[0], run, r)
        else:
            head = ('id=%s-t%03d-f%04d-p%02d origin=%s (%d%% of the way from frame %d of cis'
                    ' trajectory %d of %s (committee gap %.2f eV, ethylenic core %.2f A RMSD from'
                    ' the twisted MECI) to inputs/geometries/stilbene-meci-twisted.xyz: core atoms'
                    ' linear, phenyl rings rigid)'
                    ) % (tag, traj, frame, pct, tag, pct, frame, traj, run, gap, r)
        blocks.append('26\n%s\n' % head +
                      ''.join('%s %.6f %.6f %.6f\n' % (sym[a], *x[a]) for a in range(26)))
open(out, 'w').write(''.join(blocks))
print('%s: %d geometries from %d trajectories' % (out, len(blocks), len(picked)))
