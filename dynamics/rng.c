/* Counter-based random numbers (Philox4x64-10 from Random123): the number used at step n of
 * trajectory k of an ensemble with seed s is a pure function of (s, k, n), so results do not depend
 * on which MPI rank runs a trajectory, in which order, or whether it was restarted from a checkpoint. */
#include "fh_dynamics.h"

#include <Random123/philox.h>

double fh_dyn_uniform(uint64_t seed, uint64_t traj_index, uint64_t counter, int word)
{
    philox4x64_ctr_t ctr = {{counter, 0, 0, 0}};
    philox4x64_key_t key = {{seed, traj_index}};
    philox4x64_ctr_t r = philox4x64(ctr, key);
    /* top 53 bits -> a double in [0, 1) with every value exactly representable */
    return (double)(r.v[word & 3] >> 11) * 0x1.0p-53;
}
