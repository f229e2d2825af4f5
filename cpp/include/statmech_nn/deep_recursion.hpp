// The layer recursion of deep random fully-connected networks at infinite width: the one place
// where the per-layer maps of the mean-field theory (Poole et al. 2016; Schoenholz et al. 2017),
// of the NNGP / NTK kernels (Lee et al. 2018; Jacot et al. 2018) and of the Fisher order
// parameters (Karakida, Akaho & Amari 2019) are iterated. Every Gaussian expectation comes from
// the Gaussian layer (gaussian_moments.hpp: layer_moments, pair_moments, PairSeries).
//
// Network: u^l = W^l h^{l-1} + b^l, h^l = phi(u^l) for the hidden layers l = 1..depth, a linear
// read-out u^{depth+1} = W^{depth+1} h^depth + b^{depth+1}; W^l_ij ~ N(0, sigma_w2 / M_{l-1}),
// b^l_i ~ N(0, sigma_b2). For two inputs a, b the pre-activations of layer l are jointly Gaussian
// with covariance [[q_a^l, q_ab^l], [q_ab^l, q_b^l]]:
//
//   q^{l+1}_a  = sigma_w2 E[phi(u_a)^2] + sigma_b2
//   q^{l+1}_ab = sigma_w2 E[phi(u_a) phi(u_b)] + sigma_b2                       (forward)
//   chi^l      = sigma_w2 E[phi'(u_a)^2],  chi^l_ab = sigma_w2 E[phi'(u_a) phi'(u_b)]  (backward)
//
// Divergence: a trajectory "diverges" at the first layer whose second moment is not finite or
// exceeds divergence_bound times the scale of the first layer (max(q_a^1, q_b^1)); the default
// 1e8 is the ODE families' bound relative to the input scale. Values before that layer are valid.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "statmech_nn/activation.hpp"
#include "statmech_nn/gaussian_moments.hpp"

namespace statmech_nn {
namespace deep {

constexpr double kDefaultDivergenceBound = 1e8;

enum class RunStatus { Ok = 0, Diverged = 1 };

struct LayerParams {
    Activation act;
    double sigma_w2 = 1.0;
    double sigma_b2 = 0.0;
};

// One layer of the pair map: the moments of phi at the 2x2 covariance (qa, qab, qb). Equal inputs
// (qa == qb == qab) use the one-variable rule (exactly the diagonal); qab is clipped into the
// positive semi-definite cone (round-off for nearly parallel inputs).
struct PairLayer {
    double phi2_a = 0.0, phi2_b = 0.0, phiphi = 0.0;     // E phi_a^2, E phi_b^2, E phi_a phi_b
    double dphi2_a = 0.0, dphi2_b = 0.0, dphidphi = 0.0; // E phi'_a^2, E phi'_b^2, E phi'_a phi'_b
};
PairLayer pair_layer(const Activation& g, double qa, double qab, double qb);

// Forward trajectory of an input pair through `depth` hidden layers, starting from the first
// layer's pre-activation moments (q1_a, q1_ab, q1_b). Arrays have `depth` entries (layer l at
// index l-1): q_a, q_b, q_ab, c = q_ab / sqrt(q_a q_b) (exactly 1 for identical inputs) and the
// moments of phi(u^l) (for the backward pass and the Fisher order parameters). On divergence,
// stop_layer (1-based) is the first layer past the bound: it holds the offending q (maybe inf),
// every later entry and every moment from that layer on is NaN.
struct PairTrajectory {
    int depth = 0;
    std::vector<double> q_a, q_b, q_ab, c;
    std::vector<double> phi2_a, phi2_b, phiphi, dphi2_a, dphi2_b, dphidphi;
    RunStatus status = RunStatus::Ok;
    int stop_layer = 0;  // 0: every layer is valid
};
PairTrajectory forward_pair(const LayerParams& p, int depth, double q1_a, double q1_ab, double q1_b,
                            double divergence_bound = kDefaultDivergenceBound);

// Backpropagated gradient second moments q~^l = |dL/du^l|^2 / M along a trajectory (input a):
// q~^depth = 1, q~^{l-1} = chi^{l-1} q~^l with chi^l = sigma_w2 E[phi'(u_a^l)^2] (equal widths;
// gradient independence). chi (depth entries) and q_grad (depth entries). The products are
// accumulated in log space; an overflow of q~ to inf gives status Diverged with stop_layer = the
// layer (counted from the input) where it happened.
struct BackwardChain {
    std::vector<double> chi, q_grad;
    RunStatus status = RunStatus::Ok;
    int stop_layer = 0;
};
BackwardChain backward_chain(const LayerParams& p, const PairTrajectory& fwd);

// Fisher information order parameters of Karakida, Akaho & Amari (2019) for `depth` hidden layers
// (L = depth + 1 weight layers), width ratios alphas = (alpha_0, ..., alpha_depth) and inputs with
// E|x|^2/M_0 = 1, uncorrelated (qhat^0 = 1, qhat^0_st = 0):
//   q^l = sigma_w2 qhat^{l-1} + sigma_b2, q^l_st = sigma_w2 qhat^{l-1}_st + sigma_b2 (l = 1..depth)
//   qhat^l = E phi(u)^2, qhat^l_st = E phi(u) phi(u') at [[q, q_st], [q_st, q]]
//   qtilde^L = qtilde^L_st = 1, qtilde^l = sigma_w2 qtilde^{l+1} E phi'^2, qtilde^l_st likewise
//   kappa1 = sum_{l=1}^{L} alpha_{l-1} qtilde^l qhat^{l-1} / alpha, kappa2 with the st quantities,
//   alpha = sum_{l=1}^{L-1} alpha_l alpha_{l-1}.
// Arrays: q, q_st (depth), q_hat, q_hat_st (L: l = 0..L-1), q_tilde, q_tilde_st (L: l = 1..L).
struct FisherOrder {
    std::vector<double> q, q_st, q_hat, q_hat_st, q_tilde, q_tilde_st;
    double kappa1 = 0.0, kappa2 = 0.0, alpha = 0.0;
    RunStatus status = RunStatus::Ok;
    int stop_layer = 0;
};
FisherOrder fisher_order_parameters(const LayerParams& p, int depth, const std::vector<double>& alphas,
                                    double divergence_bound = kDefaultDivergenceBound);

}  // namespace deep
}  // namespace statmech_nn
