/* The analysis report: every table as a TSV file (header line of column names with units, then
 * one row per record; times in fs, energies in eV, distances in Angstrom, angles in degrees), and
 * a summary as text for people and as JSON for scripts. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ana_internal.h"
#include "fh_units.h"
#include "fh_version.h"

int fh_ana_compute(const fh_ana_ensemble *e, const fh_ana_settings *s, fh_ana_results *r, fh_err *err)
{
    memset(r, 0, sizeof *r);
    int rc = fh_ana_populations_compute(e, s, &r->pop, err);
    if (!rc) rc = fh_ana_lifetime_compute(e, s, &r->pop, &r->life, err);
    if (!rc) rc = fh_ana_hops_compute(e, s, &r->hops, err);
    if (!rc) {
        fh_ana_yields_compute(e, s, &r->yields);
        fh_ana_quality_compute(e, &r->quality);
    }
    if (rc) fh_ana_results_free(r);
    return rc;
}

void fh_ana_results_free(fh_ana_results *r)
{
    if (!r) return;
    fh_ana_populations_free(&r->pop);
    fh_ana_hops_free(&r->hops);
}

/* ------------------------------------------------------------------------------------------------
 * Helpers */

typedef struct {
    FILE *f;
    char path[4096];
} out_file;

static int open_out(out_file *o, const char *dir, const char *name, fh_err *err)
{
    snprintf(o->path, sizeof o->path, "%s/%s", dir, name);
    o->f = fopen(o->path, "w");
    if (!o->f) return fh_err_set(err, FH_EFAIL, "%s: cannot write (%s)", o->path, strerror(errno));
    return FH_OK;
}

static int close_out(out_file *o, fh_err *err)
{
    int bad = ferror(o->f);
    if (fclose(o->f) != 0 || bad) return fh_err_set(err, FH_EFAIL, "%s: write error", o->path);
    return FH_OK;
}

/* A value in a TSV cell: "nan" for NaN. */
static void cell(FILE *f, double v)
{
    if (isnan(v)) fputs("\tnan", f);
    else fprintf(f, "\t%.10g", v);
}

