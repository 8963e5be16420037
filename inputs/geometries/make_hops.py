# The frames at which the trajectories of a fusionhop run hopped from S1 down to S0 (the last frame
# on S1 before each such hop), as a multi-frame XYZ file ("hops" rows of the stilbene dataset).
# Why: where and at which gap the model lets a trajectory hop decides the S1 lifetime; two
# committees that fit the test rows alike decayed at rates a factor of three apart (rounds 21 and
# 22, docs/stilbene.md), and the ab initio energies and couplings at their hop frames tell which
# one is right where it matters.
#
#   /usr/bin/python3 inputs/geometries/make_hops.py RUN TAG OUT.xyz [MAX]
#   e.g. ... runs/cis-r21/out hops-r21 inputs/geometries/stilbene-hops-r21.xyz
# (h5py and numpy, as make_mingap.py.) Trajectories stopped because the molecule fell apart are
# left out; at most MAX frames (default all), the earliest hops first.
import glob
import sys

import h5py

from h5md_run import fell_apart, write_frame

run, tag, out = sys.argv[1], sys.argv[2], sys.argv[3]
cap = int(sys.argv[4]) if len(sys.argv) > 4 else None

rows = []
for path in sorted(glob.glob(run + '/traj/traj_*.h5')):
    f = h5py.File(path, 'r')
    if fell_apart(f):
        continue
    active = f['observables/active_state/value'][:]
    t_act = f['observables/active_state/time'][:]
    pe = f['observables/potential_energy/value'][:]
    t_pos = f['particles/all/position/time'][:]
    x = f['particles/all/position/value']
    traj = int(path.split('_')[-1].split('.')[0])
    for i in range(len(active) - 1):
        if active[i] == 1 and active[i + 1] == 0:
            # the last position frame at or before the last S1 frame
            k = max(j for j in range(len(t_pos)) if t_pos[j] <= t_act[i] + 1e-9)
            gap = pe[i, 1] - pe[i, 0]
            rows.append((t_act[i], traj, k, gap, x[k], f['particles/all/species'][:]))
rows.sort(key=lambda r: (r[0], r[1]))
if cap is not None:
    rows = rows[:cap]
with open(out, 'w') as o:
    for t, traj, k, g, xk, z in rows:
        write_frame(o, 'id=%s-t%03d-f%04d origin=%s (last frame on S1 before a hop to S0 at %.0f fs, '
                    'committee S1-S0 gap %.2f eV, cis trajectory %d of %s)' % (tag, traj, k, tag, t, g, traj, run),
                    z, xk)
print('%d hops S1->S0 in %s; committee gaps (eV):' % (len(rows), run),
      ' '.join('%.2f' % r[3] for r in rows))
