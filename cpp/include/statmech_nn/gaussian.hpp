// Gaussian averages: quadrature rules, expectations over (conditioned) Gaussians, and the
// Saad–Solla averages I2, I3, I4 with closed forms where they exist.
//
//   I2(C) = <g(a) g(b)>,        (a, b)       ~ N(0, C), C 2x2
//   I3(C) = <g'(a) b g(c)>,     (a, b, c)    ~ N(0, C), C 3x3
//   I4(C) = <g'(a) g'(b) g(c) g(d)>, (a,b,c,d) ~ N(0, C), C 4x4
//   J2(C) = <g'(a) g'(b)>
// Full expectations (no factor 1/2 anywhere). I2 and J2 are the pair moments of
// gaussian_moments.hpp (closed forms for linear, erf, erf_sigmoid, gelu, relu, leaky_relu; the
// conditioned 2-D rule otherwise, ~1e-12 relative up to correlations +-1). I3 and I4: closed forms
// for linear, erf and relu (I4 through Gaussian integration by parts down to elementary terms plus
// the 4-D orthant probability, a smooth 1-D Plackett integral evaluated to ~1e-13); every other
// activation by nested 1-D quadrature over the Cholesky factor of C (exact for singular C such as
// repeated indices), split at the activation's kinks.
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <functional>
#include <vector>

#include "statmech_nn/activation.hpp"

