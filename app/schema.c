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
     "seconds before a calculation is killed and counted as failed (0: no limit)"},

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
     "optimise the S0 minimum on the provider before computing the Hessian"},
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

    {NULL, NULL, 0, 0, NULL, NULL, 0, 0, NULL, NULL},
};

const fh_deck_key *fh_deck_schema(void) { return schema; }
