/* Unit conversion tables and the element table. Kept table-driven so that adding a unit or an
 * element is one row. */
#include "fh_units.h"

#include <stddef.h>
#include <strings.h>

typedef struct {
    fh_unit_kind kind;
    const char *name;
    double to_au; /* multiply a value in this unit by to_au to get atomic units */
} unit_row;

static const unit_row unit_table[] = {
    {FH_UNIT_LENGTH, "bohr", 1.0},
    {FH_UNIT_LENGTH, "au", 1.0},
    {FH_UNIT_LENGTH, "a0", 1.0},
    {FH_UNIT_LENGTH, "angstrom", FH_ANGSTROM_BOHR},
    {FH_UNIT_LENGTH, "ang", FH_ANGSTROM_BOHR},
    {FH_UNIT_LENGTH, "A", FH_ANGSTROM_BOHR},
    {FH_UNIT_LENGTH, "nm", 10.0 * FH_ANGSTROM_BOHR},
    {FH_UNIT_LENGTH, "pm", 0.01 * FH_ANGSTROM_BOHR},
    {FH_UNIT_TIME, "au", 1.0},
    {FH_UNIT_TIME, "fs", FH_FS_AUTIME},
    {FH_UNIT_TIME, "ps", 1000.0 * FH_FS_AUTIME},
    {FH_UNIT_TIME, "as", 0.001 * FH_FS_AUTIME},
    {FH_UNIT_ENERGY, "hartree", 1.0},
    {FH_UNIT_ENERGY, "Eh", 1.0},
    {FH_UNIT_ENERGY, "au", 1.0},
    {FH_UNIT_ENERGY, "eV", 1.0 / FH_HARTREE_EV},
    {FH_UNIT_ENERGY, "meV", 0.001 / FH_HARTREE_EV},
    {FH_UNIT_ENERGY, "kcal/mol", 1.0 / FH_HARTREE_KCALMOL},
    {FH_UNIT_ENERGY, "kJ/mol", 1.0 / FH_HARTREE_KJMOL},
    {FH_UNIT_ENERGY, "cm-1", 1.0 / FH_HARTREE_CM1},
    {FH_UNIT_TEMPERATURE, "K", 1.0},
    {FH_UNIT_MASS, "au", 1.0},
    {FH_UNIT_MASS, "me", 1.0},
    {FH_UNIT_MASS, "amu", FH_AMU_ME},
    {FH_UNIT_MASS, "Da", FH_AMU_ME},
    {FH_UNIT_MOMENTUM, "au", 1.0},
    {FH_UNIT_VELOCITY, "au", 1.0},
    {FH_UNIT_VELOCITY, "bohr/au", 1.0},
    {FH_UNIT_VELOCITY, "Angstrom/fs", FH_ANGSTROM_BOHR / FH_FS_AUTIME},
    {FH_UNIT_VELOCITY, "Ang/fs", FH_ANGSTROM_BOHR / FH_FS_AUTIME},
    {FH_UNIT_VELOCITY, "bohr/fs", 1.0 / FH_FS_AUTIME},
    {FH_UNIT_FORCE, "hartree/bohr", 1.0},
    {FH_UNIT_FORCE, "au", 1.0},
    {FH_UNIT_FORCE, "eV/Angstrom", 1.0 / (FH_HARTREE_EV * FH_ANGSTROM_BOHR)},
    {FH_UNIT_FORCE, "eV/A", 1.0 / (FH_HARTREE_EV * FH_ANGSTROM_BOHR)},
    {FH_UNIT_FORCE, "meV/Angstrom", 0.001 / (FH_HARTREE_EV * FH_ANGSTROM_BOHR)},
    {FH_UNIT_FORCE, "meV/A", 0.001 / (FH_HARTREE_EV * FH_ANGSTROM_BOHR)},
};

static const char *kind_names[FH_UNIT_KIND_COUNT] = {
    "dimensionless", "length", "time", "energy", "temperature", "mass", "momentum", "velocity",
    "force",
};
static const char *au_names[FH_UNIT_KIND_COUNT] = {
    "", "bohr", "au", "hartree", "K", "au", "au", "au", "hartree/bohr",
};
static const char *allowed[FH_UNIT_KIND_COUNT] = {
    "none",
    "bohr, au, Angstrom, Ang, A, nm, pm",
    "au, fs, ps, as",
    "hartree, Eh, au, eV, meV, kcal/mol, kJ/mol, cm-1",
    "K",
    "au, me, amu, Da",
    "au",
    "au, bohr/au, Angstrom/fs, Ang/fs, bohr/fs",
    "hartree/bohr, au, eV/Angstrom, eV/A, meV/Angstrom, meV/A",
};

int fh_unit_factor(fh_unit_kind kind, const char *unit, double *factor)
{
    for (size_t i = 0; i < sizeof unit_table / sizeof unit_table[0]; i++) {
        if (unit_table[i].kind == kind && strcasecmp(unit_table[i].name, unit) == 0) {
            *factor = unit_table[i].to_au;
            return 0;
        }
    }
    return -1;
}

const char *fh_unit_au_name(fh_unit_kind kind)
{
    return (kind >= 0 && kind < FH_UNIT_KIND_COUNT) ? au_names[kind] : "";
}

const char *fh_unit_kind_name(fh_unit_kind kind)
{
    return (kind >= 0 && kind < FH_UNIT_KIND_COUNT) ? kind_names[kind] : "?";
}

const char *fh_unit_allowed(fh_unit_kind kind)
{
    return (kind >= 0 && kind < FH_UNIT_KIND_COUNT) ? allowed[kind] : "";
}

/* IUPAC standard atomic weights (conventional / abridged values), dalton. */
static const struct {
    const char *symbol;
    double mass;
} elements[FH_MAX_Z + 1] = {
    {"X", 0.0},        {"H", 1.008},      {"He", 4.002602},  {"Li", 6.94},
    {"Be", 9.0121831}, {"B", 10.81},      {"C", 12.011},     {"N", 14.007},
    {"O", 15.999},     {"F", 18.998403163}, {"Ne", 20.1797}, {"Na", 22.98976928},
    {"Mg", 24.305},    {"Al", 26.9815385}, {"Si", 28.085},   {"P", 30.973761998},
    {"S", 32.06},      {"Cl", 35.45},     {"Ar", 39.948},    {"K", 39.0983},
    {"Ca", 40.078},    {"Sc", 44.955908}, {"Ti", 47.867},    {"V", 50.9415},
    {"Cr", 51.9961},   {"Mn", 54.938044}, {"Fe", 55.845},    {"Co", 58.933194},
    {"Ni", 58.6934},   {"Cu", 63.546},    {"Zn", 65.38},     {"Ga", 69.723},
    {"Ge", 72.630},    {"As", 74.921595}, {"Se", 78.971},    {"Br", 79.904},
    {"Kr", 83.798},
};

int fh_element_z(const char *symbol)
{
    for (int z = 1; z <= FH_MAX_Z; z++)
        if (strcasecmp(elements[z].symbol, symbol) == 0) return z;
    return 0;
}

const char *fh_element_symbol(int z)
{
    return (z >= 1 && z <= FH_MAX_Z) ? elements[z].symbol : "X";
}

double fh_element_mass_amu(int z)
{
    return (z >= 1 && z <= FH_MAX_Z) ? elements[z].mass : 0.0;
}

double fh_element_mass_au(int z)
{
    return fh_element_mass_amu(z) * FH_AMU_ME;
}
