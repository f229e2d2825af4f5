// Mean-field theory of deep random fully-connected networks at initialisation (Poole et al. 2016;
// Schoenholz et al. 2017; Pennington, Schoenholz & Ganguli 2017/2018).
//
//   u^l = W^l h^{l-1} + b^l,  h^l = phi(u^l),  W_ij ~ N(0, sigma_w2 / M),  b_i ~ N(0, sigma_b2).
//
// Length map      q^{l} = sigma_w2 E[phi(sqrt(q^{l-1}) z)^2] + sigma_b2           (Poole et al. 2016)
// Covariance map  q12^{l} = sigma_w2 E[phi(u1) phi(u2)] + sigma_b2, (u1,u2) ~ N(0, [[q11,q12],[q12,q22]])
// chi1 = sigma_w2 E[phi'(sqrt(q*) z)^2],  chi_c = sigma_w2 E[phi'(u1) phi'(u2)] at (q*, c*)
// xi_q = -1 / ln(dq-map/dq at q*),  xi_c = -1 / ln chi_c(c*),  xi_grad^{-1} = -ln chi1
//                                                                     (Schoenholz et al. 2017)
//
// Gaussian averages: closed forms for linear, erf and relu (gaussian.hpp's I2 / J2); nested 1-D
// rules otherwise. For piecewise-linear activations the rules are composite Gauss–Legendre panels
// split at the kinks; for smooth ones a 64-node Gauss–Hermite rule when the Gaussian is narrow
// compared with the activation's own scale, otherwise composite Gauss–Legendre panels split at the
// activation's "feature points" (0, ±1, ±2, ±4, ±8, ±16 in units of its scale), which keeps tanh
// accurate to ~1e-12 at any variance (plain Gauss–Hermite is not: 1e-3 relative at q = 5).
#pragma once

#include <complex>
#include <cstdint>
#include <string>
#include <vector>

#include "statmech_nn/activation.hpp"
#include "statmech_nn/gaussian_moments.hpp"
#include "statmech_nn/status.hpp"

