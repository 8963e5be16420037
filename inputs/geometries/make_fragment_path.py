# Frames leading up to each fragmentation of a fusionhop run: for every trajectory stopped because
# the molecule fell apart (`[dynamics] bond_break`), N frames evenly spaced over the last SPAN fs
# before the stop, as a multi-frame XYZ file ("fragment" rows of the stilbene dataset). Why: an
# ML committee that lets a C-H bond break on S1 has an S1 that falls along the stretched bond where
# the reference has a wall; the active-learning generator leaves the broken frames out and samples
# the others by spread, so the way into the break is rarely covered. Reference data along it put
# the wall back.
#
#   /usr/bin/python3 inputs/geometries/make_fragment_path.py RUN TAG N SPAN_FS OUT.xyz
#   e.g. ... runs/cis-r7 fragment-r7 8 16 inputs/geometries/stilbene-fragment-r7.xyz
# (h5py and numpy: Debian's python3-h5py.) Positions in the H5MD files are in Angstrom, times in fs.
import glob
import sys

import h5py

from h5md_run import fell_apart, write_frame

run, tag, n, span, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]

frames = []
for path in sorted(glob.glob(run + '/traj/traj_*.h5')):
    f = h5py.File(path, 'r')
    if not fell_apart(f):
        continue
    t = f['particles/all/position/time'][:]
    x = f['particles/all/position/value']
    z = f['particles/all/species'][:]
    last = len(t) - 1
    traj = int(path.split('_')[-1].split('.')[0])
    for k in range(n):
        # from SPAN fs before the stop up to the last frame before it (the last saved one may
        # already be broken)
        target = t[last] - span + k * span / n
        i = min(range(last), key=lambda j: abs(t[j] - target))
        frames.append((traj, i, t[i], t[last], x[i], z))
with open(out, 'w') as o:
    for traj, i, ti, tstop, xi, z in frames:
        write_frame(o, 'id=%s-t%03d-f%04d origin=%s (trajectory %d of %s at %.1f fs; it fell apart '
                    'at %.1f fs)' % (tag, traj, i, tag, traj, run, ti, tstop), z, xi)
print('%d frames from %d fragmented trajectories' % (len(frames), len(frames) // max(n, 1)))
