# The frame of smallest S1-S0 gap on S1 of each intact trajectory of a fusionhop run, the N
# smallest of those as a multi-frame XYZ file ("mingap" rows of the stilbene dataset). Why: where
# a model's trajectories come closest to S0 decides whether they hop; the ab initio gap there
# tells whether those small gaps are real (inputs/datasets/README.md, mingap-r4 and mingap-r5).
#
#   /usr/bin/python3 inputs/geometries/make_mingap.py RUN TAG N OUT.xyz
#   e.g. ... runs/cis-r5 mingap-r5 12 inputs/geometries/stilbene-mingap-r5.xyz
# (h5py and numpy: Debian's python3-h5py, installed for the H5MD tests.) Trajectories stopped
# because the molecule fell apart are left out; the H5MD potential energies are in eV.
import glob
import sys

import h5py

from h5md_run import fell_apart, write_frame

run, tag, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]

rows = []
for path in sorted(glob.glob(run + '/traj/traj_*.h5')):
    f = h5py.File(path, 'r')
    if fell_apart(f):
        continue
    active = f['observables/active_state/value'][:]
    pe = f['observables/potential_energy/value'][:]
    gap = pe[:, 1] - pe[:, 0]
    on_s1 = [i for i in range(len(active)) if active[i] == 1]
    if not on_s1:
        continue
    i = min(on_s1, key=lambda k: gap[k])
    traj = int(path.split('_')[-1].split('.')[0])
    rows.append((gap[i], traj, i, f['particles/all/position/value'][i], f['particles/all/species'][:]))
rows.sort(key=lambda r: r[0])
with open(out, 'w') as o:
    for g, traj, i, x, z in rows[:n]:
        write_frame(o, 'id=%s-t%03d-f%04d origin=%s (committee S1-S0 gap %.2f eV: the smallest on S1 '
                    'along cis trajectory %d of %s, frame %d)' % (tag, traj, i, tag, g, traj, run, i),
                    z, x)
print('%d intact trajectories; smallest gaps on S1 (eV):' % len(rows),
      ' '.join('%.2f' % r[0] for r in rows[:n]))
