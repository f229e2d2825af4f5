// The sampled-network engine: random weights, biases and inputs from the documented streams
// (network.hpp), drawn over fixed row blocks so that any thread count gives the same numbers.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "statmech_nn/network.hpp"
#include "statmech_nn/parallel.hpp"
#include "statmech_nn/random.hpp"

namespace statmech_nn::network {

void draw_layer(const Spec& spec, int l, std::uint64_t seed, int inner_threads, RowMatrix& W, Eigen::VectorXd& b) {
    const std::int64_t rows = spec.widths[l], cols = spec.widths[l - 1];
    W.resize(rows, cols);
    const std::int64_t n_blocks = (rows + kRowBlock - 1) / kRowBlock;
    const bool orthogonal = spec.weights == Weights::Orthogonal;
    const double scale = orthogonal ? 1.0 : std::sqrt(spec.sigma_w2 / static_cast<double>(cols));
    parallel_for(n_blocks, inner_threads, [&](std::int64_t k) {
        check_interrupt();
        const std::int64_t r0 = k * kRowBlock, nr = std::min<std::int64_t>(kRowBlock, rows - r0);
        Rng rng(seed, stream(l, 1 + k));
        rng.fill_normal(W.data() + r0 * cols, static_cast<std::size_t>(nr * cols), scale);
    });
    if (orthogonal) {
        // Haar (semi-)orthogonal: Q of the QR decomposition of the Gaussian matrix, columns multiplied
        // by sign(R_jj) (Mezzadri 2007). Square: W = sqrt(sigma_w2) Q. rows > cols: the thin Q of W
        // (orthonormal columns), rows < cols: the transpose of the thin Q of W^T (orthonormal rows);
        // scaled so that the mean square entry is sigma_w2 / cols as for Gaussian weights:
        // W^T W = sigma_w2 (rows / cols) I_cols (rows > cols), W W^T = sigma_w2 I_rows (rows <= cols).
        const bool tall = rows >= cols;
        const std::int64_t m = tall ? rows : cols, k = tall ? cols : rows;  // QR of an m x k matrix, m >= k
        Eigen::MatrixXd Gm(m, k);
        if (tall)
            Gm = W;
        else
            Gm = W.transpose();
        Eigen::HouseholderQR<Eigen::MatrixXd> qr(Gm);
        Eigen::MatrixXd Q;
        if (m == k)
            Q = qr.householderQ();
        else
            Q = qr.householderQ() * Eigen::MatrixXd::Identity(m, k);
        const Eigen::MatrixXd& R = qr.matrixQR();
        const double sw = std::sqrt(spec.sigma_w2 * std::max(1.0, static_cast<double>(rows) / static_cast<double>(cols)));
        for (std::int64_t j = 0; j < k; ++j) Q.col(j) *= (R(j, j) < 0.0 ? -sw : sw);
        if (tall)
            W = Q;
        else
            W = Q.transpose();
    }
    b.resize(rows);
    Rng rng(seed, stream(l, 0));
    rng.fill_normal(b.data(), static_cast<std::size_t>(rows), std::sqrt(spec.sigma_b2));
}

Eigen::MatrixXd draw_input(const Spec& spec, std::uint64_t seed) {
    const int M0 = spec.widths[0], B = spec.batch;
    const InputSpec& in = spec.input;
    Rng rng(seed, stream(0, 0));
    switch (in.kind) {
        case InputKind::Given: return in.x;
        case InputKind::Gaussian: {
            Eigen::MatrixXd Z(B, M0);  // column i: neuron i's batch vector z_i ~ N(0, I_B)
            rng.fill_normal(Z.data(), static_cast<std::size_t>(B) * M0);
            if (in.cov_factor.size() == 0) return Z.transpose();
            return (in.cov_factor * Z).transpose();
        }
        case InputKind::Pair: {
            // |x_a|^2 / M_0 = q_in and cos(x_a, x_b) = c_in exactly.
            Eigen::VectorXd xa(M0), e2(M0);
            rng.fill_normal(xa.data(), static_cast<std::size_t>(M0));
            rng.fill_normal(e2.data(), static_cast<std::size_t>(M0));
            xa.normalize();
            e2 -= xa.dot(e2) * xa;
            e2.normalize();
            const double len = std::sqrt(in.q_in * M0);
            Eigen::MatrixXd X(M0, 2);
            X.col(0) = len * xa;
            X.col(1) = len * (in.c_in * xa + std::sqrt(std::max(0.0, 1.0 - in.c_in * in.c_in)) * e2);
            return X;
        }
    }
    throw std::logic_error("draw_input: unknown input kind");
}

}  // namespace statmech_nn::network
