// Internal to the committee simulator: the one pass over the weights of a step with one sample
// (b = 1). Each row of J is updated, J_i <- s_i J_i + a_i x, and in the same sweep its new squared
// norm and its field on the next step's input x' are summed, together with the teacher's fields
// B_n . x'. Element k of a row is summed into accumulator k mod 16, and the 16 partial sums are
// added in one fixed tree, with separate multiplies and adds: the SSE2 (baseline), AVX2 and AVX-512
// builds of the loops (committee_sim_pass_avx2.cpp, committee_sim_pass_avx512.cpp, chosen at run
// time with the level of closed_form_rows_isa.hpp) give bitwise the same numbers.
#pragma once

#include <cstdint>

namespace statmech_nn::committee_detail {

struct SinglePass {
    double* J;                 // K x N, row-major (updated)
    std::int64_t K;
    const double* B;           // M x N, row-major (the teacher; read only)
    std::int64_t M;
    std::int64_t N;
    const double* x;           // this step's input
    const double* x_next;      // the next step's input, or nullptr after the last step
    const double* scale;       // s_i (K)
    const double* add;         // a_i (K)
    double* q;                 // out: |J_i|^2 after the update (K)
    double* lam;               // out: J_i . x_next (K; untouched without x_next)
    double* nu;                // out: B_n . x_next (M; untouched without x_next)
    double* work;              // single_pass_work(K, M) doubles
};

constexpr std::int64_t single_pass_work(std::int64_t K, std::int64_t M) { return (2 * K + M) * 16; }

void single_pass(const SinglePass& p);
// out[r] = W_r . x for the rows of W (rows x N, row-major), summed like single_pass's fields.
void row_dots(const double* W, std::int64_t rows, std::int64_t N, const double* x, double* out);

void single_pass_sse2(const SinglePass& p);
void single_pass_avx2(const SinglePass& p);
void single_pass_avx512(const SinglePass& p);

}  // namespace statmech_nn::committee_detail
