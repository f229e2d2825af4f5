// Monte Carlo of the batch-norm covariance map V(Sigma) = E phi(BN h) phi(BN h)^T (see batchnorm.hpp).
// Deep BN networks themselves are sampled by the sampled-network engine (network.hpp).
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "statmech_nn/batchnorm.hpp"
#include "statmech_nn/network.hpp"
#include "statmech_nn/parallel.hpp"
#include "statmech_nn/random.hpp"

namespace statmech_nn::batchnorm {

namespace {

// Symmetric square root factor L with L L^T = Sigma (negative rounding eigenvalues clipped).
Eigen::MatrixXd sqrt_factor(const Eigen::MatrixXd& Sigma) {
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(0.5 * (Sigma + Sigma.transpose()));
    Eigen::VectorXd s = es.eigenvalues().cwiseMax(0.0).cwiseSqrt();
    return es.eigenvectors() * s.asDiagonal();
}

}  // namespace

Eigen::MatrixXd v_monte_carlo(const Phi& phi, const Eigen::MatrixXd& Sigma, std::int64_t n_samples, std::uint64_t seed,
                              int num_threads, Eigen::MatrixXd* std_error) {
    const int B = static_cast<int>(Sigma.rows());
    if (B < 2 || Sigma.cols() != B) throw std::invalid_argument("Sigma: must be a square matrix with B >= 2");
    if (n_samples < 2) throw std::invalid_argument("n_samples: must be >= 2");
    const Eigen::MatrixXd L = sqrt_factor(Sigma);
    constexpr std::int64_t chunk = 4096;
    const std::int64_t n_chunks = (n_samples + chunk - 1) / chunk;
    std::vector<Eigen::MatrixXd> sum(n_chunks), sum2(n_chunks);
    parallel_for(n_chunks, num_threads, [&](std::int64_t c) {
        Rng rng(seed, static_cast<std::uint64_t>(c));
        Eigen::VectorXd z(B), h(B), x(B), f(B);
        Eigen::MatrixXd S = Eigen::MatrixXd::Zero(B, B), S2 = Eigen::MatrixXd::Zero(B, B);
        const std::int64_t n = std::min(chunk, n_samples - c * chunk);
        for (std::int64_t s = 0; s < n; ++s) {
            if ((s & 1023) == 0) check_interrupt();
            rng.fill_normal(z.data(), static_cast<std::size_t>(B));
            h.noalias() = L * z;
            network::batch_normalize(h.data(), x.data(), B, 1, 1);
            for (int k = 0; k < B; ++k) f[k] = phi.value(x[k]);
            for (int j = 0; j < B; ++j)
                for (int i = 0; i < B; ++i) {
                    const double p = f[i] * f[j];
                    S(i, j) += p;
                    S2(i, j) += p * p;
                }
        }
        sum[c] = S;
        sum2[c] = S2;
    });
    Eigen::MatrixXd S = Eigen::MatrixXd::Zero(B, B), S2 = Eigen::MatrixXd::Zero(B, B);
    for (std::int64_t c = 0; c < n_chunks; ++c) {  // fixed order: thread-count independent
        S += sum[c];
        S2 += sum2[c];
    }
    const double n = static_cast<double>(n_samples);
    Eigen::MatrixXd mean = S / n;
    if (std_error) *std_error = ((S2 / n - mean.cwiseProduct(mean)).cwiseMax(0.0) / (n - 1.0)).cwiseSqrt();
    return mean;
}

}  // namespace statmech_nn::batchnorm
