// The committee simulator's pass over the weights at b = 1 (committee_sim_pass.hpp): the baseline
// build of the loops, and the run-time choice of the AVX2 / AVX-512 builds.
#include "committee_sim_pass.hpp"

#include <algorithm>
#include <cstdint>

#include "statmech_nn/closed_form_rows_isa.hpp"

namespace {
#include "committee_sim_pass_impl.hpp"
}  // namespace

namespace statmech_nn::committee_detail {

void single_pass_sse2(const SinglePass& p) { single_pass_loops(p, p.work); }

void single_pass(const SinglePass& p) {
    const int level = closed_form_rows_isa();  // capped at what the processor has
    if (level == 2) single_pass_avx512(p);
    else if (level == 1) single_pass_avx2(p);
    else single_pass_sse2(p);
}

void row_dots(const double* W, std::int64_t rows, std::int64_t N, const double* x, double* out) {
    double acc[kAcc];
    for (std::int64_t r = 0; r < rows; ++r) {
        std::fill(acc, acc + kAcc, 0.0);
        for (std::int64_t n0 = 0; n0 < N; n0 += kBlock)
            dot_block(W + r * N + n0, x + n0, std::min(kBlock, N - n0), acc);
        out[r] = tree_sum(acc);
    }
}

}  // namespace statmech_nn::committee_detail
