// The sums of Saad–Solla averages behind the committee ODE's right-hand side, evaluated over the
// whole field covariance at once (the averages themselves are the Gaussian layer's, gaussian.hpp):
//
//   first order   S_ib = sum_p A_ip I3(z_i, z_b, z_p)                      (i < K, b, p < L)
//   second order  P_ij = sum_{p,q} A_ip A_jq I4(z_i, z_j, z_p, z_q)        (i, j < K)
//
// for fields z ~ N(0, C), C (L x L), and the coefficients A (K x L) of delta_i = phi'(z_i)
// sum_p A_ip phi(z_p).
//
// Closed forms are organised so that only what depends on all indices is evaluated per term:
//  * I3 of linear, erf and relu is alpha_ip C_bp + beta_ip C_ib, so that S is one matrix product
//    (A o alpha) C plus a diagonal scaling of C's first K rows;
//  * erf's I4 = 4 / (pi^2 sqrt(lam4)) asin(lam0 / sqrt(lam1 lam2)): lam4 per student pair,
//    lam1, lam2 per (pair, field), and per quadruple only lam0 (linear in C_pq, C_iq, C_jq once the
//    pair's and the field's factors are known) and one asin; I4 is symmetric in (p, q), so only
//    p <= q is evaluated; the asin of all of a pair's terms in one array pass (std::asin, or
//    optionally four at a time with AVX2 and FMA, see set_simd_asin);
//  * linear: I4 = C_pq.
// Other activations (relu's 4-D orthant probability, the quadrature activations) evaluate I4 term
// by term through the Gaussian layer. The results equal the term-by-term evaluation to rounding.
#pragma once

#include <Eigen/Dense>

#include "statmech_nn/activation.hpp"

namespace statmech_nn::committee {

// S (K x L) for the coefficients A (K x L); K = A.rows().
void first_order_sums(const Activation& act, const Eigen::MatrixXd& C, const Eigen::MatrixXd& A, Eigen::MatrixXd& S);

// P_ij for one pair (i, j). Thread-safe (scratch space is per thread).
double second_order_sum(const Activation& act, const Eigen::MatrixXd& C, const Eigen::MatrixXd& A, int i, int j);

// Switches the AVX2+FMA array asin of the erf sums on or off (process-wide; off by default: as
// accurate as std::asin, ~2x faster right-hand sides, but trajectories near fixed points differ
// at the integration-error level). Returns whether it is now in use (false where the processor
// or the build lacks it).
bool set_simd_asin(bool on);

// Relative cost of one I4 term of second_order_sum (erf = 1): how much work a right-hand side is,
// for deciding whether threads pay off.
double second_order_term_cost(const Activation& act);

}  // namespace statmech_nn::committee
