/* The provider interface: one way for every source of electronic structure (analytic model
 * surfaces, the ML model, OpenMolcas) to give the dynamics energies of all adiabatic states,
 * gradients of a requested subset of states and nonadiabatic coupling vectors. Providers are
 * listed in one registry table (surfaces/registry.c); adding one is a file plus a table row.
 * All quantities are in atomic units: coordinates in bohr, energies in hartree, gradients in
 * hartree/bohr, NACs d_ij = <psi_i|grad psi_j> in 1/bohr. */
#ifndef FH_SURFACES_H
#define FH_SURFACES_H

#include "fh_error.h"

/* Capability flags: what a provider can compute. */
enum {
    FH_CAP_ENERGY = 1u << 0,
    FH_CAP_GRADIENT = 1u << 1,
    FH_CAP_NAC = 1u << 2,
    FH_CAP_SPREAD = 1u << 3 /* committee standard deviation of the energies */
};

/* Number of unordered state pairs; pair (i,j), i<j, has index fh_pair_index(n,i,j) in the order
 * (0,1),(0,2),...,(0,n-1),(1,2),... */
static inline int fh_npairs(int nstates) { return nstates * (nstates - 1) / 2; }
static inline int fh_pair_index(int nstates, int i, int j)
{
    return i * nstates - i * (i + 1) / 2 + (j - i - 1);
}

/* Settings of the OpenMolcas provider (SA-CASSCF). Strings are owned by the caller. */
typedef struct {
    const char *basis;       /* e.g. "6-31G" */
    int nactel, nactorb;     /* active electrons and orbitals */
    int ninactive;           /* inactive (doubly occupied) orbitals */
    int charge, spin;        /* total charge, multiplicity */
    int memory_mb;           /* MOLCAS_MEM */
    int threads;             /* OMP_NUM_THREADS for pymolcas */
    const char *scratch;     /* parent of the work directories, e.g. "/dev/shm" */
    const char *keep_dir;    /* where inputs/logs of each calculation are kept; NULL: not kept */
    const char *pymolcas;    /* command, default "/usr/bin/python3 /usr/bin/pymolcas" */
    int reuse_orbitals;      /* start from the previous converged orbitals */
    double timeout_s;        /* kill a calculation after this long; 0: no limit */
    int tight;               /* RASSCF thresholds 1e-10/1e-6/1e-6 instead of the defaults (for
                                finite-difference checks; costs ~10 more iterations) */
} fh_molcas_config;

/* What is needed to build a provider; each provider reads the fields it needs. */
typedef struct {
    const char *type;        /* registry name, e.g. "tully1", "lvc", "ml", "openmolcas" */
    int nstates;             /* number of adiabatic states (0: provider default) */
    int natoms;              /* molecular providers: number of atoms */
    const int *z;            /* [natoms] atomic numbers */
    const char *model_file;  /* "ml": path of the model file */
    int ml_mixed;            /* "ml": 1 = mixed precision (fh_model_set_precision), 0 = double */
    fh_molcas_config molcas; /* "openmolcas" */
} fh_surface_config;

/* A request and its results. The caller allocates every output array it asks for. */
typedef struct {
    const double *x;      /* [ndof] coordinates, bohr */
    unsigned grad_mask;   /* bit s set: gradient of state s wanted (nstates <= 32) */
    int want_nac;         /* nonzero: NACs of all pairs wanted (needs FH_CAP_NAC) */
    double *energy;       /* [nstates] out, hartree */
    double *grad;         /* [nstates*ndof] out, hartree/bohr; rows of unrequested states untouched */
    double *nac;          /* [npairs*ndof] out, 1/bohr */
    double *energy_std;   /* [nstates] out if FH_CAP_SPREAD and non-NULL, hartree */
    int exact;            /* nonzero: the provider's full arithmetic even where it is set to a
                             faster one (the ML model's mixed precision, whose rounding noise of
                             ~1e-7 relative matters to optimisations and finite differences) */
} fh_surface_eval;

typedef struct fh_surface fh_surface;
struct fh_surface {
    const char *name;     /* registry name */
    int nstates;
    int ndof;             /* number of nuclear coordinates (3*natoms, or 1 for 1D models) */
    int natoms;           /* 0 for non-molecular model surfaces */
    unsigned caps;        /* FH_CAP_* */
    double *mass;         /* [ndof] nuclear masses per coordinate, electron masses (owned) */
    int *z;               /* [natoms] atomic numbers, NULL for model surfaces (owned) */
    int (*eval)(fh_surface *self, fh_surface_eval *req, fh_err *err);
    void (*destroy)(fh_surface *self); /* frees impl only */
    void *impl;
};

/* One row of the registry. */
typedef struct {
    const char *name;
    const char *help;
    int (*create)(const fh_surface_config *cfg, fh_surface *s, fh_err *err);
} fh_surface_type;

/* Registry look-up: NULL-terminated table of all providers. */
const fh_surface_type *fh_surface_types(void);
const fh_surface_type *fh_surface_type_find(const char *name);

/* Build a provider from its configuration. */
int fh_surface_alloc(const fh_surface_config *cfg, fh_surface **out, fh_err *err);
void fh_surface_free(fh_surface *s);
/* Evaluate; checks the request against the provider's capabilities and the results for NaN. */
int fh_surface_evaluate(fh_surface *s, fh_surface_eval *req, fh_err *err);

#endif
