/* The deck schema: every key of every section, in one table. `fusionhop help deck` prints it and
 * the parser validates against it. Adding an option is one row here plus the code that reads it.
 * Ranges of REAL keys are in atomic units; `bare_unit` is the unit of a number written without one. */
#include "fh_deck.h"

#include <stddef.h>

#define UNBOUNDED 1.0, -1.0 /* min > max: no range check */
#define FS(x) ((x) * FH_FS_AUTIME)  /* a time in fs, as atomic units, for ranges */

static const fh_deck_key schema[] = {
    /* [surface]: where energies, gradients and couplings come from */
    {"surface", "type", FH_KEY_CHOICE, FH_UNIT_NONE, NULL, NULL, UNBOUNDED,
     "tully1|tully2|tully3|lvc|ml|openmolcas",
     "provider: Tully's models 1-3, a 2D linear vibronic coupling model with a conical "
     "intersection, the ML model, or OpenMolcas on the fly"},
    {"surface", "nstates", FH_KEY_INT, FH_UNIT_NONE, NULL, "0", 0, 32, NULL,
     "number of adiabatic states (0: the provider's default)"},
    {"surface", "model", FH_KEY_PATH, FH_UNIT_NONE, NULL, "", UNBOUNDED, NULL,
     "model file (type = ml)"},
    {"surface", "precision", FH_KEY_CHOICE, FH_UNIT_NONE, NULL, "mixed", UNBOUNDED, "mixed|double",
     "arithmetic of the ML model (type = ml): mixed runs its tensor products, linear maps, "
     "fusion blocks and radial tables in single precision (results within about 1e-7 relative "
     "of double's; a dynamics step in about 0.6 of the time), double runs everything in double"},
    {"surface", "geometry", FH_KEY_PATH, FH_UNIT_NONE, NULL, "", UNBOUNDED, NULL,
     "XYZ file (Angstrom) of the molecule's reference geometry (molecular providers)"},

    /* [openmolcas]: SA-CASSCF on the fly or for reference data (surface type = openmolcas) */
    {"openmolcas", "basis", FH_KEY_STRING, FH_UNIT_NONE, NULL, "6-31G", UNBOUNDED, NULL,
     "basis set (OpenMolcas name)"},
    {"openmolcas", "nactel", FH_KEY_INT, FH_UNIT_NONE, NULL, "2", 1, 64, NULL,
     "active electrons"},
    {"openmolcas", "nactorb", FH_KEY_INT, FH_UNIT_NONE, NULL, "2", 1, 64, NULL,
     "active orbitals"},
    {"openmolcas", "inactive", FH_KEY_INT, FH_UNIT_NONE, NULL, "-1", -1, 10000, NULL,
     "inactive (doubly occupied) orbitals; -1: all electrons outside the active space "
     "(47 for stilbene with CAS(2,2))"},
    {"openmolcas", "charge", FH_KEY_INT, FH_UNIT_NONE, NULL, "0", -20, 20, NULL, "total charge"},
    {"openmolcas", "spin", FH_KEY_INT, FH_UNIT_NONE, NULL, "1", 1, 10, NULL,
     "spin multiplicity"},
    {"openmolcas", "memory", FH_KEY_INT, FH_UNIT_NONE, NULL, "2000", 100, 1000000, NULL,
     "memory per calculation, MB (MOLCAS_MEM)"},
    {"openmolcas", "threads", FH_KEY_INT, FH_UNIT_NONE, NULL, "1", 1, 256, NULL,
     "OpenMP threads per calculation"},
    {"openmolcas", "scratch", FH_KEY_STRING, FH_UNIT_NONE, NULL, "/dev/shm", UNBOUNDED, NULL,
     "parent of the work directories; a RAM disk, since OpenMolcas is I/O-bound here"},
    {"openmolcas", "keep_dir", FH_KEY_PATH, FH_UNIT_NONE, NULL, "", UNBOUNDED, NULL,
     "keep each calculation's input and log here (failed ones are always kept when set)"},
    {"openmolcas", "pymolcas", FH_KEY_STRING, FH_UNIT_NONE, NULL,
     "/usr/bin/python3 /usr/bin/pymolcas", UNBOUNDED, NULL,
     "command that runs OpenMolcas (Debian's python3: another python3 may lack its modules)"},
    {"openmolcas", "reuse_orbitals", FH_KEY_BOOL, FH_UNIT_NONE, NULL, "true", UNBOUNDED, NULL,
     "start from the converged orbitals of the previous geometry"},
    {"openmolcas", "timeout", FH_KEY_REAL, FH_UNIT_NONE, NULL, "3600", 0, 1e7, NULL,
     "seconds of running before a calculation is killed and counted as failed; time paused "
     "(SIGSTOP, a suspended job) does not count (0: no limit)"},

    /* [dynamics]: the surface-hopping integrator */
    {"dynamics", "ntraj", FH_KEY_INT, FH_UNIT_NONE, NULL, "1", 1, 1e9, NULL,
     "number of trajectories in the ensemble"},
    {"dynamics", "dt", FH_KEY_REAL, FH_UNIT_TIME, "fs", "0.5 fs", FS(1e-4), FS(100.0), NULL,
     "nuclear time step"},
    {"dynamics", "tmax", FH_KEY_REAL, FH_UNIT_TIME, "fs", NULL, 0.0, FS(1e7), NULL,
     "simulated time per trajectory"},
    {"dynamics", "nsubsteps", FH_KEY_INT, FH_UNIT_NONE, NULL, "20", 1, 100000, NULL,
     "electronic substeps per nuclear step"},
    {"dynamics", "coupling", FH_KEY_CHOICE, FH_UNIT_NONE, NULL, "auto", UNBOUNDED, "auto|nac|ktdc",
     "time-derivative coupling: v.d from NACs (nac), curvature-driven kappa-TDC from energy gaps "
     "(ktdc), or nac when the provider has NACs and ktdc otherwise (auto)"},
    {"dynamics", "ktdc_gap", FH_KEY_REAL, FH_UNIT_ENERGY, "eV", "0.5 eV", 0.0, 10.0, NULL,
     "kappa-TDC is used only for energy gaps below this"},
    {"dynamics", "nac_extrapolate", FH_KEY_BOOL, FH_UNIT_NONE, NULL, "true", UNBOUNDED, NULL,
     "align NAC signs with the linear extrapolation 2d(t)-d(t-dt) instead of d(t) (d(t) fails "
     "where a NAC passes through zero, e.g. between Tully model 2's crossings)"},
    {"dynamics", "rescale", FH_KEY_CHOICE, FH_UNIT_NONE, NULL, "nac", UNBOUNDED, "nac|velocity|none",
     "after a hop, rescale the velocity along the NAC, along the velocity, or not at all"},
    {"dynamics", "frustrated", FH_KEY_CHOICE, FH_UNIT_NONE, NULL, "keep", UNBOUNDED,
     "keep|reverse|reverse_jt",
     "frustrated hops: keep the velocity, reverse its NAC component, or reverse it only under "
     "the Jasper-Truhlar criterion"},
    {"dynamics", "decoherence", FH_KEY_CHOICE, FH_UNIT_NONE, NULL, "none", UNBOUNDED, "none|edc",
     "decoherence correction: none, or Granucci-Persico energy-based (edc)"},
    {"dynamics", "edc_c", FH_KEY_REAL, FH_UNIT_ENERGY, "hartree", "0.1 hartree", 0.0, 10.0, NULL,
     "EDC parameter C"},
    {"dynamics", "econs_step", FH_KEY_REAL, FH_UNIT_ENERGY, "eV", "0.5 eV", 0.0, 100.0, NULL,
     "stop a trajectory whose total energy changes more than this in one step (0: off)"},
    {"dynamics", "econs_drift", FH_KEY_REAL, FH_UNIT_ENERGY, "eV", "0.5 eV", 0.0, 100.0, NULL,
     "stop a trajectory whose total energy drifts more than this from its start (0: off)"},
    {"dynamics", "spread_max", FH_KEY_REAL, FH_UNIT_ENERGY, "eV", "0.5 eV", 0.0, 100.0, NULL,
     "stop a trajectory when the model committee's energy spread exceeds this (0: off)"},
    {"dynamics", "bond_break", FH_KEY_REAL, FH_UNIT_NONE, NULL, "1.75", 0.0, 10.0, NULL,
     "molecules: stop a trajectory that falls apart, i.e. whose graph of atoms closer than this "
     "times the sum of their covalent radii has more parts than at the start (an H atom flying "
     "off a model surface with no data there); status failed, reason 'fragmented' (0: off)"},

    /* [initial]: initial conditions */
    {"initial", "seed", FH_KEY_INT, FH_UNIT_NONE, NULL, "1", 0, 4294967295.0, NULL,
     "ensemble seed; trajectory k's random stream depends only on (seed, k)"},
    {"initial", "state", FH_KEY_INT, FH_UNIT_NONE, NULL, "0", 0, 31, NULL,
     "active state at t = 0 (0 = ground state S0, 1 = S1, ...); ignored when a window is set"},
    {"initial", "sampling", FH_KEY_CHOICE, FH_UNIT_NONE, NULL, "wigner", UNBOUNDED, "wigner|fixed",
     "molecules: Wigner samples of the harmonic normal modes at the reference geometry; "
     "fixed: every trajectory starts at [initial] position/momentum (model surfaces)"},
    {"initial", "temperature", FH_KEY_REAL, FH_UNIT_TEMPERATURE, "K", "0 K", 0.0, 1e4, NULL,
     "temperature of the Wigner distribution (0 K: ground vibrational state)"},
    {"initial", "optimize", FH_KEY_BOOL, FH_UNIT_NONE, NULL, "false", UNBOUNDED, NULL,
     "optimise the S0 minimum on the provider (or the hessian_model) before computing the Hessian"},
    {"initial", "hessian_model", FH_KEY_PATH, FH_UNIT_NONE, NULL, "", UNBOUNDED, NULL,
     "ML model file whose S0 Hessian (and minimum, with optimize) gives the Wigner normal modes "
     "instead of finite differences of the provider's gradients (hours for OpenMolcas on the "
     "fly); the provider still runs the dynamics (optional)"},
    {"initial", "window_min", FH_KEY_REAL, FH_UNIT_ENERGY, "eV", "", 0.0, 10.0, NULL,
     "excitation-energy window, lower bound: start each trajectory in the lowest excited state "
     "whose vertical excitation energy lies in the window (optional)"},
    {"initial", "window_max", FH_KEY_REAL, FH_UNIT_ENERGY, "eV", "", 0.0, 10.0, NULL,
     "excitation-energy window, upper bound"},
    {"initial", "position", FH_KEY_REAL, FH_UNIT_LENGTH, "bohr", "-10 bohr", UNBOUNDED, NULL,
     "model surfaces with sampling = fixed: initial position along the first coordinate"},
    {"initial", "momentum", FH_KEY_REAL, FH_UNIT_MOMENTUM, "au", "20 au", UNBOUNDED, NULL,
     "model surfaces with sampling = fixed: initial momentum along the first coordinate"},

    /* [output] */
    {"output", "dir", FH_KEY_PATH, FH_UNIT_NONE, NULL, "", UNBOUNDED, NULL,
     "output directory (default: the deck's file name without extension, in the current directory; -o wins)"},
    {"output", "frame_every", FH_KEY_INT, FH_UNIT_NONE, NULL, "1", 1, 1e6, NULL,
     "write a trajectory frame every this many steps"},
    {"output", "flush_every", FH_KEY_INT, FH_UNIT_NONE, NULL, "20", 1, 1e6, NULL,
     "frames per output block; the file is flushed after each block"},
    {"output", "checkpoint_every", FH_KEY_INT, FH_UNIT_NONE, NULL, "100", 1, 1e9, NULL,
     "save the full trajectory state every this many steps (restarts resume from it)"},

    /* [analysis]: `fusionhop analyze` (atom numbers are 1-based, in the order of the geometry) */
    {"analysis", "dihedral", FH_KEY_STRING, FH_UNIT_NONE, NULL, "", UNBOUNDED, NULL,
     "four atom numbers 'a b c d' of the torsion that tells cis from trans (stilbene: the central "
     "C-C=C-C); unset: no product classification (stilbene in the atom order of "
     "inputs/geometries: 4 1 2 16, ring 5 17, 5 21, 9 17, 9 21, pyramid 1 2 3 4)"},
    {"analysis", "ring", FH_KEY_STRING, FH_UNIT_NONE, NULL, "", UNBOUNDED, NULL,
     "pairs of atom numbers 'a b, c d' whose shortest distance marks ring closure (stilbene: the "
     "ortho carbons that bond in 4a,4b-dihydrophenanthrene); unset: no ring-closed product"},
    {"analysis", "pyramid", FH_KEY_STRING, FH_UNIT_NONE, NULL, "", UNBOUNDED, NULL,
     "four atom numbers 'centre a b c': pyramidalization angle at the centre (angle of the bond "
     "centre-a out of the plane of centre-b and centre-c)"},
    {"analysis", "cis_max", FH_KEY_REAL, FH_UNIT_NONE, NULL, "90", 0.0, 180.0, NULL,
     "|torsion| below this many degrees is cis, above it trans"},
    {"analysis", "ring_max", FH_KEY_REAL, FH_UNIT_LENGTH, "Angstrom", "1.75 Angstrom", 0.0, 100.0,
     NULL, "ring-closing distance below which the product is 4a,4b-dihydrophenanthrene (DHP)"},
    {"analysis", "excited_state", FH_KEY_INT, FH_UNIT_NONE, NULL, "1", 1, 31, NULL,
     "state whose population decay is fitted (1 = S1); hops from it to state 0 are analysed"},
    {"analysis", "nboot", FH_KEY_INT, FH_UNIT_NONE, NULL, "1000", 10, 1e6, NULL,
     "bootstrap resamples for confidence bands and errors"},
    {"analysis", "seed", FH_KEY_INT, FH_UNIT_NONE, NULL, "1", 0, 4294967295.0, NULL,
     "seed of the bootstrap resampling"},
    {"analysis", "max_drift", FH_KEY_REAL, FH_UNIT_ENERGY, "eV", "", 0.0, 100.0, NULL,
     "exclude trajectories whose total energy strays further than this from its start; unset: "
     "keep all"},
    {"analysis", "max_spread", FH_KEY_REAL, FH_UNIT_ENERGY, "eV", "", 0.0, 100.0, NULL,
     "exclude trajectories whose committee energy spread exceeds this; unset: keep all"},
    {"analysis", "bond_break", FH_KEY_REAL, FH_UNIT_NONE, NULL, "1.75", 0.0, 10.0, NULL,
     "exclude trajectories whose molecule fell apart: more parts than in the first frame in the "
     "graph of atoms closer than this times the sum of their covalent radii (0: keep them)"},

    /* [model]: architecture of the network trained by `fusionhop train` (see models/fh_model.h) */
    {"model", "nstates", FH_KEY_INT, FH_UNIT_NONE, NULL, "0", 0, 16, NULL,
     "electronic states (0: as many as the dataset has)"},
    {"model", "channels", FH_KEY_INT, FH_UNIT_NONE, NULL, "32", 1, 1024, NULL,
     "channels of every hidden block"},
    {"model", "hidden_irreps", FH_KEY_STRING, FH_UNIT_NONE, NULL, "0e+1o", UNBOUNDED, NULL,
     "irreps of the node features between layers (must hold 0e, and 1o for couplings)"},
    {"model", "lmax", FH_KEY_INT, FH_UNIT_NONE, NULL, "3", 1, 7, NULL,
     "degree of the spherical harmonics and messages"},
    {"model", "correlation", FH_KEY_INT, FH_UNIT_NONE, NULL, "3", 1, 8, NULL,
     "body order of the fusion block (correlation order nu)"},
    {"model", "tree", FH_KEY_CHOICE, FH_UNIT_NONE, NULL, "chain", UNBOUNDED, "chain|balanced",
     "fusion diagram: left-deep chain, or balanced (correlation 4)"},
    {"model", "layers", FH_KEY_INT, FH_UNIT_NONE, NULL, "2", 1, 8, NULL, "message-passing layers"},
    {"model", "cutoff", FH_KEY_REAL, FH_UNIT_LENGTH, "Angstrom", "5 Angstrom", 0.5, 100.0, NULL,
     "neighbour cutoff radius"},
    {"model", "bessel", FH_KEY_INT, FH_UNIT_NONE, NULL, "8", 1, 128, NULL,
     "Bessel radial basis functions"},
    {"model", "envelope", FH_KEY_INT, FH_UNIT_NONE, NULL, "5", 2, 16, NULL,
     "power p of the polynomial cutoff envelope"},
    {"model", "radial_mlp", FH_KEY_STRING, FH_UNIT_NONE, NULL, "64,64,64", UNBOUNDED, NULL,
     "hidden widths of the radial MLP, comma-separated"},
    {"model", "readout_hidden", FH_KEY_INT, FH_UNIT_NONE, NULL, "16", 1, 4096, NULL,
     "width of the last layer's nonlinear readout"},
    {"model", "avg_neighbors", FH_KEY_REAL, FH_UNIT_NONE, NULL, "0", 0.0, 1e6, NULL,
     "divisor of the neighbour sums (0: the training data's average neighbour count)"},
    {"model", "nac_gap_eps", FH_KEY_REAL, FH_UNIT_ENERGY, "hartree", "1e-4 hartree", 1e-8, 1.0,
     NULL, "degeneracy guard of d_ij = h_ij (E_j-E_i) / ((E_j-E_i)^2 + eps^2)"},
    {"model", "nac_flip", FH_KEY_STRING, FH_UNIT_NONE, NULL, "", UNBOUNDED, NULL,
     "atoms (1-based list, e.g. 2,15-26) whose coupling sign the model flips: one half of a "
     "molecule whose two states differ in symmetry under swapping the halves (stilbene S0/S1)"},
    {"model", "nac_even_head", FH_KEY_BOOL, FH_UNIT_NONE, NULL, "false", UNBOUNDED, NULL,
     "a second, unflipped coupling head: h = sigma v + w (with coupling = diabatic: H01 = "
     "sigma e + f), odd plus even under the swap that nac_flip describes (added at zero to an "
     "init model without it)"},
    {"model", "nac_residual", FH_KEY_BOOL, FH_UNIT_NONE, NULL, "false", UNBOUNDED, NULL,
     "with coupling = diabatic: a flipped 1o head q for the coupling left between the two diabatic "
     "states, h = h(H) + (E1 - E0) q / 0.1 hartree (vanishes at the seam; energies and forces do "
     "not depend on it; added at zero to an init model without it)"},
    {"model", "nac_residual_even", FH_KEY_BOOL, FH_UNIT_NONE, NULL, "false", UNBOUNDED, NULL,
     "the residual head of nac_residual (which this implies) with an unflipped part too: q odd "
     "plus even under the swap that nac_flip describes, for states of the same symmetry (added "
     "at zero to an init model without it)"},
    {"model", "coupling", FH_KEY_CHOICE, FH_UNIT_NONE, NULL, "vector", UNBOUNDED, "vector|diabatic",
     "how the model gives the couplings: vector (an equivariant vector per atom and pair) or "
     "diabatic (two states: a 2x2 diabatic Hamiltonian whose eigenvalues, gradients and "
     "eigenvector derivative give energies, forces and h, with the conical intersection built in)"},

    /* [train]: `fusionhop train` */
    {"train", "dataset", FH_KEY_PATH, FH_UNIT_NONE, NULL, "", UNBOUNDED, NULL,
     "reference dataset (HDF5, see inputs/datasets/README.md); required by `fusionhop train`"},
    {"train", "output", FH_KEY_PATH, FH_UNIT_NONE, NULL, "", UNBOUNDED, NULL,
     "model file to write (default: <deck name>.model.h5 in the current directory; -o wins)"},
    {"train", "checkpoint", FH_KEY_PATH, FH_UNIT_NONE, NULL, "", UNBOUNDED, NULL,
     "checkpoint written every epoch, resumed from by the next run (default: <output>.ckpt)"},
    {"train", "init_model", FH_KEY_PATH, FH_UNIT_NONE, NULL, "", UNBOUNDED, NULL,
     "start from this model file (its architecture and normalisation, each state's energy zero "
     "moved to this dataset's training split; [model] is ignored): fine-tuning, e.g. after "
     "pretraining on a cheaper level of theory"},
    {"train", "train_fraction", FH_KEY_REAL, FH_UNIT_NONE, NULL, "0.8", 0.0, 1.0, NULL,
     "fraction of the geometries used for training"},
    {"train", "valid_fraction", FH_KEY_REAL, FH_UNIT_NONE, NULL, "0.1", 0.0, 1.0, NULL,
     "fraction for validation (early stopping, learning-rate decay); the rest is the test split"},
    {"train", "seed", FH_KEY_INT, FH_UNIT_NONE, NULL, "1", 0, 4294967295.0, NULL,
     "seed of the split, the data order and (unless init_seed is given) the initial weights"},
    {"train", "energy_weight", FH_KEY_REAL, FH_UNIT_NONE, NULL, "1", 0.0, 1e12, NULL,
     "weight of the energy term (squared per-atom energy errors, atomic units)"},
    {"train", "gap_weight", FH_KEY_REAL, FH_UNIT_NONE, NULL, "0", 0.0, 1e12, NULL,
     "weight of the gap term (squared per-atom errors of E_j - E_i, atomic units, Huber beyond "
     "energy_huber), added to the energy term: the gaps drive the hops"},
    {"train", "force_weight", FH_KEY_REAL, FH_UNIT_NONE, NULL, "1", 0.0, 1e12, NULL,
     "weight of the force term (squared gradient-component errors, atomic units)"},
    {"train", "energy_huber", FH_KEY_REAL, FH_UNIT_ENERGY, "eV", "0 eV", 0.0, 1e12, NULL,
     "Huber threshold of the energy term: errors beyond it count linearly, not squared (a few "
     "far-off geometries then pull less on the fit); 0 = squares"},
    {"train", "force_huber", FH_KEY_REAL, FH_UNIT_FORCE, "eV/Angstrom", "0 eV/Angstrom", 0.0, 1e12,
     NULL, "the same for the force term's gradient components; 0 = squares"},
    {"train", "nac_weight", FH_KEY_REAL, FH_UNIT_NONE, NULL, "1", 0.0, 1e12, NULL,
     "weight of the phase-free coupling term (squared h_ij component errors, atomic units)"},
    {"train", "nac_gap_scale", FH_KEY_REAL, FH_UNIT_ENERGY, "eV", "0 eV", 0.0, 1e12, NULL,
     "gap G that focuses the coupling term on the seam: pair ij's term is weighted 1 / (1 + "
     "(gap/G)^2) with its reference gap (the couplings drive the hops where the gap is small); "
     "0 = the same weight everywhere"},
    {"train", "nac_norm_scale", FH_KEY_REAL, FH_UNIT_FORCE, "eV/Angstrom", "0 eV/Angstrom", 0.0,
     1e12, NULL,
     "coupling size S that makes the coupling term relative: pair ij's term is weighted 1 / (1 + "
     "|h_ref|^2 / S^2) with the norm of its reference h over all atoms, so that rows with weak "
     "couplings count for their direction as much as those at the seam; 0 = absolute errors"},
    {"train", "nac_target", FH_KEY_CHOICE, FH_UNIT_NONE, NULL, "ci", UNBOUNDED, "ci|total",
     "what the coupling head learns: ci = the CI block <i|dH/dR|j> where the dataset has it (smooth, "
     "translation-invariant; the NAC is then h/gap, the whole NAC near intersections), else NAC x "
     "gap; total = the dataset's total NAC (CSF part included) x gap"},
    {"train", "force_hvp", FH_KEY_CHOICE, FH_UNIT_NONE, NULL, "forward", UNBOUNDED,
     "forward|central", "finite-difference Hessian-vector product of the force term's weight "
     "gradient: one-sided (one extra pass per state) or central (two)"},
    {"train", "hvp_step", FH_KEY_REAL, FH_UNIT_LENGTH, "bohr", "1e-5 bohr", 1e-9, 0.1, NULL,
     "largest atomic displacement of that product"},
    {"train", "optimizer", FH_KEY_CHOICE, FH_UNIT_NONE, NULL, "amsgrad", UNBOUNDED, "adam|amsgrad",
     "Adam or its amsgrad variant"},
    {"train", "lr", FH_KEY_REAL, FH_UNIT_NONE, NULL, "0.01", 1e-12, 10.0, NULL, "learning rate"},
    {"train", "lr_factor", FH_KEY_REAL, FH_UNIT_NONE, NULL, "0.8", 0.0, 1.0, NULL,
     "multiply the learning rate by this on a validation plateau"},
    {"train", "lr_patience", FH_KEY_INT, FH_UNIT_NONE, NULL, "5", 1, 1e9, NULL,
     "epochs without validation improvement that make a plateau"},
    {"train", "lr_min", FH_KEY_REAL, FH_UNIT_NONE, NULL, "1e-6", 0.0, 10.0, NULL,
     "smallest learning rate"},
    {"train", "ema", FH_KEY_BOOL, FH_UNIT_NONE, NULL, "true", UNBOUNDED, NULL,
     "validate and keep the exponential moving average of the weights"},
    {"train", "ema_decay", FH_KEY_REAL, FH_UNIT_NONE, NULL, "0.99", 0.0, 1.0, NULL,
     "decay of that average per optimiser step"},
    {"train", "select", FH_KEY_CHOICE, FH_UNIT_NONE, NULL, "loss", UNBOUNDED, "loss|energy_force|energy",
     "validation score that picks the kept epoch and drives the plateau and early stopping: the "
     "whole loss, its energy and force terms only (the coupling term can rise while they "
     "improve), or its energy term only (energies and the gap term: for when the gap is what "
     "limits and the forces have room)"},
    {"train", "patience", FH_KEY_INT, FH_UNIT_NONE, NULL, "30", 0, 1e9, NULL,
     "early stopping: epochs without validation improvement (0: off)"},
    {"train", "epochs", FH_KEY_INT, FH_UNIT_NONE, NULL, "200", 1, 1e9, NULL,
     "largest number of epochs per committee member"},
    {"train", "batch_size", FH_KEY_INT, FH_UNIT_NONE, NULL, "5", 1, 1e6, NULL,
     "geometries per optimiser step"},
    {"train", "clip_grad", FH_KEY_REAL, FH_UNIT_NONE, NULL, "0", 0.0, 1e300, NULL,
     "largest norm of a batch's mean weight gradient (loss in atomic units): longer ones are scaled "
     "down to it, so that a row where the model is far off cannot wreck the optimiser state; the "
     "epoch line then reports the median and largest norms and how many batches were clipped; "
     "0 = off"},
    {"train", "committee", FH_KEY_INT, FH_UNIT_NONE, NULL, "1", 1, 64, NULL,
     "independently trained members (their spread flags extrapolation)"},
    {"train", "members", FH_KEY_STRING, FH_UNIT_NONE, NULL, "", UNBOUNDED, NULL,
     "train only these members (1-based list, e.g. 2,3; empty: all); the others keep init_model's "
     "weights unchanged, so that one member of a committee can be redone alone"},
    {"train", "reinit", FH_KEY_STRING, FH_UNIT_NONE, NULL, "", UNBOUNDED, NULL,
     "members (1-based list) that start from fresh random weights even where init_model has them"},
    {"train", "init_seed", FH_KEY_INT, FH_UNIT_NONE, NULL, "", 0, 4294967295.0, NULL,
     "seed of fresh weights: member k starts from (init_seed, k) (default: seed; the split and "
     "the data order always follow seed)"},
    {"train", "widen_channels", FH_KEY_INT, FH_UNIT_NONE, NULL, "0", 0, 1024, NULL,
     "with init_model: first widen its hidden features to this many channels (at least its own); "
     "the new channels start without influence on any output, so training starts from the init "
     "model's predictions with more capacity (0: its own width)"},
    {"train", "max_geometries", FH_KEY_INT, FH_UNIT_NONE, NULL, "0", 0, 1e9, NULL,
     "use only the first this many usable geometries (0: all)"},

    /* [sample]: `fusionhop sample` (reference data; keys a generator does not use are ignored) */
    {"sample", "dataset", FH_KEY_PATH, FH_UNIT_NONE, NULL, "", UNBOUNDED, NULL,
     "reference dataset (HDF5) the results are appended to (-o wins)"},
    {"sample", "generator", FH_KEY_CHOICE, FH_UNIT_NONE, NULL, "", UNBOUNDED,
     "torsion|torsion_random|twisted|noise|wigner|trajectories|xyz|dataset",
     "geometries: scan of the dihedral, uniform random torsion + noise, random torsion + "
     "pyramidalization of the dihedral's third atom + noise, Cartesian noise, Wigner samples of "
     "the normal modes at [surface] geometry, frames of a run whose committee spread is large, or "
     "the frames of the XYZ file 'source', or the completed geometries of the dataset 'source' "
     "(their ids and origins: the same list at another level of theory)"},
    {"sample", "count", FH_KEY_INT, FH_UNIT_NONE, NULL, "", 1, 1e7, NULL,
     "geometries (default 10); trajectories, xyz and dataset: at most this many, the first "
     "ones (default: all)"},
    {"sample", "seed", FH_KEY_INT, FH_UNIT_NONE, NULL, "1", 0, 4294967295.0, NULL,
     "geometry k depends only on (seed, k)"},
    {"sample", "dihedral", FH_KEY_STRING, FH_UNIT_NONE, NULL, "", UNBOUNDED, NULL,
     "four atom numbers 'a b c d' (1-based) of the torsion; the fragment on c's side of the bond "
     "b-c is rotated (stilbene: 4 1 2 16)"},
    {"sample", "from", FH_KEY_REAL, FH_UNIT_NONE, NULL, "0", -360.0, 360.0, NULL,
     "torsion range start, degrees"},
    {"sample", "to", FH_KEY_REAL, FH_UNIT_NONE, NULL, "180", -360.0, 360.0, NULL,
     "torsion range end, degrees"},
    {"sample", "noise", FH_KEY_REAL, FH_UNIT_LENGTH, "Angstrom", "0.05 Angstrom", 0.0, 10.0, NULL,
     "Gaussian sigma per Cartesian coordinate (not used by the torsion scan)"},
    {"sample", "pyramid", FH_KEY_REAL, FH_UNIT_LENGTH, "Angstrom", "0.4 Angstrom", 0.0, 10.0, NULL,
     "twisted: largest displacement of the pyramidalized atom out of its neighbours' plane"},
    {"sample", "temperature", FH_KEY_REAL, FH_UNIT_TEMPERATURE, "K", "0 K", 0.0, 1e4, NULL,
     "wigner: temperature of the distribution (Hessian cached in <dataset>.hessian.txt, or "
     "<dataset>.hessian-<model file>-<hash>.txt with hessian_model)"},
    {"sample", "optimize", FH_KEY_BOOL, FH_UNIT_NONE, NULL, "false", UNBOUNDED, NULL,
     "wigner: optimise the S0 minimum first (on the hessian_model if set, else on the provider)"},
    {"sample", "hessian_model", FH_KEY_PATH, FH_UNIT_NONE, NULL, "", UNBOUNDED, NULL,
     "wigner: ML model file whose S0 Hessian gives the normal modes, instead of finite "
     "differences of the provider's gradients (6N of them: hours with OpenMolcas); the provider "
     "still computes the reference data (optional)"},
    {"sample", "source", FH_KEY_PATH, FH_UNIT_NONE, NULL, "", UNBOUNDED, NULL,
     "trajectories: output directory of a `fusionhop run` with an ML committee; xyz: multi-frame "
     "XYZ file (Angstrom; the [surface] geometry's atoms in the same order; a frame's comment "
     "tokens id=NAME and origin=TAG set its id and origin); dataset: dataset file (same atoms)"},
    {"sample", "frames", FH_KEY_CHOICE, FH_UNIT_NONE, NULL, "spread", UNBOUNDED, "spread|hops",
     "trajectories: which frames: where the committee spread exceeds spread_min (active "
     "learning), or the last frame before each hop down to a lower state (where the dynamics "
     "left the upper surface; no committee needed; origin 'hops')"},
    {"sample", "spread_min", FH_KEY_REAL, FH_UNIT_ENERGY, "eV", "0.05 eV", 0.0, 100.0, NULL,
     "trajectories: take frames where a state's committee energy spread exceeds this"},
    {"sample", "stride", FH_KEY_INT, FH_UNIT_NONE, NULL, "1", 1, 1e9, NULL,
     "trajectories: every stride-th qualifying frame"},
    {"sample", "bond_break", FH_KEY_REAL, FH_UNIT_NONE, NULL, "1.75", 0.0, 10.0, NULL,
     "trajectories: leave out frames where the molecule fell apart, as [dynamics] bond_break "
     "(0: keep them)"},
    {"sample", "origin", FH_KEY_STRING, FH_UNIT_NONE, NULL, "", UNBOUNDED, NULL,
     "origin tag stored with every geometry instead of the generator's (e.g. wigner-cis; one "
     "word, at most 31 characters; xyz: instead of the frames' origin=TAG) (optional)"},
    {"sample", "select_model", FH_KEY_PATH, FH_UNIT_NONE, NULL, "", UNBOUNDED, NULL,
     "query by committee: ML model file (a committee) whose energy spread orders the generated "
     "geometries, largest first, before the reference calculations (optional)"},
    {"sample", "select", FH_KEY_INT, FH_UNIT_NONE, NULL, "0", 0, 1e7, NULL,
     "with select_model: compute only this many, those of largest spread (0: all, in that order)"},
    {"sample", "diverse", FH_KEY_INT, FH_UNIT_NONE, NULL, "0", 0, 1e7, NULL,
     "compute only this many of the generated geometries (after select), picked one at a time "
     "farthest (RMSD after superposition) from the dataset's other rows and from the picks so "
     "far (0: all, in the generated order)"},

    {NULL, NULL, 0, 0, NULL, NULL, 0, 0, NULL, NULL},
};

const fh_deck_key *fh_deck_schema(void) { return schema; }
