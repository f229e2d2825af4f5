// Batch-norm mean field (Yang, Pennington, Rao, Sohl-Dickstein & Schoenholz, "A mean field theory of batch
// normalization", ICLR 2019).
//
// Model: a batch of B inputs; layer l has pre-activations h^l_i in R^B for neurons i = 1..M and
//   h^l = W^l phi(BN(h^{l-1})) + b^l 1^T,   W_ij ~ N(0, sigma_w^2 / M),  b_i ~ N(0, sigma_b^2),
//   BN(h) = sqrt(B) G h / |G h|,  G = I - 1 1^T / B   (each neuron normalised over the batch;
//   no learned gain/shift, no epsilon).
// Mean field (M -> infinity): Sigma^l = sigma_w^2 V(Sigma^{l-1}) + sigma_b^2 1 1^T, with
//   V(Sigma) = E[phi(BN(h)) phi(BN(h))^T], h ~ N(0, Sigma).
//
// BSB1 fixed point. If G Sigma G is proportional to G, BN(h) = sqrt(B) u with u uniform on the unit
// sphere of the (B-1)-dimensional subspace orthogonal to 1, so V is BSB1 and the fixed point is
// explicit: q* = sigma_w^2 E phi(x1)^2 + sigma_b^2, q* c* = sigma_w^2 E phi(x1) phi(x2) + sigma_b^2,
// x = sqrt(B) u. The marginals: x1 = sqrt(B-1) cos(theta), theta with density ~ sin^{B-3}(theta) on
// [0, pi]; given theta, x2 = -cos(theta)/sqrt(B-1) + sqrt(B(B-2)/(B-1)) sin(theta) sin(gamma),
// gamma with density ~ cos^{B-4}(gamma) on [-pi/2, pi/2] (B = 3: sin(gamma) = +-1; B = 2: x = +-(1,-1)).
// Both weights are smooth, so composite Gauss–Legendre (panels split at the activation's kinks and
// sized ~1/sqrt(B) around the peaks of the weights) converges exponentially for smooth phi.
//
// Degree-alpha positively homogeneous phi(x) = a rho_a(x) - b rho_a(-x), rho_a(x) = max(x,0)^alpha
// (relu: a=1,b=0; linear: a=b=1; leaky_relu: a=1,b=slope; alpha_relu: a=1,b=0): closed forms
//   E phi(x_i) phi(x_j) = c_B(alpha) [ (a^2+b^2) k_alpha(c_ij) - 2ab k_alpha(-c_ij) ],
//   c_B(alpha) = (B-1)^alpha 2^-alpha Gamma((B-1)/2) / Gamma((B-1)/2 + alpha),
// with c_ii = 1, c_ij = -1/(B-1), k_alpha(c) = E rho_alpha(u) rho_alpha(v) for unit Gaussians of
// correlation c (the arc-cosine kernel: k_0 = (pi - theta)/(2pi), k_1 = (sin theta + (pi -
// theta) cos theta)/(2pi), theta = arccos c; a smooth 1-D integral otherwise). For a general Sigma
// the Laplace transform |y|^{-2alpha} = Gamma(alpha)^-1 int_0^inf s^{alpha-1} e^{-s|y|^2} ds turns
// V(Sigma) into a 1-D integral over s of Gaussian arc-cosine kernels (trapezoid rule in log s,
// exponentially convergent, ~1e-13).
//
// Gradients. delta^{l-1}_i = J_i^T (phi'(x_i) . (W^{l T} delta^l)_i), J = sqrt(B)/|Gh| (G - y y^T),
// y = Gh/|Gh|. At the BSB1 fixed point, in mean field, the gradient second moment grows by the
// factor (per layer, squared norm)
//   lambda_G = B mu / ((B-3) (E phi(x1)^2 - E phi(x1)phi(x2))),   mu = E tr[P D G D P]/(B-1),
// P = G - y y^T, D = diag phi'(x): sigma_w^2 and sigma_b^2 cancel, E|z_G|^-2 = 1/(B-3) makes it
// infinite for B = 3 (and the BN Jacobian vanishes identically for B = 2), and lambda_G ->
// E[phi'(z)^2] / Var phi(z) as B -> infinity. Linear phi gives (B-2)/(B-3).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "statmech_nn/activation.hpp"
#include "statmech_nn/gaussian_moments.hpp"

