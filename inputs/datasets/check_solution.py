#!/usr/bin/python3
# Is a dataset row the SA-CASSCF solution connected to a well-behaved geometry, or another
# (stray) solution that its SCF start converged to? Recomputes the energies of TARGET from SCF
# orbitals, then along a straight path from START (aligned onto TARGET first), each step of at most
# 0.15 bohr starting from the previous step's orbitals, and prints the energies and the active
# natural occupations per root at every step. SA2-CASSCF(2,2)/6-31G, 47 inactive (the stilbene
# default); energies only, about 1-4 minutes per step on one core with the work on /dev/shm.
#   fusionhop dataset export inputs/datasets/stilbene_sa2cas22_631g.h5 -o all.xyz
#   /usr/bin/python3 inputs/datasets/check_solution.py all.xyz TARGET_ID START_ID
# (ids as in the XYZ comment lines; Debian's python3 with numpy runs it and pymolcas)
import os, re, shutil, subprocess, sys, tempfile
import numpy as np

BOHR_PER_ANGSTROM = 1 / 0.529177210903


def read_frames(path):
    lines = open(path).read().split('\n')
    frames, i = {}, 0
    while i < len(lines) and lines[i].strip():
        n = int(lines[i])
        m = re.search(r'id=(\S+)', lines[i + 1])
        rows = [l.split() for l in lines[i + 2:i + 2 + n]]
        frames[m.group(1) if m else str(len(frames))] = (
            [r[0] for r in rows], np.array([[float(v) for v in r[1:4]] for r in rows]))
        i += n + 2
    return frames


def aligned(p, q):
    """p rotated and translated onto q (Kabsch, no reflection)."""
    pc, qc = p - p.mean(0), q - q.mean(0)
    u, _, vt = np.linalg.svd(pc.T @ qc)
    d = np.sign(np.linalg.det(u @ vt))
    return pc @ (u @ np.diag([1, 1, d]) @ vt) + q.mean(0)


def casscf(elements, x, orbfile, tag, workroot):
    d = os.path.join(workroot, tag)
    os.makedirs(d)
    with open(os.path.join(d, 'fh.input'), 'w') as f:
        f.write('&GATEWAY\n')
        for e in sorted(set(elements)):
            f.write(' Basis set\n %s.6-31G....\n' % e)
            for a, (ea, p) in enumerate(zip(elements, x * BOHR_PER_ANGSTROM)):
                if ea == e:
                    f.write(' %s%d %.10f %.10f %.10f\n' % (e, a + 1, *p))
            f.write(' End of basis\n')
        f.write('&SEWARD\n' + ('' if orbfile else '&SCF\n'))
        f.write('&RASSCF\n Spin=1\n Nactel=2 0 0\n Inactive=47\n Ras2=2\n CIRoot=2 2 1\n')
        if orbfile:
            f.write(' FileOrb=%s\n' % orbfile)
    env = dict(os.environ, MOLCAS_WORKDIR=d, MOLCAS_MEM='2000', OMP_NUM_THREADS='1',
               MOLCAS_NPROCS='1', MOLCAS_PROJECT='fh')
    log = subprocess.run(['/usr/bin/python3', shutil.which('pymolcas') or '/usr/bin/pymolcas', 'fh.input'], cwd=d, env=env, capture_output=True,
                         text=True).stdout
    energies = re.findall(r'RASSCF root number\s+\d+ Total energy:\s+(\S+)', log)
    occ = re.findall(r'occupation numbers for root\s+\d+\s*\n\s*sym 1:\s+([^\n]+)', log)
    print('%-10s E (hartree) %s  occupations %s' % (tag, ' '.join(energies),
          ' | '.join(o.strip() for o in occ)), flush=True)
    return os.path.join(d, 'fh.RasOrb')


def main():
    if len(sys.argv) != 4:
        sys.exit('usage: check_solution.py FRAMES.xyz TARGET_ID START_ID')
    frames = read_frames(sys.argv[1])
    for key in sys.argv[2:]:
        if key not in frames:
            sys.exit('%s: no frame with id=%s' % (sys.argv[1], key))
    elements, target = frames[sys.argv[2]]
    start = aligned(frames[sys.argv[3]][1], target)
    steps = max(1, int(np.ceil(np.abs(target - start).max() * BOHR_PER_ANGSTROM / 0.15)))
    workroot = tempfile.mkdtemp(dir='/dev/shm', prefix='fh-check-')
    try:
        casscf(elements, target, None, 'scf-start', workroot)
        orb = None
        for k in range(steps + 1):
            orb = casscf(elements, start + (target - start) * k / steps, orb,
                         'path%02d' % k, workroot)
    finally:
        shutil.rmtree(workroot)


main()
