// The sampled-network engine: one seed = one network and one input batch; forward pass with
// GEMMs over fixed row blocks, backward pass of an output error or of every read-out, per-layer
// statistics, the exact parameter-Jacobian Gram and the input–output Jacobian. See network.hpp.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>

#include "statmech_nn/network.hpp"
#include "statmech_nn/parallel.hpp"
#include "statmech_nn/random.hpp"

namespace statmech_nn::network {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Products with at most this many columns run as matrix-vector products (no GEMM packing of W).
constexpr int kGemvColumns = 4;

// S = X^T X through a symmetric rank update (half the flops of the full product).
template <class Out>
void gram_into(const Eigen::MatrixXd& X, Out& S) {
    S.setZero();
    S.template selfadjointView<Eigen::Lower>().rankUpdate(X.transpose());
    S.template triangularView<Eigen::StrictlyUpper>() = S.transpose();
}

}  // namespace

Result run(const Spec& spec, const std::vector<std::uint64_t>& seeds) {
    validate(spec, seeds.size());
    check_memory(spec, seeds.size());
    const int L = static_cast<int>(spec.widths.size()) - 1;
    const int B = spec.batch, R = readouts(spec), RB = R * B, ML = spec.widths[L];
    const std::int64_t n_seeds = static_cast<std::int64_t>(seeds.size());
    const bool bn_all = spec.batchnorm == BatchNorm::All;
    const bool backward = spec.backward != Backward::None;
    const bool keep = keep_weights(spec);
    const Nonlinearity& phi = spec.phi;
    const std::size_t BB = static_cast<std::size_t>(B) * B, RBRB = static_cast<std::size_t>(RB) * RB;

    Result res;
    res.n_seeds = static_cast<int>(n_seeds);
    res.L = L;
    res.B = B;
    res.R = R;
    res.out_width = ML;
    res.pre_cov.assign(n_seeds * (L + 1) * BB, kNaN);
    res.post_cov.assign(n_seeds * L * BB, kNaN);
    if (backward) {
        res.grad_log_norm2.assign(n_seeds * (L + 1), kNaN);
        res.grad_cov.assign(n_seeds * (L + 1) * RBRB, kNaN);
    }
    if (spec.gram) res.gram.assign(n_seeds * RBRB, kNaN);
    if (spec.outputs) res.outputs.assign(n_seeds * B * static_cast<std::size_t>(ML), kNaN);
    if (spec.jacobian) res.jacobian_eigenvalues.assign(n_seeds * static_cast<std::size_t>(ML), kNaN);
    res.status.assign(n_seeds, static_cast<int>(Status::Ok));
    res.stop_layer.assign(n_seeds, L);
    res.degenerate.assign(n_seeds, 0);

    // Parallel over seeds; a seed alone (fewer seeds than threads) is split over row blocks.
    const int inner_threads = n_seeds >= resolve_threads(spec.num_threads) ? 1 : spec.num_threads;

    // Every thread polls: the master asks Python (check_interrupt), and once one seed has stopped
    // (Ctrl-C or an error) the other threads stop at their next poll instead of finishing theirs.
    PollingLoop loop;
    auto poll = [&loop]() { loop.poll(); };

    auto run_seed = [&](std::int64_t si) {
        const std::uint64_t seed = seeds[si];
        double* pre = res.pre_cov.data() + si * (L + 1) * BB;
        double* post = res.post_cov.data() + si * L * BB;
        auto gram_of = [&](const Eigen::MatrixXd& X, double* out) {
            Eigen::Map<Eigen::MatrixXd> S(out, B, B);
            gram_into(X, S);
            S /= static_cast<double>(X.rows());
        };
        // Activation of layer l's pre-activations U (rows r0..r0+nr) into A; batch norm per row.
        std::vector<Eigen::MatrixXd> U(L + 1), XB(bn_all ? L : 0);
        std::vector<Eigen::VectorXd> norms(bn_all ? L : 0);
        std::vector<std::int64_t> degenerate_rows;
        auto activate = [&](int l, Eigen::MatrixXd& A) {
            const Eigen::MatrixXd& Ul = U[l];
            const std::int64_t M = Ul.rows();
            A.resize(M, B);
            if (bn_all) {
                XB[l].resize(M, B);
                norms[l].resize(M);
            }
            const std::int64_t n_blocks = (M + kRowBlock - 1) / kRowBlock;
            degenerate_rows.assign(n_blocks, 0);
            parallel_for(n_blocks, inner_threads, [&](std::int64_t k) {
                poll();
                const std::int64_t r0 = k * kRowBlock, r1 = std::min<std::int64_t>(M, r0 + kRowBlock);
                for (std::int64_t i = r0; i < r1; ++i) {
                    if (bn_all) {
                        const double nrm = batch_normalize(&Ul(i, 0), &XB[l](i, 0), B, M, M);
                        norms[l][i] = nrm;
                        if (!(nrm > 0)) ++degenerate_rows[k];
                        for (int t = 0; t < B; ++t) A(i, t) = phi.value(XB[l](i, t));
                    } else {
                        for (int t = 0; t < B; ++t) A(i, t) = phi.value(Ul(i, t));
                    }
                }
            });
            for (std::int64_t c : degenerate_rows) res.degenerate[si] += c;
        };

        std::vector<RowMatrix> Ws(keep ? L : 0);
        std::vector<Eigen::VectorXd> bs(keep ? L : 0);
        RowMatrix Wtmp;
        Eigen::VectorXd btmp;
        auto layer = [&](int l, RowMatrix*& W, Eigen::VectorXd*& b, bool redraw) {
            if (keep) {
                if (redraw) draw_layer(spec, l, seed, inner_threads, Ws[l - 1], bs[l - 1]);
                W = &Ws[l - 1];
                b = &bs[l - 1];
            } else {
                draw_layer(spec, l, seed, inner_threads, Wtmp, btmp);
                W = &Wtmp;
                b = &btmp;
            }
        };

        // ---- forward ----
        Eigen::MatrixXd X = draw_input(spec, seed), A, Anext, J, Jnext;
        if (spec.input.preactivation) {
            U[0] = X;
            gram_of(U[0], pre);
            activate(0, A);
        } else {
            A = X;
            gram_of(X, pre);
        }
        if (spec.post_stats) gram_of(A, post);
        if (spec.jacobian) {
            J = Eigen::MatrixXd::Identity(spec.widths[0], spec.widths[0]);
            if (spec.input.preactivation)
                for (int i = 0; i < spec.widths[0]; ++i) J.row(i) *= phi.deriv(U[0](i, 0));
        }
        int stop = L;
        for (int l = 1; l <= L; ++l) {
            poll();
            RowMatrix* W;
            Eigen::VectorXd* b;
            layer(l, W, b, true);
            const std::int64_t M = spec.widths[l];
            Eigen::MatrixXd& Ul = U[l];
            Ul.resize(M, B);
            const std::int64_t n_blocks = (M + kRowBlock - 1) / kRowBlock;
            const bool jac_deriv = l < L || !spec.linear_readout;
            if (spec.jacobian) Jnext.resize(M, J.cols());
            parallel_for(n_blocks, inner_threads, [&](std::int64_t k) {
                poll();
                const Eigen::Index r0 = k * kRowBlock, nr = std::min<Eigen::Index>(kRowBlock, M - r0);
                if (B <= kGemvColumns)
                    for (int t = 0; t < B; ++t) Ul.col(t).segment(r0, nr).noalias() = W->middleRows(r0, nr) * A.col(t);
                else
                    Ul.middleRows(r0, nr).noalias() = W->middleRows(r0, nr) * A;
                Ul.middleRows(r0, nr).colwise() += b->segment(r0, nr);
                if (spec.jacobian) {
                    if (l == 1 && !spec.input.preactivation)
                        Jnext.middleRows(r0, nr) = W->middleRows(r0, nr);  // J^0 = I
                    else
                        Jnext.middleRows(r0, nr).noalias() = W->middleRows(r0, nr) * J;
                    if (jac_deriv)
                        for (Eigen::Index i = r0; i < r0 + nr; ++i) Jnext.row(i) *= phi.deriv(Ul(i, 0));
                }
            });
            if (spec.jacobian) J.swap(Jnext);
            gram_of(Ul, pre + l * BB);
            bool finite = true;
            for (int t = 0; t < B; ++t) finite = finite && std::isfinite(pre[l * BB + t * (B + 1)]);
            if (!finite) {
                for (std::size_t k = 0; k < BB; ++k) pre[l * BB + k] = kNaN;
                stop = l - 1;
                break;
            }
            if (l < L) {
                activate(l, Anext);
                A.swap(Anext);
                if (spec.post_stats) gram_of(A, post + l * BB);
            }
        }
        res.stop_layer[si] = stop;
        if (stop < L) {
            res.status[si] = static_cast<int>(Status::Diverged);
            return;
        }
        if (res.degenerate[si] > 0) res.status[si] = static_cast<int>(Status::Degenerate);
        if (spec.outputs) {
            Eigen::MatrixXd F = U[L].transpose();  // B x M_L
            if (spec.batchnorm == BatchNorm::Last) F.rowwise() -= F.colwise().mean();
            Eigen::Map<Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
                res.outputs.data() + si * B * static_cast<std::size_t>(ML), B, ML) = F;
        }
        if (spec.jacobian) {
            Eigen::MatrixXd JJ = J * J.transpose();
            Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(JJ, Eigen::EigenvaluesOnly);
            std::copy(es.eigenvalues().data(), es.eigenvalues().data() + ML,
                      res.jacobian_eigenvalues.data() + si * static_cast<std::size_t>(ML));
            J.resize(0, 0);
            Jnext.resize(0, 0);
        }
        if (!backward) return;

        // ---- backward ----
        double* lg = res.grad_log_norm2.data() + si * (L + 1);
        double* gc = res.grad_cov.data() + si * (L + 1) * RBRB;
        Eigen::MatrixXd D(ML, RB), G;
        if (spec.backward == Backward::RandomError) {
            Rng rng(seed, stream(L + 1, 0));
            rng.fill_normal(D.data(), static_cast<std::size_t>(ML) * B);
        } else {
            D.setZero();
            for (int t = 0; t < B; ++t)
                for (int r = 0; r < R; ++r) D(r, t * R + r) = 1.0;
        }
        double logn = 0;
        auto record = [&](int l) {
            Eigen::Map<Eigen::MatrixXd> S(gc + l * RBRB, RB, RB);
            gram_into(D, S);
            const double n2 = S.trace();
            logn += std::log(n2);
            lg[l] = logn;
            if (n2 > 0 && std::isfinite(n2)) {
                S /= n2;
                D /= std::sqrt(n2);
            } else {
                S.setZero();
            }
        };
        record(L);
        Eigen::VectorXd v(B);
        for (int l = L; l >= 1; --l) {
            poll();
            RowMatrix* W;
            Eigen::VectorXd* b;
            layer(l, W, b, false);
            const std::int64_t M = spec.widths[l - 1];
            G.resize(M, RB);
            const bool deriv = l >= 2 || spec.input.preactivation;
            const std::int64_t n_blocks = (M + kRowBlock - 1) / kRowBlock;
            parallel_for(n_blocks, inner_threads, [&](std::int64_t k) {
                poll();
                const Eigen::Index r0 = k * kRowBlock, nr = std::min<Eigen::Index>(kRowBlock, M - r0);
                if (RB <= kGemvColumns)
                    for (int c = 0; c < RB; ++c)
                        G.col(c).segment(r0, nr).noalias() = W->middleCols(r0, nr).transpose() * D.col(c);
                else
                    G.middleRows(r0, nr).noalias() = W->middleCols(r0, nr).transpose() * D;
                if (!deriv) return;
                const Eigen::MatrixXd& Up = U[l - 1];
                Eigen::VectorXd vrow;
                for (Eigen::Index i = r0; i < r0 + nr; ++i) {
                    if (bn_all) {
                        const Eigen::MatrixXd& x = XB[l - 1];
                        if (vrow.size() != B) vrow.resize(B);
                        for (int t = 0; t < B; ++t) vrow[t] = phi.deriv(x(i, t)) * G(i, t);
                        batch_normalize_backward(&x(i, 0), norms[l - 1][i], vrow.data(), &G(i, 0), B, M, 1, M);
                    } else {
                        for (int t = 0; t < B; ++t) {
                            const double d = phi.deriv(Up(i, t));
                            for (int r = 0; r < R; ++r) G(i, t * R + r) *= d;
                        }
                    }
                }
            });
            D.swap(G);
            record(l - 1);
        }

        // ---- the parameter-Jacobian Gram ----
        if (spec.gram) {
            Eigen::Map<Eigen::MatrixXd> Gr(res.gram.data() + si * RBRB, RB, RB);
            Gr.setZero();
            const bool ntk = spec.parameterization == Parameterization::NTK;
            for (int l = 1; l <= L; ++l) {
                const double Mp = spec.widths[l - 1];
                const double wf = ntk ? spec.sigma_w2 / Mp : 1.0;
                const double bf = spec.gram_bias ? (ntk ? spec.sigma_b2 : 1.0) : 0.0;
                const double scale = std::exp(lg[l]);
                Eigen::Map<const Eigen::MatrixXd> Dl(gc + l * RBRB, RB, RB);
                Eigen::Map<const Eigen::MatrixXd> Hl(post + (l - 1) * BB, B, B);
                for (int t = 0; t < B; ++t)
                    for (int s = 0; s < B; ++s) {
                        const double f = scale * (wf * Mp * Hl(s, t) + bf);
                        Gr.block(s * R, t * R, R, R) += f * Dl.block(s * R, t * R, R, R);
                    }
            }
            if (spec.batchnorm == BatchNorm::Last) {
                // P G P with P = (I - 1 1^T / B) (x) I_R: subtract the batch means of each read-out.
                Eigen::MatrixXd Gm = Gr;
                for (int pass = 0; pass < 2; ++pass) {
                    for (Eigen::Index c = 0; c < RB; ++c)
                        for (int r = 0; r < R; ++r) {
                            double mean = 0;
                            for (int t = 0; t < B; ++t) mean += Gm(t * R + r, c);
                            mean /= B;
                            for (int t = 0; t < B; ++t) Gm(t * R + r, c) -= mean;
                        }
                    Gm.transposeInPlace();
                }
                Gr = Gm;
            }
            Eigen::MatrixXd sym = 0.5 * (Gr + Gr.transpose());
            Gr = sym;
            if (!Gr.allFinite()) res.status[si] = static_cast<int>(Status::Diverged);  // the Gram overflowed
        }
    };
    loop.run(n_seeds, spec.num_threads, run_seed);
    return res;
}

}  // namespace statmech_nn::network
