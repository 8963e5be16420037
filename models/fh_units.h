/* Units, physical constants (CODATA 2018) and the element table: the one place they live.
 * Everything inside fusionhop is in atomic units (bohr, hartree, electron masses, a.u. of time);
 * conversions happen only at the edges (decks, XYZ files, trajectory files, reports). */
#ifndef FH_UNITS_H
#define FH_UNITS_H

/* CODATA 2018 */
#define FH_BOHR_ANGSTROM 0.529177210903        /* 1 bohr in Angstrom */
#define FH_ANGSTROM_BOHR (1.0 / FH_BOHR_ANGSTROM)
#define FH_HARTREE_EV 27.211386245988          /* 1 hartree in eV */
#define FH_HARTREE_KCALMOL 627.5094740631      /* 1 hartree in kcal/mol */
#define FH_HARTREE_KJMOL 2625.4996394799       /* 1 hartree in kJ/mol */
#define FH_HARTREE_CM1 219474.6313632          /* 1 hartree in cm^-1 */
#define FH_AUTIME_FS 0.024188843265857         /* 1 a.u. of time in fs */
#define FH_FS_AUTIME (1.0 / FH_AUTIME_FS)
#define FH_KB_HARTREE 3.166811563e-6           /* Boltzmann constant in hartree/K */
#define FH_AMU_ME 1822.888486209               /* 1 dalton in electron masses */

/* Kinds of physical quantity a deck value may carry. */
typedef enum {
    FH_UNIT_NONE = 0,   /* dimensionless */
    FH_UNIT_LENGTH,     /* bohr, au, Angstrom, Ang, A, nm, pm */
    FH_UNIT_TIME,       /* au, fs, ps, as */
    FH_UNIT_ENERGY,     /* hartree, Eh, au, eV, meV, kcal/mol, kJ/mol, cm-1 */
    FH_UNIT_TEMPERATURE,/* K */
    FH_UNIT_MASS,       /* au, me, amu, Da */
    FH_UNIT_MOMENTUM,   /* au */
    FH_UNIT_VELOCITY,   /* au, Angstrom/fs, bohr/fs */
    FH_UNIT_FORCE,      /* hartree/bohr, au, eV/Angstrom, eV/A, meV/Angstrom, meV/A */
    FH_UNIT_KIND_COUNT
} fh_unit_kind;

/* Factor that converts a value in `unit` (case-insensitive) to atomic units of `kind`.
 * Returns 0 on success, -1 when the unit is unknown or of another kind. */
int fh_unit_factor(fh_unit_kind kind, const char *unit, double *factor);
/* Name of the atomic unit of a kind ("bohr", "hartree", ...), and the unit names allowed for it. */
const char *fh_unit_au_name(fh_unit_kind kind);
const char *fh_unit_kind_name(fh_unit_kind kind);
const char *fh_unit_allowed(fh_unit_kind kind);

/* Elements H..Kr. */
#define FH_MAX_Z 36
/* Atomic number of an element symbol (case-insensitive), or 0 if unknown. */
int fh_element_z(const char *symbol);
/* Symbol of Z ("X" if out of range). */
const char *fh_element_symbol(int z);
/* Standard atomic weight in dalton (IUPAC conventional/abridged values), or 0 if out of range. */
double fh_element_mass_amu(int z);
/* The same in electron masses (atomic units). */
double fh_element_mass_au(int z);

#endif
