/* Shared by the analytic two-state models (Tully's models, the LVC model): the adiabatic energies,
 * gradients and nonadiabatic coupling of a real symmetric 2x2 diabatic Hamiltonian, in closed form.
 * Writing H = S*1 + D*sigma_z + V*sigma_x (S = (H11+H22)/2, D = (H11-H22)/2, V = H12), with
 * r = sqrt(D^2 + V^2) and the mixing angle theta = atan2(V, D)/2, the states are
 *   lower (0): (-sin theta, cos theta), E0 = S - r;   upper (1): (cos theta, sin theta), E1 = S + r,
 * so dE0,1 = dS -/+ (D dD + V dV)/r and d_01 = <0|grad 1> = grad theta = (D dV - V dD)/(2 r^2).
 * (theta jumps by pi across the branch cut D < 0, V = 0, which flips both states together and
 * leaves d_01 unchanged.) */
#ifndef FH_SURF_TWO_STATE_H
#define FH_SURF_TWO_STATE_H

/* s, d, v: values; ds, dd, dv: [ndof] their gradients. Fills energy[2]; grad rows 0/1 when the
 * bit is set in grad_mask (grad may be NULL when grad_mask is 0); nac[ndof] = d_01 when non-NULL. */
void fh_surf_two_state(int ndof, double s, double d, double v, const double *ds,
                       const double *dd, const double *dv, double *energy, unsigned grad_mask,
                       double *grad, double *nac);

#endif