/* Free text in a TSV cell: tabs and newlines become spaces. */
static void text_cell(FILE *f, const char *s)
{
    fputc('\t', f);
    for (; *s; s++) fputc(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s, f);
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c == '\n') fputs("\\n", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

static void json_num(FILE *f, double v)
{
    if (isfinite(v)) fprintf(f, "%.10g", v);
    else fputs("null", f);
}

static const double FS = FH_AUTIME_FS, EV = FH_HARTREE_EV, ANG = FH_BOHR_ANGSTROM;

static double last_time(const fh_ana_traj *t) { return t->nframes > 0 ? t->time[t->nframes - 1] : NAN; }

/* ------------------------------------------------------------------------------------------------
 * Tables */

static int write_populations(const char *dir, const fh_ana_ensemble *e, const fh_ana_results *r,
                             fh_err *err)
{
    out_file o;
    int rc = open_out(&o, dir, "populations.tsv", err);
    if (rc) return rc;
    const fh_ana_populations *p = &r->pop;
    fputs("time_fs", o.f);
    for (int i = 0; i < e->nstates; i++) fprintf(o.f, "\tfrac_S%d\tfrac_S%d_lo95\tfrac_S%d_hi95", i, i, i);
    for (int i = 0; i < e->nstates; i++) fprintf(o.f, "\tpop_S%d\tpop_S%d_lo95\tpop_S%d_hi95", i, i, i);
    fputc('\n', o.f);
    for (long g = 0; g < p->ngrid; g++) {
        fprintf(o.f, "%.10g", p->time[g] * FS);
        for (int i = 0; i < p->nstates; i++) {
            long c = g * p->nstates + i;
            cell(o.f, p->frac[c]);
            cell(o.f, p->frac_lo[c]);
            cell(o.f, p->frac_hi[c]);
        }
        for (int i = 0; i < p->nstates; i++) {
            long c = g * p->nstates + i;
            cell(o.f, p->pop[c]);
            cell(o.f, p->pop_lo[c]);
            cell(o.f, p->pop_hi[c]);
        }
        fputc('\n', o.f);
    }
    return close_out(&o, err);
}

static double delayed_exp(const fh_ana_lifetime *l, double t)
{
    return t < l->t0 ? l->amplitude : l->amplitude * exp(-(t - l->t0) / l->tau);
}

static int write_lifetime(const char *dir, const fh_ana_results *r, fh_err *err)
{
    out_file o;
    int rc = open_out(&o, dir, "lifetime.tsv", err);
    if (rc) return rc;
    const fh_ana_lifetime *l = &r->life;
    fputs("quantity\tvalue\tbootstrap_std\tci95_lo\tci95_hi\tunit\n", o.f);
    fprintf(o.f, "state\t%d\tnan\tnan\tnan\t-\n", l->state);
    fprintf(o.f, "fit_converged\t%d\tnan\tnan\tnan\t-\n", l->ok);
    fputs("amplitude", o.f);
    cell(o.f, l->amplitude);
    fputs("\tnan\tnan\tnan\t-\n", o.f);
    fputs("t0", o.f);
    cell(o.f, l->t0 * FS);
    cell(o.f, l->t0_err * FS);
    cell(o.f, l->t0_lo * FS);
    cell(o.f, l->t0_hi * FS);
    fputs("\tfs\ntau", o.f);
    cell(o.f, l->tau * FS);
    cell(o.f, l->tau_err * FS);
    cell(o.f, l->tau_lo * FS);
    cell(o.f, l->tau_hi * FS);
    fputs("\tfs\n", o.f);
    fprintf(o.f, "bootstrap_fits\t%d\tnan\tnan\tnan\t-\n", l->nboot_ok);
    rc = close_out(&o, err);
    if (rc) return rc;

    if ((rc = open_out(&o, dir, "lifetime_curve.tsv", err))) return rc;
    fprintf(o.f, "time_fs\tfrac_S%d\tfit\n", l->state);
    const fh_ana_populations *p = &r->pop;
    for (long g = 0; g < p->ngrid; g++) {
        fprintf(o.f, "%.10g", p->time[g] * FS);
        cell(o.f, p->frac[g * p->nstates + l->state]);
        cell(o.f, l->ok ? delayed_exp(l, p->time[g]) : NAN);
        fputc('\n', o.f);
    }
    return close_out(&o, err);
}

static int write_products(const char *dir, const fh_ana_ensemble *e, const fh_ana_results *r,
                          fh_err *err)
{
    out_file o;
    int rc = open_out(&o, dir, "products.tsv", err);
    if (rc) return rc;
    fputs("traj\tstatus\tused\tfinal_time_fs\tfinal_state\ttorsion_deg\tring_distance_A\tproduct\n", o.f);
    for (long k = 0; k < e->ntraj; k++) {
        const fh_ana_traj *t = &e->traj[k];
        long n = t->nframes;
        fprintf(o.f, "%ld\t%s\t%d", t->index, fh_traj_status_name(t->status), t->used);
        cell(o.f, last_time(t) * FS);
        fprintf(o.f, "\t%d", t->final_state);
        cell(o.f, t->torsion && n ? t->torsion[n - 1] : NAN);
        cell(o.f, t->ring && n ? t->ring[n - 1] * ANG : NAN);
        fprintf(o.f, "\t%s\n", fh_ana_product_name(t->product));
    }
    rc = close_out(&o, err);
    if (rc) return rc;

    if ((rc = open_out(&o, dir, "yields.tsv", err))) return rc;
    const fh_ana_yields *y = &r->yields;
    fputs("set\tproduct\tcount\tn\tyield\tstderr\twilson95_lo\twilson95_hi\n", o.f);
    const char *sets[2] = {"all", "ended_in_S0"};
    for (int st = 0; st < 2 && y->classified; st++)
        for (int p = 0; p < FH_PROD_COUNT; p++) {
            fprintf(o.f, "%s\t%s\t%ld\t%ld", sets[st], fh_ana_product_name(p), y->count[st][p], y->n[st]);
            cell(o.f, y->yield[st][p]);
            cell(o.f, y->err[st][p]);
            cell(o.f, y->lo[st][p]);
            cell(o.f, y->hi[st][p]);
            fputc('\n', o.f);
        }
    return close_out(&o, err);
}

static int write_hops(const char *dir, const fh_ana_ensemble *e, const fh_ana_settings *s,
                      const fh_ana_results *r, fh_err *err)
{
    out_file o;
    int rc = open_out(&o, dir, "hops.tsv", err);
    if (rc) return rc;
    fputs("traj\ttime_fs\tstep\tfrom\tto\tfrustrated\tgap_eV\ttorsion_deg\tpyramidalization_deg\n", o.f);
    for (long k = 0; k < e->ntraj; k++) {
        const fh_ana_traj *t = &e->traj[k];
        if (!t->used) continue;
        for (long i = 0; i < t->nhops; i++) {
            const fh_h5md_hop *h = &t->hops[i];
            long f = fh_h5md_frame_at(t->time, t->nframes, h->time);
            fprintf(o.f, "%ld", t->index);
            cell(o.f, h->time * FS);
            fprintf(o.f, "\t%ld\t%d\t%d\t%d", h->step, h->from, h->to, h->frustrated);
            cell(o.f, h->gap * EV);
            cell(o.f, t->torsion && t->nframes ? t->torsion[f] : NAN);
            cell(o.f, t->pyramid && t->nframes ? t->pyramid[f] : NAN);
            fputc('\n', o.f);
        }
    }
    if ((rc = close_out(&o, err))) return rc;

    const fh_ana_hops *h = &r->hops;
    if ((rc = open_out(&o, dir, "hop_counts.tsv", err))) return rc;
    double nu = e->nused > 0 ? (double)e->nused : NAN;
    fputs("kind\tcount\tper_trajectory\n", o.f);
    fprintf(o.f, "up\t%ld", h->up);
    cell(o.f, h->up / nu);
    fprintf(o.f, "\ndown\t%ld", h->down);
    cell(o.f, h->down / nu);
    fprintf(o.f, "\nfrustrated\t%ld", h->frustrated);
    cell(o.f, h->frustrated / nu);
    fprintf(o.f, "\nS%d_to_S%d\t%ld", s->excited_state, s->ground_state, h->ndown_es);
    cell(o.f, h->ndown_es / nu);
    fputc('\n', o.f);
    if ((rc = close_out(&o, err))) return rc;

    if ((rc = open_out(&o, dir, "hop_histograms.tsv", err))) return rc;
    fputs("quantity\tbin_lo\tbin_hi\tcount\n", o.f);
    long counts[64];
    double gmax = 0.0;
    for (long i = 0; i < h->ndown_es; i++)
        if (h->gap[i] * EV > gmax) gmax = h->gap[i] * EV;
    double gtop = gmax > 0 ? ceil(gmax * 10.0 + 1e-9) / 10.0 : 1.0;
    double *gap_ev = malloc(sizeof *gap_ev * (size_t)(h->ndown_es + 1));
    if (!gap_ev) {
        close_out(&o, err);
        return fh_err_set(err, FH_EFAIL, "out of memory");
    }
    for (long i = 0; i < h->ndown_es; i++) gap_ev[i] = h->gap[i] * EV;
    const struct {
        const char *name;
        const double *v;
        double lo, hi;
        int nb;
    } hist[3] = {{"torsion_deg", h->torsion, -180.0, 180.0, 36},
                 {"pyramidalization_deg", h->pyramid, 0.0, 90.0, 18},
                 {"gap_eV", gap_ev, 0.0, gtop, 20}};
    for (int q = 0; q < 3; q++) {
        fh_ana_histogram(hist[q].v, h->ndown_es, hist[q].lo, hist[q].hi, hist[q].nb, counts);
        double w = (hist[q].hi - hist[q].lo) / hist[q].nb;
        for (int b = 0; b < hist[q].nb; b++)
            fprintf(o.f, "%s\t%.10g\t%.10g\t%ld\n", hist[q].name, hist[q].lo + b * w,
                    hist[q].lo + (b + 1) * w, counts[b]);
    }
    free(gap_ev);
    if ((rc = close_out(&o, err))) return rc;

    if ((rc = open_out(&o, dir, "first_hop.tsv", err))) return rc;
    fprintf(o.f, "traj\tfirst_hop_to_S%d_fs\n", s->ground_state);
    for (long i = 0; i < h->nfirst; i++) {
        fprintf(o.f, "%ld", h->first_traj[i]);
        cell(o.f, h->first_time[i] * FS);
        fputc('\n', o.f);
    }
    return close_out(&o, err);
}

static int write_quality(const char *dir, const fh_ana_ensemble *e, fh_err *err)
{
    out_file o;
    int rc = open_out(&o, dir, "quality.tsv", err);
    if (rc) return rc;
    fputs("traj\tstatus\tused\texcluded_because\tstop_reason\tnframes\tfinal_time_fs\tmax_dE_eV"
          "\tdrift_eV\tmax_spread_eV\n", o.f);
    for (long k = 0; k < e->ntraj; k++) {
        const fh_ana_traj *t = &e->traj[k];
        fprintf(o.f, "%ld\t%s\t%d", t->index, fh_traj_status_name(t->status), t->used);
        text_cell(o.f, t->excluded[0] ? t->excluded : "-");
        text_cell(o.f, t->stop_reason[0] ? t->stop_reason : "-");
        fprintf(o.f, "\t%ld", t->nframes);
        cell(o.f, last_time(t) * FS);
        cell(o.f, t->nframes ? t->max_dev_etot * EV : NAN);
        cell(o.f, t->nframes ? t->drift_etot * EV : NAN);
        cell(o.f, t->max_spread >= 0 ? t->max_spread * EV : NAN);
        fputc('\n', o.f);
    }
    return close_out(&o, err);
}

static int write_torsion(const char *dir, const fh_ana_ensemble *e, fh_err *err)
{
    out_file o;
    int rc = open_out(&o, dir, "torsion.tsv", err);
    if (rc) return rc;
    fputs("traj\ttime_fs\ttorsion_deg\tactive_state\n", o.f);
    for (long k = 0; k < e->ntraj; k++) {
        const fh_ana_traj *t = &e->traj[k];
        if (!t->used || !t->torsion) continue;
        for (long f = 0; f < t->nframes; f++) {
            fprintf(o.f, "%ld", t->index);
            cell(o.f, t->time[f] * FS);
            cell(o.f, t->torsion[f]);
            fprintf(o.f, "\t%d\n", t->active[f]);
        }
        fputc('\n', o.f);
    }
    return close_out(&o, err);
}

/* ------------------------------------------------------------------------------------------------
 * Summaries */

static void pm(FILE *f, double v, double e, const char *unit)
{
    fprintf(f, "%.4g", v);
    if (isfinite(e)) fprintf(f, " +- %.2g", e);
    fprintf(f, " %s", unit);
}

static int write_summary_txt(const char *dir, const fh_ana_ensemble *e, const fh_ana_settings *s,
                             const fh_ana_results *r, fh_err *err)
{
    out_file o;
    int rc = open_out(&o, dir, "summary.txt", err);
    if (rc) return rc;
    FILE *f = o.f;
    long st[4];
    fh_ana_status_counts(e, st);
    fprintf(f, "%s %s analysis of %s%s\n\n", FH_PROGRAM, FH_VERSION, e->dir,
            e->have_index ? "" : " (no ensemble.h5: trajectory files found in traj/)");
    if (e->stilbene_defaults)
        fputs("stilbene recognised (atom order of inputs/geometries): unset analysis settings default "
              "to dihedral 4 1 2 16, ring 5 17, 5 21, 9 17, 9 21, pyramid 1 2 3 4\n\n", f);
    fprintf(f, "trajectories: %ld (done %ld, failed %ld, running %ld, not started %ld); used in the statistics: %ld\n",
            e->ntraj, st[FH_TRAJ_DONE], st[FH_TRAJ_FAILED], st[FH_TRAJ_RUNNING], st[FH_TRAJ_PENDING], e->nused);
    long nex = e->ntraj - e->nused;
    if (nex > 0) {
        fprintf(f, "excluded (%ld):\n", nex);
        for (long k = 0; k < e->ntraj; k++)
            if (!e->traj[k].used) fprintf(f, "  traj %ld: %s\n", e->traj[k].index, e->traj[k].excluded);
    }
    const fh_ana_populations *p = &r->pop;
    if (p->ngrid > 0) {
        long g = p->ngrid - 1;
        fprintf(f, "\npopulations at t = %.1f fs (fraction in state [95%% band]; mean |c|^2):\n", p->time[g] * FS);
        for (int i = 0; i < p->nstates; i++) {
            long c = g * p->nstates + i;
            fprintf(f, "  S%d: %.3f [%.3f, %.3f]; %.3f\n", i, p->frac[c], p->frac_lo[c], p->frac_hi[c], p->pop[c]);
        }
    }
    const fh_ana_lifetime *l = &r->life;
    fprintf(f, "\nS%d lifetime (delayed exponential fit): ", l->state);
    if (l->ok) {
        fputs("tau = ", f);
        pm(f, l->tau * FS, l->tau_err * FS, "fs");
        fprintf(f, " (95%% CI %.4g-%.4g fs), t0 = ", l->tau_lo * FS, l->tau_hi * FS);
        pm(f, l->t0 * FS, l->t0_err * FS, "fs");
        fprintf(f, ", A = %.3f; %d bootstrap fits\n", l->amplitude, l->nboot_ok);
        if (l->note[0]) fprintf(f, "  note: %s\n", l->note);
    } else {
        fprintf(f, "not fitted: %s\n", l->note);
    }
    const fh_ana_yields *y = &r->yields;
    if (!y->classified) {
        fputs("\nproducts: not classified (set analysis.dihedral, and analysis.ring for a ring-closed product)\n", f);
    } else {
        const char *names[2] = {"all used trajectories", "trajectories that ended in S0"};
        for (int set = 0; set < 2; set++) {
            fprintf(f, "\nquantum yields, %s (n = %ld)%s\n", names[set], y->n[set],
                    y->n[set] ? ":" : ": none (no such trajectory)");
            for (int q = 0; q < FH_PROD_COUNT && y->n[set] > 0; q++)
                fprintf(f, "  %-6s %4ld  %.3f +- %.3f  (95%% Wilson %.3f-%.3f)\n", fh_ana_product_name(q),
                        y->count[set][q], y->yield[set][q], y->err[set][q], y->lo[set][q], y->hi[set][q]);
        }
        fprintf(f, "  (cis: |torsion| < %.1f deg; DHP: ring distance < %.3f Angstrom)\n", s->cis_max,
                s->ring_max * ANG);
    }
    const fh_ana_hops *h = &r->hops;
    fprintf(f, "\nhops (used trajectories): up %ld, down %ld, frustrated %ld; S%d->S%d %ld\n", h->up, h->down,
            h->frustrated, s->excited_state, s->ground_state, h->ndown_es);
    if (h->nfirst > 0) {
        /* one hop has no standard deviation: say so rather than print nan */
        char sd[32] = "- (n = 1)";
        if (isfinite(h->first_std)) snprintf(sd, sizeof sd, "%.3g fs", h->first_std * FS);
        fprintf(f, "first hop to S%d: mean %.4g fs, median %.4g fs, std %s, range %.4g-%.4g fs (n = %ld; never: %ld)\n",
                s->ground_state, h->first_mean * FS, h->first_median * FS, sd,
                h->first_min * FS, h->first_max * FS, h->nfirst, h->nnever);
    } else
        fprintf(f, "first hop to S%d: none (%ld trajectories never hopped there)\n", s->ground_state, h->nnever);
    if (h->ndown_es > 0) {
        fprintf(f, "S%d->S%d hops at: gap median %.3g eV (range %.3g-%.3g eV)", s->excited_state,
                s->ground_state, h->gap_median * EV, h->gap_min * EV, h->gap_max * EV);
        if (!isnan(h->torsion_median)) fprintf(f, ", |torsion| median %.1f deg", h->torsion_median);
        if (!isnan(h->pyramid_median)) fprintf(f, ", pyramidalization median %.1f deg", h->pyramid_median);
        fputc('\n', f);
    }
    const fh_ana_quality *q = &r->quality;
    fprintf(f, "\nenergy conservation, max |E_tot(t) - E_tot(0)| over %ld trajectories: mean %.3g eV, median %.3g eV, max %.3g eV\n",
            q->n, q->drift_mean * EV, q->drift_median * EV, q->drift_max * EV);
    if (s->bond_break > 0)
        fprintf(f, "molecule fell apart (bond_break %.2f x covalent radii): %ld of %ld trajectories\n",
                s->bond_break, q->napart, q->n);
    else
        fprintf(f, "molecule fell apart: frames not checked (bond_break 0); runs the dynamics "
                   "stopped for it: %ld of %ld\n", q->napart, q->n);
    if (q->nspread > 0)
        fprintf(f, "model spread, max per trajectory over %ld trajectories: mean %.3g eV, median %.3g eV, max %.3g eV\n",
                q->nspread, q->spread_mean * EV, q->spread_median * EV, q->spread_max * EV);
    else
        fputs("model spread: not recorded (no committee)\n", f);
    fprintf(f, "\nbootstrap: %d resamples, seed %llu\n", s->nboot, (unsigned long long)s->seed);
    return close_out(&o, err);
}

static void json_key(FILE *f, const char *k) { fprintf(f, "\"%s\": ", k); }

/* "k1": v1, "k2": v2, ... (no separator before the first or after the last) */
typedef struct {
    const char *k;
    double v;
} json_kv;

static void json_kvs(FILE *f, const json_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i) fputs(", ", f);
        json_key(f, kv[i].k);
        json_num(f, kv[i].v);
    }
}

