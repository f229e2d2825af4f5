// Infinite-width NNGP and NTK kernels of deep fully-connected networks (Lee et al. 2018, Jacot et
// al. 2018), on the layer recursion of deep_recursion.hpp and the Gaussian layer's pair moments:
//
//   Sigma^1 = sw2_1 x.x'/d + sb2_1
//   Sigma^{l+1} = sw2_{l+1} E[phi phi](Lambda^l) + sb2_{l+1},  dSigma^{l+1} = sw2_{l+1} E[phi' phi'](Lambda^l)
//   ntk parameterisation:      Theta^1 = Sigma^1,  Theta^{l+1} = Sigma^{l+1} + dSigma^{l+1} Theta^l
//   standard parameterisation: Theta^1 = x.x' + 1,
//                              Theta^{l+1} = M_l E[phi phi](Lambda^l) + 1 + dSigma^{l+1} Theta^l
// Lambda^l is the 2x2 covariance [[Sigma^l(x,x), Sigma^l(x,x')], [Sigma^l(x,x'), Sigma^l(x',x')]],
// l = 1..depth (hidden layers); layer depth+1 is the linear read-out. sw2_l, sb2_l: the weight and
// bias variances of weight layer l (all equal unless given per layer; sb2_l = 0: no bias).
//
// The diagonal of every input is propagated once; the pairs are computed in tiles of 64 x 64 (for
// x2 = x1 only the tiles on and above the diagonal, mirrored), one task each: the tile's first
// layer is one small GEMM, then each layer one pass over contiguous rows of pairs, with the
// Gaussian layer's vectorisable closed forms (PairClosedFormRows) for linear, relu, leaky_relu,
// erf, erf_sigmoid and gelu, and otherwise the Mehler series for pairs of equal variance (built
// once per distinct variance and layer) or the 2-D rule. Working memory: the outputs plus about
// 3 x 64^2 doubles per thread.
#pragma once

#include <cstdint>
#include <vector>

#include "statmech_nn/activation.hpp"
#include "statmech_nn/deep_recursion.hpp"

namespace statmech_nn {

struct NtkKernelSpec {
    int depth = 1;            // hidden layers; depth + 1 weight layers
    double sigma_w2 = 2.0;
    double sigma_b2 = 0.0;
    // Optional per-layer variances, one entry per weight layer l = 1..depth+1 (the last the linear
    // read-out); empty = sigma_w2 / sigma_b2 in every layer. sigma_b2 = 0 in a layer: no bias there.
    std::vector<double> sigma_w2_layers, sigma_b2_layers;
    bool standard = false;    // standard parameterisation (needs width)
    double width = 0.0;       // hidden width for the standard parameterisation
    // Optional width ratios of the hidden layers (depth entries, M_l = width * ratio_l); empty = 1.
    std::vector<double> width_ratios;
    bool store_layers = true; // write every layer (depth+1 blocks) or only the read-out
    double divergence_bound = deep::kDefaultDivergenceBound;  // relative to each input's Sigma^1
};

struct NtkKernelInfo {
    deep::RunStatus status = deep::RunStatus::Ok;
    int stop_layer = 0;       // first layer (1..depth+1) where an input's Sigma diverged; 0 if none
};

// x1: n1 x d, x2: n2 x d (row-major). x2 == nullptr means x2 = x1 (then only the upper triangle
// is computed and each input's own entry is the diagonal recursion exactly).
// Outputs (row-major, caller-allocated): nngp and ntk, each (depth+1) x n1 x n2 when
// spec.store_layers, else n1 x n2 (the read-out). Layers from stop_layer on are NaN.
// Deterministic whatever the thread count.
NtkKernelInfo ntk_kernels(const Activation& g, const double* x1, std::int64_t n1, const double* x2, std::int64_t n2,
                          std::int64_t d, const NtkKernelSpec& spec, int num_threads, double* nngp, double* ntk);

}  // namespace statmech_nn
