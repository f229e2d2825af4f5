// Microscopic twin of the mean-field theory: sample real deep networks and measure q^l, c^l,
// backpropagated gradient norms and the spectrum of the input–output Jacobian.
#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "statmech_nn/meanfield.hpp"
#include "statmech_nn/parallel.hpp"
#include "statmech_nn/random.hpp"

namespace statmech_nn {
namespace meanfield {

namespace {

using RowMat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Draws layer weights W (M x M) and biases b from rng: Gaussian W_ij ~ N(0, sigma_w2 / M), or
// sigma_w times a Haar orthogonal matrix (QR of a Gaussian matrix with the signs of diag R fixed).
void draw_layer(Rng& rng, const SimulationOptions& o, RowMat& W, Eigen::VectorXd& b) {
    const int M = o.width;
    W.resize(M, M);
    if (o.weights == WeightKind::Gaussian) {
        rng.fill_normal(W.data(), static_cast<size_t>(M) * M, std::sqrt(o.sigma_w2 / M));
    } else {
        Eigen::MatrixXd G(M, M);
        rng.fill_normal(G.data(), static_cast<size_t>(M) * M, 1.0);
        Eigen::HouseholderQR<Eigen::MatrixXd> qr(G);
        Eigen::MatrixXd Q = qr.householderQ();
        const Eigen::MatrixXd& R = qr.matrixQR();
        const double sw = std::sqrt(o.sigma_w2);
        for (int j = 0; j < M; ++j) Q.col(j) *= (R(j, j) < 0.0 ? -sw : sw);
        W = Q;
    }
    b.resize(M);
    rng.fill_normal(b.data(), static_cast<size_t>(M), std::sqrt(o.sigma_b2));
}

}  // namespace

SimulationResult simulate(const SimulationOptions& o) {
    if (o.width < 2) throw std::invalid_argument("width: must be >= 2");
    if (o.depth < 1) throw std::invalid_argument("depth: must be >= 1");
    if (o.samples < 1) throw std::invalid_argument("samples: must be >= 1");
    if (!(o.sigma_w2 > 0.0) || !std::isfinite(o.sigma_w2)) throw std::invalid_argument("sigma_w2: must be > 0");
    if (!(o.sigma_b2 >= 0.0) || !std::isfinite(o.sigma_b2)) throw std::invalid_argument("sigma_b2: must be >= 0");
    if (!(o.q_in > 0.0) || !std::isfinite(o.q_in)) throw std::invalid_argument("q_in: must be > 0");
    if (!(o.c_in >= -1.0 && o.c_in <= 1.0)) throw std::invalid_argument("c_in: must be in [-1, 1]");
    const int M = o.width, L = o.depth, S = o.samples;
    SimulationResult r;
    r.samples = S;
    r.depth = L;
    r.width = M;
    const size_t SL = static_cast<size_t>(S) * L;
    r.q_a.assign(SL, 0.0);
    r.q_b.assign(SL, 0.0);
    r.c.assign(SL, 0.0);
    if (o.gradients) {
        r.q_grad.assign(SL, 0.0);
        r.weight_grad.assign(SL, 0.0);
    }
    if (o.jacobian) r.jacobian_eigenvalues.assign(static_cast<size_t>(S) * M, 0.0);
    const Activation& g = o.act;

    parallel_for(S, o.num_threads, [&](std::int64_t s) {
        Rng rng(o.seed, static_cast<std::uint64_t>(s));
        // Input pair with |x|^2 / M = q_in exactly and correlation c_in exactly.
        Eigen::VectorXd xa(M), e2(M);
        rng.fill_normal(xa.data(), M);
        rng.fill_normal(e2.data(), M);
        xa.normalize();
        e2 -= xa.dot(e2) * xa;
        e2.normalize();
        const double len = std::sqrt(o.q_in * M);
        Eigen::VectorXd xb = len * (o.c_in * xa + std::sqrt(std::max(0.0, 1.0 - o.c_in * o.c_in)) * e2);
        xa *= len;

        std::vector<Rng> layer_rng;
        layer_rng.reserve(L);
        Eigen::MatrixXd ua(M, L);  // pre-activations of input a, column l-1 = layer l
        Eigen::VectorXd ha = xa, hb = xb, u_a, u_b, b;
        Eigen::VectorXd hnorm(L + 1);  // |h^{l}|^2 / M for input a, l = 0..L
        hnorm(0) = ha.squaredNorm() / M;
        RowMat W, J;
        for (int l = 0; l < L; ++l) {
            layer_rng.push_back(rng);
            draw_layer(rng, o, W, b);
            u_a.noalias() = W * ha;
            u_a += b;
            u_b.noalias() = W * hb;
            u_b += b;
            ua.col(l) = u_a;
            const double qa = u_a.squaredNorm() / M, qb = u_b.squaredNorm() / M;
            const size_t k = static_cast<size_t>(s) * L + l;
            r.q_a[k] = qa;
            r.q_b[k] = qb;
            const double den = std::sqrt(u_a.squaredNorm() * u_b.squaredNorm());
            r.c[k] = den > 0.0 ? u_a.dot(u_b) / den : 1.0;
            for (int i = 0; i < M; ++i) {
                ha(i) = g.value(u_a(i));
                hb(i) = g.value(u_b(i));
            }
            hnorm(l + 1) = ha.squaredNorm() / M;
            if (o.jacobian) {
                if (l == 0) J = W;
                else J = (W * J).eval();
                for (int i = 0; i < M; ++i) J.row(i) *= g.deriv(u_a(i));
            }
            if (thread_id() == 0) check_interrupt();
        }
        if (o.gradients) {
            Rng erng(o.seed ^ 0x6A09E667F3BCC909ULL, static_cast<std::uint64_t>(s));
            Eigen::VectorXd delta(M), back(M);
            erng.fill_normal(delta.data(), M);  // dLoss/du^L
            for (int l = L - 1; l >= 0; --l) {
                const size_t k = static_cast<size_t>(s) * L + l;
                const double qg = delta.squaredNorm() / M;
                r.q_grad[k] = qg;
                r.weight_grad[k] = qg * hnorm(l);
                if (l == 0) break;
                Rng replay = layer_rng[l];
                draw_layer(replay, o, W, b);
                back.noalias() = W.transpose() * delta;
                for (int i = 0; i < M; ++i) delta(i) = g.deriv(ua(i, l - 1)) * back(i);
                if (thread_id() == 0) check_interrupt();
            }
        }
        if (o.jacobian) {
            Eigen::MatrixXd JJ = J * J.transpose();
            Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(JJ, Eigen::EigenvaluesOnly);
            const Eigen::VectorXd& ev = es.eigenvalues();
            for (int i = 0; i < M; ++i) r.jacobian_eigenvalues[static_cast<size_t>(s) * M + i] = ev(i);
        }
    });
    return r;
}

}  // namespace meanfield
}  // namespace statmech_nn
