/* Plots with gnuplot: a script (plots.gp, kept so users can restyle the figures) that draws PNGs
 * from the TSV files. Plotting is the last, optional step: without gnuplot the report is complete
 * and the caller only warns. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "fh_analysis.h"

static void populations_plot(FILE *f, const char *dir, int nstates, int with_fit)
{
    fprintf(f, "set output '%s/populations.png'\n", dir);
    fputs("set title 'Populations (lines: fraction in the active state, 95% bootstrap band;"
          " dashed: mean |c_i|^2)' noenhanced\n"
          "set xlabel 'time / fs'\nset ylabel 'population'\nset yrange [-0.02:1.02]\n"
          "set key outside right\nset style fill transparent solid 0.25 noborder\n", f);
    fprintf(f, "ns = %d\nf = '%s/populations.tsv'\n", nstates, dir);
    fputs("plot for [i=0:ns-1] f skip 1 using 1:(column(3+3*i)):(column(4+3*i)) with filledcurves"
          " lc i+1 notitle, \\\n"
          "     for [i=0:ns-1] f skip 1 using 1:(column(2+3*i)) with lines lw 2 lc i+1"
          " title sprintf('S%d', i), \\\n"
          "     for [i=0:ns-1] f skip 1 using 1:(column(2+3*ns+3*i)) with lines dt 2 lc i+1"
          " title sprintf('S%d |c|^2', i)", f);
    if (with_fit)
        fprintf(f, ", \\\n     '%s/lifetime_curve.tsv' skip 1 using 1:3 with lines lw 1.5 lc rgb 'black'"
                   " dt 3 title 'delayed exp. fit'", dir);
    fputs("\nreset\n", f);
}

static void torsion_plot(FILE *f, const char *dir, int nstates)
{
    fprintf(f, "set output '%s/torsion.png'\n", dir);
    fputs("set title 'Torsion angle of every trajectory, coloured by active state'\n"
          "set xlabel 'time / fs'\nset ylabel 'torsion / degree'\nset yrange [-180:180]\n"
          "set ytics 60\nset key outside right\n", f);
    fprintf(f, "ns = %d\nf = '%s/torsion.tsv'\n", nstates, dir);
    fputs("plot for [s=0:ns-1] f skip 1 using 2:($4 == s ? $3 : NaN) with points pt 7 ps 0.3"
          " lc s+1 title sprintf('S%d', s)\nreset\n", f);
}

static void hops_plot(FILE *f, const char *dir, const fh_ana_settings *s)
{
    fprintf(f, "set output '%s/hops.png'\n", dir);
    fputs("set multiplot layout 2,2\nset style fill solid 0.6 border -1\nset key off\n", f);
    fprintf(f, "set title 'Hop counts'\nset ylabel 'hops'\nset yrange [0:*]\nset boxwidth 0.6\n"
               "plot '%s/hop_counts.tsv' skip 1 using 0:2:xtic(1) with boxes lc 1\n",
            dir);
    const struct {
        const char *q, *title, *xlabel;
    } h[3] = {{"torsion_deg", "torsion at S%d->S%d hops", "torsion / degree"},
              {"pyramidalization_deg", "pyramidalization at S%d->S%d hops", "pyramidalization / degree"},
              {"gap_eV", "energy gap at S%d->S%d hops", "gap / eV"}};
    for (int i = 0; i < 3; i++) {
        fputs("set title '", f);
        fprintf(f, h[i].title, s->excited_state, s->ground_state);
        fprintf(f, "' noenhanced\nset xlabel '%s'\nset ylabel 'hops'\nset boxwidth 1.0 relative\n"
                   "plot '%s/hop_histograms.tsv' skip 1 using (($2+$3)/2):(strcol(1) eq '%s' ? $4 : NaN)"
                   " with boxes lc %d\n",
                h[i].xlabel, dir, h[i].q, i + 2);
    }
    fputs("unset multiplot\nreset\n", f);
}

int fh_ana_plot(const char *resdir, const fh_ana_ensemble *e, const fh_ana_settings *s,
                const fh_ana_results *r, fh_err *err)
{
    if (strchr(resdir, '\''))
        return fh_err_set(err, FH_EFAIL, "%s: no plots for a directory name with a quote", resdir);
    if (r->pop.ngrid == 0)
        return fh_err_set(err, FH_EFAIL, "no plots: no finished trajectories");
    char script[4096], log[4096];
    snprintf(script, sizeof script, "%s/plots.gp", resdir);
    snprintf(log, sizeof log, "%s/gnuplot.log", resdir);
    FILE *f = fopen(script, "w");
    if (!f) return fh_err_set(err, FH_EFAIL, "%s: cannot write", script);
    fputs("# gnuplot script written by fusionhop analyze; run `gnuplot plots.gp` to redraw\n"
          "set terminal pngcairo size 1000,650 font ',11'\nset datafile separator '\\t'\n", f);
    populations_plot(f, resdir, e->nstates, r->life.ok);
    fputs("set terminal pngcairo size 1000,650 font ',11'\nset datafile separator '\\t'\n", f);
    if (s->dihedral[0] >= 0) {
        torsion_plot(f, resdir, e->nstates);
        fputs("set terminal pngcairo size 1000,650 font ',11'\nset datafile separator '\\t'\n", f);
    }
    hops_plot(f, resdir, s);
    if (fclose(f) != 0) return fh_err_set(err, FH_EFAIL, "%s: write error", script);

    const char *gp = getenv("FH_GNUPLOT");
    if (!gp || !*gp) gp = "gnuplot";
    if (strchr(gp, '\''))
        return fh_err_set(err, FH_EFAIL, "FH_GNUPLOT: no quotes allowed in '%s'", gp);
    char cmd[3 * 4096];
    snprintf(cmd, sizeof cmd, "'%s' '%s' > '%s' 2>&1", gp, script, log);
    int st = system(cmd);
    if (st == -1 || !WIFEXITED(st))
        return fh_err_set(err, FH_EFAIL, "could not run gnuplot ('%s')", gp);
    if (WEXITSTATUS(st) == 127)
        return fh_err_set(err, FH_EFAIL, "gnuplot not found ('%s'); install gnuplot-nox for plots", gp);
    if (WEXITSTATUS(st) != 0)
        return fh_err_set(err, FH_EFAIL, "gnuplot failed (exit %d); see %s", WEXITSTATUS(st), log);
    return FH_OK;
}
