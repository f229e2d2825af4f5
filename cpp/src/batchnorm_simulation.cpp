// Microscopic twins of the batch-norm mean field: Monte Carlo of V(Sigma) and real deep BN networks
// (forward batch covariances, exact backpropagation through BN). See batchnorm.hpp.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "statmech_nn/batchnorm.hpp"
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

// x = sqrt(B) (h - mean h) / |h - mean h| in place; returns |h - mean h| (0 when undefined: x = 0).
inline double batch_normalize(const double* h, double* x, int B, std::ptrdiff_t stride_h, std::ptrdiff_t stride_x) {
    double mean = 0;
    for (int k = 0; k < B; ++k) mean += h[k * stride_h];
    mean /= B;
    double norm2 = 0;
    for (int k = 0; k < B; ++k) {
        const double d = h[k * stride_h] - mean;
        x[k * stride_x] = d;
        norm2 += d * d;
    }
    const double norm = std::sqrt(norm2);
    const double f = norm > 0 ? std::sqrt(static_cast<double>(B)) / norm : 0.0;
    for (int k = 0; k < B; ++k) x[k * stride_x] *= f;
    return norm;
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
            rng.fill_normal(z.data(), static_cast<std::size_t>(B));
            h.noalias() = L * z;
            batch_normalize(h.data(), x.data(), B, 1, 1);
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

SimulationResult simulate(const Phi& phi, int B, int depth, int width, double sigma_w2, double sigma_b2,
                          const Eigen::MatrixXd& Sigma0, const std::vector<std::uint64_t>& seeds, int num_threads) {
    if (B < 2) throw std::invalid_argument("B: the batch size must be >= 2");
    if (depth < 1) throw std::invalid_argument("depth: must be >= 1");
    if (width < 1) throw std::invalid_argument("width: must be >= 1");
    if (!(sigma_w2 > 0) || !std::isfinite(sigma_w2)) throw std::invalid_argument("sigma_w2: must be > 0");
    if (!(sigma_b2 >= 0) || !std::isfinite(sigma_b2)) throw std::invalid_argument("sigma_b2: must be >= 0");
    if (Sigma0.rows() != B || Sigma0.cols() != B) throw std::invalid_argument("Sigma0: must be B x B");
    const int M = width;
    const std::size_t BB = static_cast<std::size_t>(B) * B;
    const std::int64_t n_seeds = static_cast<std::int64_t>(seeds.size());
    SimulationResult res;
    res.Sigma.assign(n_seeds * (depth + 1) * BB, 0.0);
    res.log_grad_norm2.assign(n_seeds * (depth + 1), 0.0);
    res.degenerate.assign(n_seeds, 0);
    const Eigen::MatrixXd L0 = sqrt_factor(Sigma0);
    const double sw = std::sqrt(sigma_w2 / M), sb = std::sqrt(sigma_b2);
    const double sqrtB = std::sqrt(static_cast<double>(B));
    using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    constexpr std::int64_t kRowBlock = 128;
    const std::int64_t n_blocks = (M + kRowBlock - 1) / kRowBlock;
    // Parallelise inside a seed only when the seeds themselves cannot fill the threads.
    const int inner_threads = n_seeds >= resolve_threads(num_threads) ? 1 : num_threads;

    parallel_for(n_seeds, num_threads, [&](std::int64_t si) {
        const std::uint64_t seed = seeds[si];
        // Streams: (l << 32) for b^l (l = 0: the inputs; l = depth + 1: the output gradient) and
        // (l << 32) + 1 + k for row block k of W^l. Work inside one seed is split into fixed row blocks
        // (so results do not depend on the thread count); it runs in parallel when the seeds do not
        // (a single seed), and serially inside a parallel seed loop (no nested OpenMP).
        auto stream = [](int l, std::int64_t k) { return (static_cast<std::uint64_t>(l) << 32) + static_cast<std::uint64_t>(k); };
        auto draw_layer = [&](int l, RowMatrix& W, Eigen::VectorXd& b) {
            parallel_for(n_blocks, inner_threads, [&](std::int64_t k) {
                const std::int64_t r0 = k * kRowBlock, nr = std::min<std::int64_t>(kRowBlock, M - r0);
                Rng rng(seed, stream(l, k + 1));
                rng.fill_normal(W.data() + r0 * M, static_cast<std::size_t>(nr * M), sw);
            });
            Rng rng(seed, stream(l, 0));
            rng.fill_normal(b.data(), static_cast<std::size_t>(M), sb);
        };
        // Neurons are rows, the batch is columns; h stored row-major per layer (M x B).
        std::vector<Eigen::MatrixXd> xs(depth);     // x^{l-1} = BN(h^{l-1}), l = 1..depth
        std::vector<Eigen::VectorXd> norms(depth);  // |G h^{l-1}_i|
        Eigen::MatrixXd h(M, B);
        {
            Rng rng(seed, stream(0, 0));
            Eigen::MatrixXd Z(B, M);
            rng.fill_normal(Z.data(), static_cast<std::size_t>(B) * M);
            h = (L0 * Z).transpose();
        }
        RowMatrix W(M, M);
        Eigen::MatrixXd F(M, B);
        Eigen::VectorXd b(M);
        double* Sig = res.Sigma.data() + si * (depth + 1) * BB;
        auto record = [&](int l) {
            Eigen::Map<Eigen::MatrixXd> S(Sig + l * BB, B, B);
            S.noalias() = h.transpose() * h / static_cast<double>(M);
        };
        record(0);
        int degenerate = 0;
        for (int l = 1; l <= depth; ++l) {
            check_interrupt();
            Eigen::MatrixXd& x = xs[l - 1];
            x.resize(M, B);
            norms[l - 1].resize(M);
            for (int i = 0; i < M; ++i) {
                const double nrm = batch_normalize(&h(i, 0), &x(i, 0), B, M, M);
                norms[l - 1][i] = nrm;
                if (!(nrm > 0)) ++degenerate;
                for (int k = 0; k < B; ++k) F(i, k) = phi.value(x(i, k));
            }
            draw_layer(l, W, b);
            parallel_for(n_blocks, inner_threads, [&](std::int64_t k) {
                const Eigen::Index r0 = k * kRowBlock, nr = std::min<Eigen::Index>(kRowBlock, M - r0);
                h.middleRows(r0, nr).noalias() = W.middleRows(r0, nr) * F;
            });
            h.colwise() += b;
            record(l);
        }
        // Backward: delta^depth random; delta^{l-1}_i = sqrt(B)/|G h_i| (G - y y^T)(phi'(x_i) . (W^T delta^l)_i).
        double* lg = res.log_grad_norm2.data() + si * (depth + 1);
        Eigen::MatrixXd delta(M, B), g(M, B);
        {
            Rng rng(seed, stream(depth + 1, 0));
            rng.fill_normal(delta.data(), static_cast<std::size_t>(M) * B);
        }
        double logn = 0;
        {
            const double n2 = delta.squaredNorm();
            logn = std::log(n2);
            delta /= std::sqrt(n2);
        }
        lg[depth] = logn;
        Eigen::VectorXd v(B);
        for (int l = depth; l >= 1; --l) {
            check_interrupt();
            draw_layer(l, W, b);
            parallel_for(n_blocks, inner_threads, [&](std::int64_t k) {
                const Eigen::Index r0 = k * kRowBlock, nr = std::min<Eigen::Index>(kRowBlock, M - r0);
                g.middleRows(r0, nr).noalias() = W.middleCols(r0, nr).transpose() * delta;
            });
            const Eigen::MatrixXd& x = xs[l - 1];
            for (int i = 0; i < M; ++i) {
                const double nrm = norms[l - 1][i];
                if (!(nrm > 0)) {
                    delta.row(i).setZero();
                    continue;
                }
                double mean = 0;
                for (int k = 0; k < B; ++k) {
                    v[k] = phi.deriv(x(i, k)) * g(i, k);
                    mean += v[k];
                }
                mean /= B;
                double proj = 0;  // y . v with y = x / sqrt(B) (y is orthogonal to 1)
                for (int k = 0; k < B; ++k) {
                    v[k] -= mean;
                    proj += x(i, k) * v[k];
                }
                proj /= B;  // (x/sqrtB) (x/sqrtB . v)
                const double f = sqrtB / nrm;
                for (int k = 0; k < B; ++k) delta(i, k) = f * (v[k] - x(i, k) * proj);
            }
            const double n2 = delta.squaredNorm();
            logn += std::log(n2);
            lg[l - 1] = logn;
            if (n2 > 0) delta /= std::sqrt(n2);
        }
        res.degenerate[si] = degenerate;
    });
    return res;
}

}  // namespace statmech_nn::batchnorm
