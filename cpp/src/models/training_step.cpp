// Training twins: the initial network (the engine's draw), one forward pass over a batch, the MSE,
// and one backward pass with the gradient-descent update, every product over fixed row blocks of
// 512 rows (so the numbers do not depend on how many threads share the blocks). See training.hpp.
#include <algorithm>
#include <cmath>

#include "statmech_nn/parallel.hpp"
#include "statmech_nn/training.hpp"

namespace statmech_nn::training {

using network::BatchNorm;
// Rows per block of every product: fixed (thread-count independent), large enough that packing the
// right-hand side once per block costs little.
constexpr std::int64_t kRowBlock = 512;

namespace {

inline std::int64_t n_blocks(std::int64_t rows) { return (rows + kRowBlock - 1) / kRowBlock; }

}  // namespace

void init_params(const network::Spec& net, std::uint64_t seed, int inner_threads, Params& p) {
    const int L = static_cast<int>(net.widths.size()) - 1;
    p.W.resize(L);
    p.b.resize(L);
    for (int l = 1; l <= L; ++l) network::draw_layer(net, l, seed, inner_threads, p.W[l - 1], p.b[l - 1]);
}

void forward(const network::Spec& net, const Params& p, const Eigen::MatrixXd& X, Pass& pass, int inner_threads,
             const Poll& poll) {
    const int L = static_cast<int>(net.widths.size()) - 1;
    const int B = static_cast<int>(X.cols());
    const bool bn_all = net.batchnorm == BatchNorm::All;
    const network::Nonlinearity& phi = net.phi;
    pass.A.resize(L);
    pass.U.resize(L);
    if (bn_all) pass.norms.resize(L);
    pass.A[0] = X;
    pass.degenerate = 0;
    std::vector<std::int64_t> degenerate;
    for (int l = 1; l <= L; ++l) {
        poll();
        const network::RowMatrix& W = p.W[l - 1];
        const Eigen::VectorXd& b = p.b[l - 1];
        const std::int64_t M = net.widths[l];
        Eigen::MatrixXd& Out = l < L ? pass.U[l] : pass.F;
        Out.resize(M, B);
        const Eigen::MatrixXd& Ain = pass.A[l - 1];
        Eigen::MatrixXd* Aout = nullptr;
        if (l < L) {
            Aout = &pass.A[l];
            Aout->resize(M, B);
            if (bn_all) pass.norms[l].resize(M);
        }
        const std::int64_t nb = n_blocks(M);
        degenerate.assign(nb, 0);
        parallel_for(nb, inner_threads, [&](std::int64_t k) {
            poll();
            const Eigen::Index r0 = k * kRowBlock, nr = std::min<Eigen::Index>(kRowBlock, M - r0);
            // Out.middleRows(r0, nr) = W.middleRows(r0, nr) * Ain
            gemm(Out.data() + r0, nr, B, M, false, 1.0, W.data() + r0 * W.cols(), W.cols(), true, Ain.data(), Ain.rows(),
                 false, W.cols(), false);
            Out.middleRows(r0, nr).colwise() += b.segment(r0, nr);
            if (!Aout) return;
            if (bn_all) {
                for (Eigen::Index i = r0; i < r0 + nr; ++i) {
                    // In place: U[l] holds BN(u^l) from here on (what phi' needs).
                    const double nrm = network::batch_normalize(&Out(i, 0), &Out(i, 0), B, M, M);
                    pass.norms[l][i] = nrm;
                    if (!(nrm > 0)) ++degenerate[k];
                }
            }
            // column by column (contiguous in the column-major block)
            for (int t = 0; t < B; ++t) {
                const double* u = &Out(r0, t);
                double* a = &(*Aout)(r0, t);
                for (Eigen::Index i = 0; i < nr; ++i) a[i] = phi.value(u[i]);
            }
        });
        for (std::int64_t c : degenerate) pass.degenerate += c;
    }
    if (net.batchnorm == BatchNorm::Last) {
        const Eigen::VectorXd mean = pass.F.rowwise().mean();
        pass.F.colwise() -= mean;
    }
}

double mse(const Eigen::MatrixXd& F, const Eigen::MatrixXd& Y) {
    return 0.5 * (F - Y).squaredNorm() / static_cast<double>(F.cols());
}

void backward(const network::Spec& net, Params& p, Pass& pass, const Eigen::MatrixXd& Y, double eta,
              double* grad_norm, int inner_threads, const Poll& poll) {
    const int L = static_cast<int>(net.widths.size()) - 1;
    const int B = static_cast<int>(pass.F.cols());
    const bool bn_all = net.batchnorm == BatchNorm::All;
    const bool ntk = net.parameterization == network::Parameterization::NTK;
    const network::Nonlinearity& phi = net.phi;
    Eigen::MatrixXd& D = pass.D;
    Eigen::MatrixXd& G = pass.G;
    D = (pass.F - Y) / static_cast<double>(B);  // dLoss/df
    if (net.batchnorm == BatchNorm::Last) {
        const Eigen::VectorXd mean = D.rowwise().mean();  // f~ = P f: dLoss/du^L = P dLoss/df~
        D.colwise() -= mean;
    }
    std::vector<double> partial;
    for (int l = L; l >= 1; --l) {
        poll();
        network::RowMatrix& W = p.W[l - 1];
        Eigen::VectorXd& b = p.b[l - 1];
        const std::int64_t M = net.widths[l], Mp = net.widths[l - 1];
        const double sw = ntk ? net.sigma_w2 / static_cast<double>(Mp) : 1.0;
        const double sb = ntk ? net.sigma_b2 : 1.0;
        // The error of the layer below, with the weights before the update.
        if (l > 1) {
            G.resize(Mp, B);
            const Eigen::MatrixXd& Ub = pass.U[l - 1];
            parallel_for(n_blocks(Mp), inner_threads, [&](std::int64_t k) {
                poll();
                const Eigen::Index r0 = k * kRowBlock, nr = std::min<Eigen::Index>(kRowBlock, Mp - r0);
                // G.middleRows(r0, nr) = W.middleCols(r0, nr)^T * D
                gemm(G.data() + r0, nr, B, Mp, false, 1.0, W.data() + r0, Mp, false, D.data(), M, false, M, false);
                if (bn_all) {
                    Eigen::VectorXd v(B);
                    for (Eigen::Index i = r0; i < r0 + nr; ++i) {
                        for (int t = 0; t < B; ++t) v[t] = phi.deriv(Ub(i, t)) * G(i, t);
                        network::batch_normalize_backward(&Ub(i, 0), pass.norms[l - 1][i], v.data(), &G(i, 0), B, Mp, 1,
                                                          Mp);
                    }
                } else {
                    for (int t = 0; t < B; ++t) {  // column by column (contiguous in the column-major block)
                        const double* u = &Ub(r0, t);
                        double* g = &G(r0, t);
                        for (Eigen::Index i = 0; i < nr; ++i) g[i] *= phi.deriv(u[i]);
                    }
                }
            });
        }
        // This layer's gradient, its norm and the update.
        const Eigen::MatrixXd& Ain = pass.A[l - 1];
        const std::int64_t nb = n_blocks(M);
        partial.assign(nb, 0.0);
        parallel_for(nb, inner_threads, [&](std::int64_t k) {
            poll();
            const Eigen::Index r0 = k * kRowBlock, nr = std::min<Eigen::Index>(kRowBlock, M - r0);
            const Eigen::VectorXd gb = D.middleRows(r0, nr).rowwise().sum();
            if (grad_norm) {  // the gradient itself only when recording (the update below is one fused GEMM)
                Eigen::MatrixXd gW(nr, Mp);  // D.middleRows(r0, nr) * Ain^T
                gemm(gW.data(), nr, Mp, nr, false, 1.0, D.data() + r0, M, false, Ain.data(), Mp, true, B, false);
                partial[k] = sw * gW.squaredNorm() + sb * gb.squaredNorm();
            }
            if (eta > 0) {
                // W.middleRows(r0, nr) -= eta sw D.middleRows(r0, nr) * Ain^T
                gemm(W.data() + r0 * Mp, nr, Mp, Mp, true, -eta * sw, D.data() + r0, M, false, Ain.data(), Mp, true, B,
                     true);
                b.segment(r0, nr) -= (eta * sb) * gb;
            }
        });
        if (grad_norm) {
            double s = 0;
            for (double v : partial) s += v;
            grad_norm[l - 1] = std::sqrt(s);
        }
        if (l > 1) D.swap(G);
    }
}

}  // namespace statmech_nn::training