static int write_summary_json(const char *dir, const fh_ana_ensemble *e, const fh_ana_settings *s,
                              const fh_ana_results *r, fh_err *err)
{
    out_file o;
    int rc = open_out(&o, dir, "summary.json", err);
    if (rc) return rc;
    FILE *f = o.f;
    long st[4];
    fh_ana_status_counts(e, st);
    fprintf(f, "{\n  \"program\": \"%s\", \"version\": \"%s\",\n  \"outdir\": ", FH_PROGRAM, FH_VERSION);
    json_str(f, e->dir);
    fprintf(f, ",\n  \"units\": {\"time\": \"fs\", \"energy\": \"eV\", \"length\": \"Angstrom\", \"angle\": \"degree\"},\n");
    fprintf(f, "  \"trajectories\": {\"total\": %ld, \"done\": %ld, \"failed\": %ld, \"running\": %ld, "
               "\"pending\": %ld, \"used\": %ld},\n",
            e->ntraj, st[FH_TRAJ_DONE], st[FH_TRAJ_FAILED], st[FH_TRAJ_RUNNING], st[FH_TRAJ_PENDING], e->nused);
    fputs("  \"excluded\": [", f);
    int first = 1;
    for (long k = 0; k < e->ntraj; k++) {
        if (e->traj[k].used) continue;
        fprintf(f, "%s\n    {\"traj\": %ld, \"status\": \"%s\", \"reason\": ", first ? "" : ",", e->traj[k].index,
                fh_traj_status_name(e->traj[k].status));
        json_str(f, e->traj[k].excluded);
        fputc('}', f);
        first = 0;
    }
    fputs(first ? "],\n" : "\n  ],\n", f);

    const fh_ana_populations *p = &r->pop;
    fputs("  \"final_populations\": ", f);
    if (p->ngrid > 0) {
        long g = p->ngrid - 1;
        fputs("{\"time\": ", f);
        json_num(f, p->time[g] * FS);
        const char *k3[2] = {"fraction", "mean_amplitude_population"};
        for (int which = 0; which < 2; which++) {
            const double *v = which ? p->pop : p->frac, *lo = which ? p->pop_lo : p->frac_lo;
            const double *hi = which ? p->pop_hi : p->frac_hi;
            fprintf(f, ", \"%s\": [", k3[which]);
            for (int i = 0; i < p->nstates; i++) {
                long c = g * p->nstates + i;
                fprintf(f, "%s{\"state\": %d, \"value\": ", i ? ", " : "", i);
                json_num(f, v[c]);
                fputs(", \"ci95\": [", f);
                json_num(f, lo[c]);
                fputs(", ", f);
                json_num(f, hi[c]);
                fputs("]}", f);
            }
            fputc(']', f);
        }
        fputs("},\n", f);
    } else {
        fputs("null,\n", f);
    }

    const fh_ana_lifetime *l = &r->life;
    fprintf(f, "  \"lifetime\": {\"state\": %d, \"fitted\": %s, ", l->state, l->ok ? "true" : "false");
    const json_kv lv[] = {{"amplitude", l->amplitude}, {"t0", l->t0 * FS}, {"t0_std", l->t0_err * FS},
              {"t0_ci95_lo", l->t0_lo * FS}, {"t0_ci95_hi", l->t0_hi * FS}, {"tau", l->tau * FS},
              {"tau_std", l->tau_err * FS}, {"tau_ci95_lo", l->tau_lo * FS}, {"tau_ci95_hi", l->tau_hi * FS}};
    json_kvs(f, lv, sizeof lv / sizeof lv[0]);
    fputs(", ", f);
    fprintf(f, "\"bootstrap_fits\": %d, \"note\": ", l->nboot_ok);
    json_str(f, l->note);
    fputs("},\n", f);

    const fh_ana_yields *y = &r->yields;
    fprintf(f, "  \"yields\": {\"classified\": %s", y->classified ? "true" : "false");
    const char *sets[2] = {"all", "ended_in_S0"};
    for (int set = 0; set < 2 && y->classified; set++) {
        fprintf(f, ", \"%s\": {\"n\": %ld", sets[set], y->n[set]);
        for (int q = 0; q < FH_PROD_COUNT; q++) {
            fprintf(f, ", \"%s\": {\"count\": %ld, \"yield\": ", fh_ana_product_name(q), y->count[set][q]);
            json_num(f, y->yield[set][q]);
            fputs(", \"stderr\": ", f);
            json_num(f, y->err[set][q]);
            fputs(", \"wilson95\": [", f);
            json_num(f, y->lo[set][q]);
            fputs(", ", f);
            json_num(f, y->hi[set][q]);
            fputs("]}", f);
        }
        fputc('}', f);
    }
    fputs("},\n", f);

    const fh_ana_hops *h = &r->hops;
    fprintf(f, "  \"hops\": {\"up\": %ld, \"down\": %ld, \"frustrated\": %ld, \"excited_to_ground\": %ld, "
               "\"first_to_ground\": {\"n\": %ld, \"never\": %ld, \"mean\": ",
            h->up, h->down, h->frustrated, h->ndown_es, h->nfirst, h->nnever);
    json_num(f, h->first_mean * FS);
    fputs(", \"median\": ", f);
    json_num(f, h->first_median * FS);
    fputs(", \"std\": ", f);
    json_num(f, h->first_std * FS);
    fputs("}, ", f);
    const json_kv hv[] = {{"gap_median_eV", h->gap_median * EV}, {"gap_min_eV", h->gap_min * EV},
                          {"gap_max_eV", h->gap_max * EV}, {"torsion_median_deg", h->torsion_median},
                          {"pyramidalization_median_deg", h->pyramid_median}};
    json_kvs(f, hv, sizeof hv / sizeof hv[0]);
    fputs("},\n", f);

    const fh_ana_quality *q = &r->quality;
    fprintf(f, "  \"quality\": {\"n\": %ld, \"max_dE_mean\": ", q->n);
    json_num(f, q->drift_mean * EV);
    fputs(", \"max_dE_median\": ", f);
    json_num(f, q->drift_median * EV);
    fputs(", \"max_dE_max\": ", f);
    json_num(f, q->drift_max * EV);
    fprintf(f, ", \"spread_n\": %ld, \"max_spread_mean\": ", q->nspread);
    json_num(f, q->spread_mean * EV);
    fputs(", \"max_spread_max\": ", f);
    json_num(f, q->spread_max * EV);
    fprintf(f, ", \"fell_apart\": %ld},\n", q->napart);
    fprintf(f, "  \"settings\": {\"excited_state\": %d, \"ground_state\": %d, \"nboot\": %d, \"seed\": %llu, "
               "\"cis_max_deg\": ",
            s->excited_state, s->ground_state, s->nboot, (unsigned long long)s->seed);
    json_num(f, s->cis_max);
    fputs(", \"ring_max\": ", f);
    json_num(f, s->ring_max * ANG);
    fputs(", \"dihedral\": ", f);
    if (s->dihedral[0] >= 0)
        fprintf(f, "[%d, %d, %d, %d]", s->dihedral[0] + 1, s->dihedral[1] + 1, s->dihedral[2] + 1, s->dihedral[3] + 1);
    else
        fputs("null", f);
    fputs(", \"ring\": ", f);
    fputc('[', f);
    for (int k = 0; k < s->nring; k++)
        fprintf(f, "%s[%d, %d]", k ? ", " : "", s->ring[2 * k] + 1, s->ring[2 * k + 1] + 1);
    fputc(']', f);
    fprintf(f, ", \"stilbene_defaults\": %s", e->stilbene_defaults ? "true" : "false");
    fputs("}\n}\n", f);
    return close_out(&o, err);
}

int fh_ana_write_all(const char *resdir, const fh_ana_ensemble *e, const fh_ana_settings *s,
                     const fh_ana_results *r, fh_err *err)
{
    if (mkdir(resdir, 0777) < 0 && errno != EEXIST)
        return fh_err_set(err, FH_EFAIL, "%s: cannot create directory (%s)", resdir, strerror(errno));
    int rc = write_populations(resdir, e, r, err);
    if (!rc) rc = write_lifetime(resdir, r, err);
    if (!rc) rc = write_products(resdir, e, r, err);
    if (!rc) rc = write_hops(resdir, e, s, r, err);
    if (!rc) rc = fh_ana_write_hop_frames(resdir, e, err);
    if (!rc) rc = write_quality(resdir, e, err);
    if (!rc && s->dihedral[0] >= 0) rc = write_torsion(resdir, e, err);
    if (!rc) rc = write_summary_txt(resdir, e, s, r, err);
    if (!rc) rc = write_summary_json(resdir, e, s, r, err);
    return rc;
}
