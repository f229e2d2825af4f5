// The sampled-network engine: batch normalisation of one neuron over the batch, forward and
// backward (Yang, Pennington, Rao, Sohl-Dickstein & Schoenholz 2019): BN(h) = sqrt(B) G h / |G h|.
#include <cmath>

#include "statmech_nn/network.hpp"

namespace statmech_nn::network {

double batch_normalize(const double* h, double* x, int B, std::ptrdiff_t sh, std::ptrdiff_t sx) {
    double mean = 0;
    for (int k = 0; k < B; ++k) mean += h[k * sh];
    mean /= B;
    double norm2 = 0;
    for (int k = 0; k < B; ++k) {
        const double d = h[k * sh] - mean;
        x[k * sx] = d;
        norm2 += d * d;
    }
    const double norm = std::sqrt(norm2);
    const double f = norm > 0 ? std::sqrt(static_cast<double>(B)) / norm : 0.0;
    for (int k = 0; k < B; ++k) x[k * sx] *= f;
    return norm;
}

void batch_normalize_backward(const double* x, double norm, const double* v, double* out, int B,
                              std::ptrdiff_t sx, std::ptrdiff_t sv, std::ptrdiff_t so) {
    if (!(norm > 0)) {
        for (int k = 0; k < B; ++k) out[k * so] = 0.0;
        return;
    }
    double mean = 0;
    for (int k = 0; k < B; ++k) mean += v[k * sv];
    mean /= B;
    double proj = 0;  // (x / sqrt B) . (G v), x orthogonal to 1
    for (int k = 0; k < B; ++k) proj += x[k * sx] * (v[k * sv] - mean);
    proj /= B;
    const double f = std::sqrt(static_cast<double>(B)) / norm;
    for (int k = 0; k < B; ++k) out[k * so] = f * ((v[k * sv] - mean) - x[k * sx] * proj);
}

}  // namespace statmech_nn::network