namespace statmech_nn::batchnorm {

// An activation as used here: a shared Activation, or alpha-ReLU max(x, 0)^alpha.
struct Phi {
    Activation act;
    bool alpha_relu = false;
    double alpha = 1.0;

    static Phi from_name(const std::string& name, double slope = 0.01, double alpha = 1.0);
    std::string name() const;
    double value(double x) const;
    double deriv(double x) const;
    std::vector<double> kinks() const;
    // Degree-alpha positive homogeneity phi(x) = a rho(x) - b rho(-x); false if not homogeneous.
    bool homogeneous(double& a, double& b, double& degree) const;
};

// k_alpha(c) = E max(u,0)^alpha max(v,0)^alpha, unit variances, correlation c (alpha >= 0): the
// Gaussian layer's arc-cosine kernel (gaussian_moments.hpp).
using statmech_nn::arccos_kernel;
// c_B(alpha) above (B >= 2, alpha > -(B-1)/2).
double sphere_moment_factor(int B, double alpha);

// Averages over x = BN(h) for BSB1 input (x uniform on the sphere of radius sqrt(B) in 1-perp).
struct SphereMoments {
    double phi2 = 0;     // E phi(x1)^2
    double phi12 = 0;    // E phi(x1) phi(x2)
    double dphi2 = 0;    // E phi'(x1)^2
    double dphi12 = 0;   // E phi'(x1) phi'(x2)
    double dphix2 = 0;   // E phi'(x1)^2 x1^2
    double dphix12 = 0;  // E phi'(x1) x1 phi'(x2) x2
    double error = 0;    // quadrature error estimate (|n nodes - 2n nodes|, max over fields); 0 for closed forms
    std::string method;  // "closed_form" | "quadrature"
};
// method: "auto" (closed form when homogeneous), "closed_form", "quadrature"; nodes: Gauss–Legendre
// nodes per panel.
SphereMoments sphere_moments(const Phi& phi, int B, const std::string& method = "auto", int nodes = 24);

struct FixedPoint {
    double q_star = 0, c_star = 0;
    SphereMoments moments;
    std::string status;  // "ok" (quadrature error < 1e-9 relative) | "inaccurate" | "diverged" (the moments
                         // overflow float64, e.g. alpha_relu with a large alpha)
};
FixedPoint fixed_point(const Phi& phi, int B, double sigma_w2, double sigma_b2, const std::string& method = "auto",
                       int nodes = 24);

// Per-layer growth factor of the squared gradient norm at the BSB1 fixed point (B >= 4). B <= 0
// means B = infinity: E[phi'(z)^2] / Var phi(z), z ~ N(0, 1).
double gradient_explosion_rate(const Phi& phi, int B, const std::string& method = "auto", int nodes = 24);
double gradient_explosion_rate_limit(const Phi& phi);

// One step of the covariance map. Homogeneous phi: Laplace-transform quadrature (deterministic);
// otherwise, when G Sigma G is proportional to G, the sphere quadrature; otherwise Monte Carlo with
// n_samples draws (seed; per-chunk streams, thread-count independent). mc_error (if not null)
// receives the standard errors (B x B) of the Monte Carlo estimate (zeros when deterministic).
Eigen::MatrixXd covariance_map(const Phi& phi, const Eigen::MatrixXd& Sigma, double sigma_w2, double sigma_b2,
                               std::int64_t n_samples = 200000, std::uint64_t seed = 0, int num_threads = 0,
                               Eigen::MatrixXd* mc_error = nullptr, std::string* method = nullptr);

// Monte Carlo estimate of V(Sigma) = E phi(BN h) phi(BN h)^T (and of the Jacobian moment used by
// lambda_G, for tests): n_samples draws.
Eigen::MatrixXd v_monte_carlo(const Phi& phi, const Eigen::MatrixXd& Sigma, std::int64_t n_samples,
                              std::uint64_t seed, int num_threads, Eigen::MatrixXd* std_error = nullptr);

// Deep BN networks are sampled by the sampled-network engine (network.hpp, batchnorm "all" with a
// pre-activation input).

}  // namespace statmech_nn::batchnorm
