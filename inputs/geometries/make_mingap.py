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

run, tag, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
SYMBOL = {1: 'H', 6: 'C'}


def stop_reason(f):
    for attrs in ([f['tsh'].attrs] if 'tsh' in f else []) + [f.attrs]:
        if 'stop_reason' in attrs:
            v = attrs['stop_reason']
            return v.decode() if isinstance(v, bytes) else str(v)
    return ''


rows = []
for path in sorted(glob.glob(run + '/traj/traj_*.h5')):
    f = h5py.File(path, 'r')
    stop = stop_reason(f)
    if 'apart' in stop or 'bond' in stop:
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
        o.write('%d\nid=%s-t%03d-f%04d origin=%s (committee S1-S0 gap %.2f eV: the smallest on S1 '
                'along cis trajectory %d of %s, frame %d)\n' % (len(z), tag, traj, i, tag, g, traj,
                                                               run, i))
        for a in range(len(z)):
            o.write('%-2s %15.10f %15.10f %15.10f\n' % (SYMBOL[int(z[a])], *x[a]))
print('%d intact trajectories; smallest gaps on S1 (eV):' % len(rows),
      ' '.join('%.2f' % r[0] for r in rows[:n]))
