/* The OpenMolcas provider's extras beyond the generic provider interface: the parts of the NAC
 * that ALASKA prints besides the total (kept in the reference dataset), the log of the last
 * calculation, and the log parser on its own so that it can be tested on stored logs.
 *
 * Conventions (ours; the provider converts): states are 0-based (S0 = 0; OpenMolcas root k+1),
 * d_ij = <psi_i|grad psi_j> in 1/bohr for i < j. For `&ALASKA NAC = A B` OpenMolcas prints
 * f^AB = <B|grad A> = h^AB/(E_A-E_B) + f_CSF^AB with h^AB = <B|dH/dR|A> (its "CI derivative
 * coupling", hartree/bohr) and f_CSF^AB (its "CSF derivative coupling"); we request A = i+1,
 * B = j+1 and store d_ij = -f^AB, h_ij = h^AB, d_ij^CSF = -f_CSF^AB, so that
 * d_ij = h_ij/(E_j-E_i) + d_ij^CSF. */
#ifndef FH_OPENMOLCAS_H
#define FH_OPENMOLCAS_H

#include <stdio.h>

#include "fh_surfaces.h"

/* Registry constructor ("openmolcas"). */
int fh_surf_molcas_create(const fh_surface_config *cfg, fh_surface *s, fh_err *err);

/* What the last evaluation of an OpenMolcas provider produced besides fh_surface_eval. */
typedef struct {
    int status;            /* FH_OK, or the code of the failure */
    double wall_s;         /* seconds the pymolcas runs took, pauses (SIGSTOP) left out */
    int reused_orbitals;   /* the run started from the previous geometry's orbitals */
    int rasscf_iterations; /* iterations to convergence (0 if unknown) */
    char log_path[1024];   /* the kept log ("" if logs are not kept and the run succeeded) */
    int have_nac_parts;    /* nac_ci and nac_csf are valid */
    const double *nac_ci;  /* [npairs*ndof] h_ij, hartree/bohr (owned by the provider) */
    const double *nac_csf; /* [npairs*ndof] d_ij^CSF, 1/bohr (owned by the provider) */
} fh_molcas_details;

/* Details of the last evaluation; FH_EINPUT if s is not an OpenMolcas provider. */
int fh_surf_molcas_details(const fh_surface *s, fh_molcas_details *out, fh_err *err);
/* Name used for the kept input and log of the next calculation (e.g. a geometry id); NULL or ""
 * returns to numbering. Characters other than [A-Za-z0-9._-] are replaced by '_'. */
int fh_surf_molcas_set_label(fh_surface *s, const char *label);
/* Forget the previous orbitals: the next calculation starts from SCF orbitals. */
void fh_surf_molcas_forget_orbitals(fh_surface *s);
/* Orbitals are reused only from a geometry where no atom was more than this far away (bohr):
 * consecutive dynamics steps and finite-difference displacements, not independent samples.
 * Measured on stilbene: from samples 0.4-0.8 A away the reused orbitals started 0.07-0.23
 * hartree above SCF orbitals, took as many or more RASSCF iterations and once converged to
 * another (higher) SA-CASSCF solution; SCF orbitals are the reproducible start for independent
 * geometries. */
#define FH_MOLCAS_REUSE_MAX_BOHR 0.2
/* With reuse_orbitals: start the next calculation from the orbitals in this RasOrb file, which
 * belong to geometry x (bohr), instead of the previous geometry's (e.g. those of the nearest
 * geometry computed so far); used only if x is close enough (FH_MOLCAS_REUSE_MAX_BOHR). */
int fh_surf_molcas_set_guess(fh_surface *s, const char *orbfile, const double *x);
/* Copy the orbitals of the last successful calculation (needs reuse_orbitals) to path. */
int fh_surf_molcas_save_orbitals(const fh_surface *s, const char *path);

/* Removes the work directories under scratch that runs of this host left when they were killed
 * (their process is gone). Every new provider does this; safe while other runs are live. */
void fh_molcas_sweep_scratch(const char *scratch);

/* Parsed output of one OpenMolcas run. The caller allocates the arrays. */
typedef struct {
    int natoms, nstates;
    unsigned grad_mask;    /* gradients that must be present, in order of the &ALASKA sections */
    int want_nac;          /* NAC blocks for all pairs i<j, in pair order, after the gradients */
    double *energy;        /* [nstates] out */
    double *grad;          /* [nstates*natoms*3] out (rows of grad_mask) */
    double *nac;           /* [npairs*natoms*3] out, d_ij (our convention) */
    double *nac_ci;        /* [npairs*natoms*3] out, h_ij */
    double *nac_csf;       /* [npairs*natoms*3] out, d_ij^CSF */
    int rasscf_iterations; /* out */
} fh_molcas_output;

/* Parse a pymolcas log (text) written for an input made by this provider. Energies come from
 * the "RASSCF root number" lines unless `energy_h5` (the rasscf.h5 file) is given and readable,
 * which holds them to full precision. A missing block, non-convergence or an error message of
 * OpenMolcas is FH_EFAIL with the reason. */
int fh_molcas_parse_log(const char *log_path, const char *energy_h5, fh_molcas_output *out,
                        fh_err *err);

/* The OpenMolcas input this provider writes for coordinates x (bohr); `orbfile` (may be NULL)
 * names the starting orbitals, otherwise an SCF calculation provides them; "" means neither:
 * RASSCF starts from the guess orbitals SEWARD leaves on the runfile (the fallback when the SCF
 * fails). */
int fh_molcas_write_input(FILE *f, const fh_molcas_config *cfg, int natoms, const int *z,
                          const double *x, int nstates, unsigned grad_mask, int want_nac,
                          const char *orbfile);

#endif
