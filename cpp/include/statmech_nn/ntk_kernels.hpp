// Infinite-width NNGP and NTK kernels of deep fully-connected networks (Jacot et al. 2018,
// Lee et al. 2019), layer by layer through the Gaussian averages I2 = <phi phi>, J2 = <phi' phi'>
// of gaussian.hpp (closed forms for linear/erf/relu, quadrature for every other activation).
//
//   Sigma^1 = sw2 x.x'/d + sb2
//   Sigma^l = sw2 I2(Lambda^{l-1}) + sb2,  dSigma^l = sw2 J2(Lambda^{l-1})
//   ntk parameterisation:      Theta^1 = Sigma^1,  Theta^l = Sigma^l + dSigma^l Theta^{l-1}
//   standard parameterisation: Theta^1 = x.x' + 1, Theta^l = width I2(Lambda^{l-1}) + 1 + dSigma^l Theta^{l-1}
// Lambda^{l-1} is the 2x2 covariance [[Sigma(x,x), Sigma(x,x')], [Sigma(x,x'), Sigma(x',x')]].
#pragma once

#include <cstdint>

#include "statmech_nn/activation.hpp"

namespace statmech_nn {

struct NtkKernelSpec {
    int depth = 1;            // hidden layers; depth + 1 weight layers
    double sigma_w2 = 2.0;
    double sigma_b2 = 0.0;
    bool standard = false;    // standard parameterisation (needs width)
    double width = 0.0;       // hidden width for the standard parameterisation
};

// x1: n1 x d, x2: n2 x d (row-major). x2 == nullptr means x2 = x1 (then only the upper triangle
// is averaged and each input's own entry uses the diagonal recursion exactly).
// Outputs (row-major, caller-allocated): nngp_layers and ntk_layers, each (depth+1) x n1 x n2.
// Deterministic whatever the thread count.
void ntk_kernels(const Activation& g, const double* x1, std::int64_t n1, const double* x2, std::int64_t n2,
                 std::int64_t d, const NtkKernelSpec& spec, int num_threads, double* nngp_layers,
                 double* ntk_layers);

}  // namespace statmech_nn