namespace statmech_nn {
namespace meanfield {

// Single- and two-layer Gaussian moments come from the Gaussian layer (gaussian_moments.hpp).
using statmech_nn::LayerMoments;
using statmech_nn::PairMoments;
using statmech_nn::layer_moments;
using statmech_nn::pair_moments;
using statmech_nn::activation_rule;

// ---- maps and fixed points ------------------------------------------------------------------------
struct Params {
    Activation act;
    double sigma_w2 = 1.0;
    double sigma_b2 = 0.0;
};

double q_map(const Params& p, double q);                  // one layer of the length map
double q_map_slope(const Params& p, double q);            // its derivative in q
// One layer of the covariance map of two inputs: (q11, q12, q22) -> next.
void cov_map(const Params& p, double q11, double q12, double q22, double& n11, double& n12, double& n22);
double chi1(const Params& p, double q);                   // sigma_w2 E[phi'(sqrt q z)^2]


struct QStar {
    double q = 0.0;       // the fixed point the length map reaches from q_init (inf if it diverges)
    double q_map_derivative = 0.0;  // dq-map/dq at q* (< 1 stable, == 1 marginal: algebraic convergence)
    Status status = Status::Ok;
    int evaluations = 0;
    double chi1 = -1.0;   // sigma_w2 E[phi'^2] at q* when the last evaluation was there (else < 0)
};
// The fixed point reached by iterating the length map from q_init > 0, found by a bracketed,
// safeguarded Newton search (so it returns even at criticality where the iteration itself
// converges only algebraically). `guess` (optional, > 0) warm-starts the search.
QStar q_star(const Params& p, double q_init = 1.0, double guess = -1.0);

struct CStar {
    double c = 1.0;       // stable fixed point of the correlation map at q* (1 in the ordered phase)
    double chi_c = 0.0;   // sigma_w2 E[phi'(u1) phi'(u2)] at c*
    Status status = Status::Ok;
    int evaluations = 0;
};
// Correlation map c -> (sigma_w2 E[phi(u1)phi(u2)] + sigma_b2) / q_map(q) at equal lengths q.
double c_map(const Params& p, double q, double c);
// q_next (> 0) and chi1_q (>= 0), when known, are q-map(q) and chi1(q) (saves their quadratures).
CStar c_star(const Params& p, double q, double guess = -2.0, double q_next = -1.0, double chi1_q = -1.0);

// Limit of chi1 as q -> inf (for activations whose q* diverges: linear, relu, ...).
double chi1_limit(const Params& p);

// ---- batched evaluations (one call per grid of points, parallel, GIL-free in the bindings) ----------
void layer_moments_batch(const Activation& g, const double* q, std::int64_t n, int num_threads, double* phi2,
                         double* dphi2, double* slope);
void pair_moments_batch(const Activation& g, const double* q11, const double* q12, const double* q22, std::int64_t n,
                        int num_threads, double* phiphi, double* dphidphi);
// chi1 = sigma_w2 E[phi'(sqrt(q) z)^2] at each q (the q -> inf limit where q is inf).
void chi1_batch(const Activation& g, const double* sigma_w2, const double* q, std::int64_t n, int num_threads,
                double* chi1);
void q_star_batch(const Activation& g, const double* sigma_w2, const double* sigma_b2, std::int64_t n, double q_init,
                  int num_threads, double* q, double* q_map_derivative, int* status);
void c_star_batch(const Activation& g, const double* sigma_w2, const double* sigma_b2, const double* q, std::int64_t n,
                  int num_threads, double* c, double* chi_c, int* status);
// Iterates [q, map(q), ..., map^depth(q)] of the length map for n points: out is (depth+1) x n. A
// point whose iterate overflows keeps inf from there on (use deep::forward_pair for a status).
void q_map_iterates(const Activation& g, const double* sigma_w2, const double* sigma_b2, const double* q0,
                    std::int64_t n, int depth, int num_threads, double* out);
// Iterates of the correlation map at the fixed length q for n starting correlations: (depth+1) x n.
void c_map_iterates(const Params& p, double q, const double* c0, std::int64_t n, int depth, int num_threads,
                    double* out);

// ---- phase diagram ----------------------------------------------------------------------------------
struct PhaseDiagram {
    int n_w = 0, n_b = 0;               // arrays are n_w x n_b, row-major (sigma_w2 major)
    std::vector<double> q_star, c_star, chi1, chi_c, xi_q, xi_c;
    std::vector<int> status;            // Status code of q*
    std::vector<double> critical_sigma_w2, critical_q_star;  // per sigma_b2 (nan: no crossing found)
    std::vector<int> critical_found;    // 1 if the crossing chi1 = 1 was located
};
PhaseDiagram phase_diagram(const Activation& g, const std::vector<double>& sigma_w2, const std::vector<double>& sigma_b2,
                           double q_init, bool with_correlation, int num_threads);

// sigma_w2 at which chi1(q*(sigma_w2, sigma_b2)) = 1, searched from a bracket [lo, hi] (Brent).
// Returns false if no sign change was found (after expanding the bracket up to [1e-6, 1e6]).
bool critical_point(const Activation& g, double sigma_b2, double lo, double hi, double q_init, double& sigma_w2,
                    double& q_crit);

// ---- Jacobian spectrum (dynamical isometry) ------------------------------------------------------------
enum class WeightKind { Gaussian = 0, Orthogonal = 1 };
WeightKind weight_kind_from_name(const std::string& name);

// Law of D^2 = phi'(x)^2, x ~ N(0, q): atoms (value, probability), exact for linear / relu /
// leaky_relu / hardtanh, quadrature nodes otherwise (for tanh, erf, sigmoid and erf_sigmoid, whose
// phi'^2 is even, the nodes at x and -x of the symmetric rule are merged into one atom).
void derivative_law(const Activation& g, double q, std::vector<double>& value, std::vector<double>& prob);

struct SpectrumResult {
    std::vector<double> x, density;
    double mean = 0.0, variance = 0.0, atom_at_zero = 0.0, edge = 0.0;
    double log_mean = 0.0, log_variance = 0.0;  // natural logs (finite where mean / variance overflow)
    bool overflow = false;  // mean, variance or edge not representable: no density (nan)
    int failed = 0;      // points where the root solve did not converge (density set to nan)
};
// Spectral density of J J^T, J = prod_l D W^l (depth layers, D^2 with law `value/prob`), by free
// multiplicative convolution of S-transforms. x: evaluation points (if empty, n_points on (0, edge]).
SpectrumResult jacobian_spectrum(const std::vector<double>& value, const std::vector<double>& prob, double sigma_w2,
                                 int depth, WeightKind weights, const std::vector<double>& x, int n_points,
                                 int num_threads);

// The microscopic twin (sampled networks) is the sampled-network engine, network.hpp.

}  // namespace meanfield
}  // namespace statmech_nn