namespace statmech_nn {

// ---- quadrature rules -------------------------------------------------------------------------
struct QuadRule {
    std::vector<double> x, w;
};
// Probabilists' Gauss–Hermite: sum_i w_i f(x_i) ~ E f(z), z ~ N(0,1); sum w_i = 1. Cached.
const QuadRule& gauss_hermite_rule(int n);
// Gauss–Legendre on [-1, 1]. Cached.
const QuadRule& gauss_legendre_rule(int n);

struct QuadratureSettings {
    int hermite_nodes = 48;    // smooth integrands, per dimension
    int legendre_nodes = 24;   // per panel (panels split at kinks and scale points)
    double z_max = 9.0;        // truncation in standard deviations (tail mass 2e-19)
    double max_panel = 3.0;    // longest Gauss–Legendre panel, in standard deviations
    double hermite_max_sd = 1.0;  // smooth integrands over wider Gaussians use panels split at scale points
};

// The one rule builder of the package: nodes and weights (sum w = 1) for E f(x), x ~ N(mean, sd^2).
// Gauss–Hermite (qs.hermite_nodes) when no breakpoint (kink of f, given in x) lies within qs.z_max
// standard deviations and either there are no scale points or sd <= qs.hermite_max_sd; otherwise
// composite Gauss–Legendre panels on [-z_max, z_max] sd split at the breakpoints and at the optional
// scale points (where a smooth f changes shape), so that each panel integrates a smooth function and
// accuracy does not degrade for Gaussians much wider than the activation's features.
void normal_rule(double mean, double sd, const std::vector<double>& breakpoints, const QuadratureSettings& qs,
                 std::vector<double>& x, std::vector<double>& w, const std::vector<double>* scale_points = nullptr);

// Composite Gauss–Legendre panels over the sorted z-edges (each split to at most qs.max_panel)
// for the weight weight_scale * phi(z), phi the standard normal density; appends x = mean + sd z
// and the weights. normal_rule builds on it; so can specialised rules (e.g. half-line rules for
// even integrands, weight_scale = 2).
void append_gauss_panels(const std::vector<double>& z_edges, double mean, double sd, double weight_scale,
                         const QuadratureSettings& qs, std::vector<double>& x, std::vector<double>& w);

// Composite Gauss–Legendre rule (`nodes` per panel) on [lo, hi] for a weight exp(logw(x)) known up
// to a constant: panels split at the breakpoints inside and no wider than max_width; weights
// normalised to sum 1 (logw = -inf allowed). graded: each panel mapped by s = xi^3/(xi^3 + (1-xi)^3),
// which smooths algebraic endpoint singularities. (Batch-norm sphere averages use it.)
void weighted_composite_rule(double lo, double hi, std::vector<double> breaks, double max_width, int nodes,
                             const std::function<double(double)>& logw, std::vector<double>& xs,
                             std::vector<double>& ws, bool graded = false);

// E f(x), x ~ N(mean, sd^2).
double normal_mean(const std::function<double(double)>& f, double mean, double sd,
                   const std::vector<double>& breakpoints = {}, const QuadratureSettings& qs = {});

// One factor of a product average: f and its kinks.
struct GaussFactor {
    std::function<double(double)> f;
    std::vector<double> kinks;
    std::vector<double> scale_points;
};
GaussFactor factor_value(const Activation& g);   // g(x)
GaussFactor factor_deriv(const Activation& g);   // g'(x)
GaussFactor factor_identity();                   // x

// E prod_k f_k(x_k), x ~ N(0, C), C symmetric PSD (d x d, d = factors.size() <= 6), by nested 1-D
// quadrature along the (pivot-free, singularity-tolerant) Cholesky factor of C.
double product_mean(const std::vector<GaussFactor>& factors, const Eigen::MatrixXd& C,
                    const QuadratureSettings& qs = {});

// E f(x1, x2), (x1, x2) ~ N(0, [[c11, c12], [c12, c22]]); kinks of f in x1 and in x2.
// E f(x1, x2) for a vector-valued f (n_out components written by f(x1, x2, values)), all on one
// set of nodes: out[k] = E f_k. mean2 is its scalar case.
void mean2_vector(const std::function<void(double, double, double*)>& f, int n_out, double c11, double c12,
                  double c22, const std::vector<double>& kinks1, const std::vector<double>& kinks2,
                  const QuadratureSettings& qs, double* out);

double mean2(const std::function<double(double, double)>& f, double c11, double c12, double c22,
             const std::vector<double>& kinks1 = {}, const std::vector<double>& kinks2 = {},
             const QuadratureSettings& qs = {});

// ---- Saad–Solla averages ----------------------------------------------------------------------
// I2 / J2 in closed form: the activation table's closed_form_2d (linear, erf, relu, leaky_relu,
// erf_sigmoid, gelu, abs, sin, cos, rbf, step); I3 / I4: closed_form_34 (linear, erf, relu, sin,
// cos, rbf).
bool has_closed_form(const Activation& g);
enum class Average { I2, J2, I3, I4 };
bool has_closed_form(const Activation& g, Average which);

double I2(const Activation& g, const Eigen::Matrix2d& C);
double J2(const Activation& g, const Eigen::Matrix2d& C);
double I3(const Activation& g, const Eigen::Matrix3d& C);
double I4(const Activation& g, const Eigen::Matrix4d& C);

// Quadrature versions (any activation), used for non-closed-form activations and in tests.
double I2_quadrature(const Activation& g, const Eigen::Matrix2d& C, const QuadratureSettings& qs = {});
double J2_quadrature(const Activation& g, const Eigen::Matrix2d& C, const QuadratureSettings& qs = {});
double I3_quadrature(const Activation& g, const Eigen::Matrix3d& C, const QuadratureSettings& qs = {});
double I4_quadrature(const Activation& g, const Eigen::Matrix4d& C, const QuadratureSettings& qs = {});

// Orthant probabilities P(x_1 > 0, ..., x_d > 0), x ~ N(0, C), d <= 4 (d = 4 by Plackett's
// reduction to a 1-D integral; singular C allowed, Theta(0) = 1/2 for a zero-variance variable).
double orthant_probability(const Eigen::MatrixXd& C);

// Vectorised over a stack of n row-major d x d matrices (C contiguous, n*d*d doubles).
void average_batch(Average which, const Activation& g, const double* C, std::int64_t n, double* out,
                   int num_threads, bool force_quadrature = false);

}  // namespace statmech_nn
