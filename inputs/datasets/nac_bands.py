#!/usr/bin/python3
# How large are a model's couplings, compared with the reference, band by band of the S1-S0 gap?
# The test-split NAC cosine only looks below 1 eV, but on the stilbene surface most S1->S0 hops
# of the ML dynamics happen in the twisted S1 well at gaps of 1-3 eV, where the fewest-switches
# hop rate goes with |d . v|, i.e. with the square of the coupling's size: a model whose coupling
# there is half the reference's hops about four times less. For every completed row with the CI
# block of the coupling (nacs_ci, the model's target h = <psi_0|dH/dR|psi_1>, hartree/bohr) this
# compares the model's committee-mean h (its NAC times its gap) with the reference: per band of the
# reference gap, the median of |h| (reference, model), the median ratio of the norms and the mean
# phase-free |cos|. Runs `fusionhop predict` once (seconds).
#   /usr/bin/python3 inputs/datasets/nac_bands.py MODEL [DATASET] [FUSIONHOP]
# MEMBER=K in the environment: committee member K alone (fusionhop predict --member K), to tell
# a member's own shortfall from the shrinking of a mean over members that disagree. ORIGIN=TAG:
# only the rows of that origin (e.g. hops-r21: the frames where a run's trajectories hopped).
# (Debian's python3 with numpy and h5py: python3-numpy, python3-h5py)
import json
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

model = sys.argv[1]
path = sys.argv[2] if len(sys.argv) > 2 else "inputs/datasets/stilbene_sa2cas22_631g.h5"
exe = sys.argv[3] if len(sys.argv) > 3 else "build/fusionhop"
HARTREE_EV = 27.211386245988
BANDS = [(0, 0.5), (0.5, 1), (1, 1.5), (1.5, 2), (2, 2.5), (2.5, 3), (3, 4), (4, 10)]

with tempfile.TemporaryDirectory() as tmp:
    xyz = os.path.join(tmp, "rows.xyz")
    origin = ["--origin", os.environ["ORIGIN"]] if os.environ.get("ORIGIN") else []
    subprocess.run([exe, "dataset", "export", path, "-o", xyz] + origin, check=True,
                   stderr=subprocess.DEVNULL)
    ids = [line.split()[0][3:] for line in open(xyz) if line.startswith("id=")]
    member = ["--member", os.environ["MEMBER"]] if os.environ.get("MEMBER") else []
    out = subprocess.run([exe, "predict", "--model", model, "--xyz", xyz, "--format", "json"] + member,
                         check=True, capture_output=True, text=True).stdout
preds = [json.loads(line) for line in out.splitlines()]
if len(preds) != len(ids):
    sys.exit("nac_bands: %d predictions for %d rows" % (len(preds), len(ids)))

with h5py.File(path, "r") as f:
    status = f["status"][:]
    row = {name: i for i, name in enumerate(f["id"][:].astype(str)) if status[i] == 0}
    E, Hci, has = f["energies"][:], f["nacs_ci"][:, 0], f["has_nac_parts"][:, 0]

res = []
for name, p in zip(ids, preds):
    r = row[name]
    if not has[r]:
        continue
    gap = (E[r, 1] - E[r, 0]) * HARTREE_EV
    href = Hci[r]
    hmod = np.array(p["nac"][0]) * (p["energies"][1] - p["energies"][0])
    nr, nm = np.linalg.norm(href), np.linalg.norm(hmod)
    cos = abs((href * hmod).sum()) / (nr * nm) if nr > 0 and nm > 0 else 0.0
    res.append((gap, nr, nm, cos))
res = np.array(res)

print("model %s%s, %d rows with the CI-block coupling%s" %
      (model, " (member %s alone)" % os.environ["MEMBER"] if os.environ.get("MEMBER") else "", len(res),
       ", origin " + os.environ["ORIGIN"] if os.environ.get("ORIGIN") else ""))
print("|h|: median norm, hartree/bohr; ratio: median model/reference; |cos|: mean phase-free")
print("gap (eV)     rows  |h| ref  |h| model  ratio  |cos|")
for lo, hi in BANDS:
    s = (res[:, 0] >= lo) & (res[:, 0] < hi)
    if s.any():
        print("%4.1f - %4.1f  %5d   %.4f     %.4f   %.2f   %.2f" %
              (lo, hi, s.sum(), np.median(res[s, 1]), np.median(res[s, 2]),
               np.median(res[s, 2] / res[s, 1]), res[s, 3].mean()))
