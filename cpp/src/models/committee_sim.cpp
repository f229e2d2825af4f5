#include "statmech_nn/committee_sim.hpp"

#include "committee_sim_pass.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <stdexcept>

#include "statmech_nn/parallel.hpp"
#include "statmech_nn/random.hpp"

namespace statmech_nn::committee {

namespace {

using RowMat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
constexpr int kMaxLanes = 8;
constexpr std::uint64_t kTestSeedOffset = 0x7F4A7C159E3779B9ULL;
constexpr std::uint64_t kProjectedStream = 0x100000000000ULL;  // stream offset of the projected sampler

// A lower-triangular L with L L^T = G for a symmetric positive semidefinite G (Cholesky without
// pivoting; a pivot within rounding of zero, a direction G does not reach, gets a zero column).
// Written out rather than through an Eigen decomposition: G is K x K, and an Eigen eigen- or
// LDL^T solver instantiated here doubled this file's compile time.
void psd_cholesky(const Eigen::MatrixXd& G, Eigen::MatrixXd& L) {
    const Eigen::Index K = G.rows();
    L.setZero(K, K);
    const double tol = 1e-13 * std::max(G.diagonal().maxCoeff(), 0.0);
    for (Eigen::Index k = 0; k < K; ++k) {
        double d = G(k, k);
        for (Eigen::Index j = 0; j < k; ++j) d -= L(k, j) * L(k, j);
        if (!(d > tol)) continue;  // zero column
        const double lkk = std::sqrt(d);
        L(k, k) = lkk;
        for (Eigen::Index i = k + 1; i < K; ++i) {
            double v = G(i, k);
            for (Eigen::Index j = 0; j < k; ++j) v -= L(i, j) * L(k, j);
            L(i, k) = v / lkk;
        }
    }
}

// Per-lane work space and partial sums.
struct Lane {
    RowMat xi;              // rows x N inputs
    RowMat X, Y;            // rows x K, rows x M fields
    RowMat XY;              // rows x (K + M)
    RowMat delta;           // rows x K back-propagated errors
    RowMat grad;            // K x N: sum_u delta_u xi_u
    Eigen::VectorXd dx;     // K: sum_u delta_ui x_ui
    Eigen::MatrixXd dw;     // K x O: sum_u phi(xhat_ui) (t_u - s_u)
    Eigen::VectorXd err;    // O
};

class SeedRun {
public:
    SeedRun(const SimSettings& S, std::size_t seed_index, SimOutput& out)
        : S_(S), m_(S.model), s_idx_(seed_index), seed_(S.seeds[seed_index]), out_(out) {
        const int K = m_.K, M = m_.M, N = S.N, b = m_.batch_size;
        rows_ = std::max(1, std::min(b, 32768 / std::max(1, N)));
        nchunks_ = (b + rows_ - 1) / rows_;
        lanes_ = std::min(kMaxLanes, nchunks_);
        lane_.resize(lanes_);
        for (auto& l : lane_) {
            l.xi.resize(rows_, N);
            l.X.resize(rows_, K);
            l.XY.resize(rows_, K + M);
            l.Y.resize(rows_, M);
            l.delta.resize(rows_, K);
            l.grad.resize(K, N);
            l.dx.resize(K);
            l.dw.resize(K, m_.O);
            l.err.resize(m_.O);
        }
        if (S.projected) {
            proj_.X.resize(b, K);
            proj_.Y.resize(b, M);
            proj_.delta.resize(b, K);
            proj_.grad.resize(K, N);
            proj_.dx.resize(K);
            proj_.dw.resize(K, m_.O);
            proj_.err.resize(m_.O);
        }
        init_weights();
    }

    void run(int inner_threads) {
        const std::int64_t last = S_.record_steps.empty() ? 0 : S_.record_steps.back();
        std::size_t rec = 0;
        // A state beyond the divergence bound (or non-finite) is never recorded: the run stops
        // with status "diverged" at the last good step and later records stay NaN.
        set_scales();
        bool diverged = !finite_state();
        std::int64_t good = 0;
        if (!diverged)
            while (rec < S_.record_steps.size() && S_.record_steps[rec] == 0) record(rec++);
        for (std::int64_t step = 1; step <= last && !diverged; ++step) {
            check_interrupt();  // every thread: the master asks Python, the others read the stop flag
            field_scales_from_norms(m_, qd_, g_, c_);  // qd_ from finite_state()
            if (S_.projected)
                sgd_step_projected(step);
            else if (m_.batch_size == 1)
                sgd_step_single(step);
            else
                sgd_step(step, inner_threads);
            if (!finite_state()) {
                diverged = true;
                break;
            }
            good = step;
            while (rec < S_.record_steps.size() && S_.record_steps[rec] == step) record(rec++);
        }
        out_.status[s_idx_] = diverged ? "diverged" : "ok";
        out_.stop_step[s_idx_] = good;
    }

private:
    // The divergence criterion of the ODE's twin (committee_ode.hpp): a field variance
    // (sigma^2 |J_i|^2; g_i^2 under batch norm, where |J_i| drops out) beyond divergence_bound
    // times the problem's scale, |w_i|^2 likewise against the second layers, or a non-finite state.
    void set_scales() {
        const double s2 = S_.model.sigma * S_.model.sigma;
        const Eigen::VectorXd q0 = J_.rowwise().squaredNorm();
        field_scale_ = 1.0;
        w_scale_ = 1.0;
        for (int i = 0; i < m_.K; ++i) {
            field_scale_ = std::max(field_scale_, m_.has_gains() ? g_[i] * g_[i] : s2 * q0[i]);
            w_scale_ = std::max(w_scale_, w_.row(i).squaredNorm());
        }
        for (int n = 0; n < m_.M; ++n) {
            field_scale_ = std::max(field_scale_, s2 * T_(n, n));
            w_scale_ = std::max(w_scale_, m_.v.row(n).squaredNorm());
        }
    }

    // qd_fresh_: qd_ already holds the norms of the current J_ (computed by the step).
    bool finite_state() {
        if (!qd_fresh_) qd_ = J_.rowwise().squaredNorm();
        qd_fresh_ = false;
        const double bound = S_.divergence_bound;
        const double s2 = S_.model.sigma * S_.model.sigma;
        for (int i = 0; i < m_.K; ++i) {
            if (!std::isfinite(qd_[i]) || !(qd_[i] > 0.0)) return false;
            const double field = m_.has_gains() ? g_[i] * g_[i] : s2 * qd_[i];
            if (!(field <= bound * field_scale_)) return false;
            if (m_.trains_w() && !(w_.row(i).squaredNorm() <= bound * w_scale_)) return false;
        }
        return true;
    }

    void init_weights() {
        const int K = m_.K, M = m_.M, N = S_.N;
        J_.resize(K, N);
        B_.resize(M, N);
        if (S_.J0.size() > 0) {
            J_ = S_.J0;
        } else {
            Rng rng(seed_, 0);
            for (int i = 0; i < K; ++i) rng.fill_normal(J_.row(i).data(), N, S_.student_scale[i] / std::sqrt(double(N)));
        }
        if (S_.B0.size() > 0) {
            B_ = S_.B0;
        } else {
            Rng rng(seed_, 1);
            for (int n = 0; n < M; ++n) rng.fill_normal(B_.row(n).data(), N, S_.teacher_scale[n] / std::sqrt(double(N)));
        }
        w_ = S_.w0;
        g_ = m_.has_gains() ? S_.g0 : Eigen::VectorXd::Ones(K);
        JB_.resize(K + M, N);
        JB_.bottomRows(M) = B_;
        const Eigen::MatrixXd T = B_ * B_.transpose();
        for (int n = 0; n < M; ++n)
            for (int p = 0; p < M; ++p) out_.T[(s_idx_ * M + n) * M + p] = T(n, p);
        T_ = T;
    }

    // Errors of one chunk of r samples (fields already in lane.X, lane.Y); accumulates dx, dw.
    void backprop(Lane& l, int r, Rng& rng) {
        const int K = m_.K, M = m_.M, O = m_.O;
        const Activation& act = m_.act;
        for (int u = 0; u < r; ++u) {
            for (int o = 0; o < O; ++o) l.err[o] = 0.0;
            for (int n = 0; n < M; ++n) {
                const double f = act.value(l.Y(u, n));
                for (int o = 0; o < O; ++o) l.err[o] += m_.v(n, o) * f;
            }
            if (m_.noise > 0.0)
                for (int o = 0; o < O; ++o) l.err[o] += m_.noise * rng.normal();
            for (int i = 0; i < K; ++i) {
                const double f = act.value(c_[i] * l.X(u, i));
                for (int o = 0; o < O; ++o) l.err[o] -= w_(i, o) * f;
            }
            for (int i = 0; i < K; ++i) {
                const double xh = c_[i] * l.X(u, i);
                double we = 0.0;
                for (int o = 0; o < O; ++o) we += w_(i, o) * l.err[o];
                const double d = act.deriv(xh) * we;
                l.delta(u, i) = d;
                l.dx[i] += d * l.X(u, i);
                if (m_.trains_w()) {
                    const double f = act.value(xh);
                    for (int o = 0; o < O; ++o) l.dw(i, o) += f * l.err[o];
                }
            }
        }
    }

    void run_lane(int lane, std::int64_t step) {
        Lane& l = lane_[lane];
        const int N = S_.N, b = m_.batch_size;
        l.grad.setZero();
        l.dx.setZero();
        l.dw.setZero();
        for (int chunk = lane; chunk < nchunks_; chunk += lanes_) {
            const int r = std::min(rows_, b - chunk * rows_);
            Rng rng(seed_, 2 + static_cast<std::uint64_t>(step - 1) * nchunks_ + chunk);
            NormalLanes(rng).fill(l.xi.data(), static_cast<std::size_t>(r) * N, m_.sigma);
            auto xi = l.xi.topRows(r);
            // one pass over the inputs for all K + M fields
            l.XY.topRows(r).noalias() = xi * JB_.transpose();
            l.X.topRows(r) = l.XY.topRows(r).leftCols(m_.K);
            l.Y.topRows(r) = l.XY.topRows(r).rightCols(m_.M);
            backprop(l, r, rng);
            l.grad.noalias() += l.delta.topRows(r).transpose() * xi;
        }
    }

    void sgd_step(std::int64_t step, int inner_threads) {
        JB_.topRows(m_.K) = J_;
        if (inner_threads > 1 && lanes_ > 1) {
            // The process's pool: no thread started, no barrier, per step.
            auto lane_body = [&](std::int64_t l) { run_lane(static_cast<int>(l), step); };
            run_on_pool(lanes_, std::min(inner_threads, lanes_), lane_body);
        } else {
            for (int l = 0; l < lanes_; ++l) run_lane(l, step);
        }
        for (int l = 1; l < lanes_; ++l) {
            lane_[0].grad += lane_[l].grad;
            lane_[0].dx += lane_[l].dx;
            lane_[0].dw += lane_[l].dw;
        }
        apply_update(lane_[0]);
    }

    // One sample per step (b = 1): the same arithmetic as sgd_step, in one pass over the K x N
    // weights per step. The inputs do not depend on the weights, so the next step's input is drawn
    // before this step's update; one blocked pass then updates each row of J, takes its new norm
    // and its field on the next input while the block is in cache, and takes the teacher's fields
    // on the next input from B. A separate pass computes the fields only on the first step.
    void sgd_step_single(std::int64_t step) {
        const int K = m_.K, M = m_.M, N = S_.N;
        Lane& l = lane_[0];
        l.dx.setZero();
        l.dw.setZero();
        if (!next_ready_) {  // first step: draw its input and take its fields
            xi_next_.resize(N);
            xi_cur_.resize(N);
            lam_next_.resize(K);
            nu_next_.resize(M);
            scale_.resize(K);
            add_.resize(K);
            pass_work_.resize(committee_detail::single_pass_work(K, M));
            draw_input(step);
            committee_detail::row_dots(J_.data(), K, N, xi_next_.data(), lam_next_.data());
            committee_detail::row_dots(B_.data(), M, N, xi_next_.data(), nu_next_.data());
        }
        xi_cur_.swap(xi_next_);
        Rng rng = rng_next_;  // this step's stream, after its N inputs (output noise)
        l.X.row(0) = lam_next_.transpose();
        l.Y.row(0) = nu_next_.transpose();
        backprop(l, 1, rng);
        const double a = m_.eta / double(N);
        const bool full = m_.norm == Normalization::BatchNormFull;
        if (m_.has_gains())  // with the norms before the step
            for (int i = 0; i < K; ++i) g_[i] += a * l.dx[i] / (m_.sigma * std::sqrt(qd_[i]));
        if (m_.trains_w()) w_ += (m_.eta_w / double(N)) * l.dw;
        const bool more = step < S_.record_steps.back();
        if (more) draw_input(step + 1);
        for (int i = 0; i < K; ++i) {
            const double ac = a * c_[i];
            scale_[i] = full ? 1.0 - ac * l.dx[i] / qd_[i] : 1.0;
            add_[i] = ac * l.delta(0, i);
        }
        committee_detail::SinglePass pass{J_.data(), K, B_.data(), M, N, xi_cur_.data(),
                                          more ? xi_next_.data() : nullptr, scale_.data(), add_.data(),
                                          qd_.data(), lam_next_.data(), nu_next_.data(), pass_work_.data()};
        committee_detail::single_pass(pass);
        next_ready_ = more;
        qd_fresh_ = true;
    }

    // Step s's input into xi_next_: its own stream 2 + (s - 1), through eight interleaved lanes seeded
    // from it (NormalLanes, faster than single draws); the output noise continues that stream.
    void draw_input(std::int64_t s) {
        rng_next_ = Rng(seed_, 2 + static_cast<std::uint64_t>(s - 1));
        NormalLanes lanes(rng_next_);
        lanes.fill(xi_next_.data(), static_cast<std::size_t>(S_.N), m_.sigma);
    }

    // Projected sampler: xi = U^T a + xi_perp with U an orthonormal basis of span(J, B). Only the
    // r = K + M coordinates a of each sample enter the fields; given the errors Delta (b x K), the
    // complement part of sum_u delta_ui xi_u is Gaussian with covariance sigma^2 (Delta^T Delta)
    // (x) P_perp and is drawn as L Z_perp with L L^T = Delta^T Delta: the same Markov chain in law,
    // with b r + K N normals per step instead of b N.
    void sgd_step_projected(std::int64_t step) {
        const int K = m_.K, M = m_.M, N = S_.N, b = m_.batch_size;
        // Orthonormal rows U (r x N) spanning J's and B's rows: Gram-Schmidt, twice for stability;
        // directions already in the span (relative norm < 1e-12) are dropped.
        U_.resize(K + M, N);
        int r = 0;
        for (int k = 0; k < K + M; ++k) {
            auto u = U_.row(r);
            u = k < K ? J_.row(k) : B_.row(k - K);
            const double norm0 = u.norm();
            for (int pass = 0; pass < 2; ++pass)
                for (int q = 0; q < r; ++q) u -= u.dot(U_.row(q)) * U_.row(q);
            const double norm = u.norm();
            if (norm > 1e-12 * norm0 && r < N) {
                u /= norm;
                ++r;
            }
        }
        const auto U = U_.topRows(r);
        Jc_.noalias() = J_ * U.transpose();
        Bc_.noalias() = B_ * U.transpose();
        Rng rng(seed_, kProjectedStream + static_cast<std::uint64_t>(step));
        Lane& l = proj_;
        l.dx.setZero();
        l.dw.setZero();
        A_.resize(b, r);
        rng.fill_normal(A_.data(), static_cast<std::size_t>(b) * r, m_.sigma);
        l.X.noalias() = A_ * Jc_.transpose();
        l.Y.noalias() = A_ * Bc_.transpose();
        backprop(l, b, rng);
        // in-span part: (Delta^T A) U^T
        l.grad.noalias() = (l.delta.transpose() * A_) * U;
        // complement part: L Z_perp
        Z_.resize(K, N);
        rng.fill_normal(Z_.data(), static_cast<std::size_t>(K) * N, m_.sigma);
        Zc_.noalias() = Z_ * U.transpose();
        Z_.noalias() -= Zc_ * U;
        const Eigen::MatrixXd G = l.delta.transpose() * l.delta;
        psd_cholesky(G, Lm_);
        l.grad.noalias() += Lm_ * Z_;
        apply_update(l);
    }

    void apply_update(const Lane& tot) {
        const int K = m_.K, N = S_.N, b = m_.batch_size;
        const double a = m_.eta / (double(N) * b);
        const bool full = m_.norm == Normalization::BatchNormFull;
        for (int i = 0; i < K; ++i) {
            // Full gradient through sqrt(Q_ii): xi -> xi - (x_i / Q_ii) J_i.
            if (full) J_.row(i) *= 1.0 - a * c_[i] * tot.dx[i] / qd_[i];
            J_.row(i) += (a * c_[i]) * tot.grad.row(i);
        }
        if (m_.has_gains()) {
            // d xhat_i / d g_i = x_i / (sigma sqrt(Q_ii)).
            for (int i = 0; i < K; ++i) g_[i] += a * tot.dx[i] / (m_.sigma * std::sqrt(qd_[i]));
        }
        if (m_.trains_w()) w_ += (m_.eta_w / (double(N) * b)) * tot.dw;
    }

    double mc_test_error(std::size_t rec) {
        const int K = m_.K, M = m_.M, O = m_.O, N = S_.N;
        const Activation& act = m_.act;
        Rng rng(seed_ + kTestSeedOffset, rec);
        const Eigen::VectorXd qd = J_.rowwise().squaredNorm();
        const Eigen::VectorXd c = field_scales(m_, qd.asDiagonal().toDenseMatrix(), g_);
        Lane& l = lane_[0];
        double sum = 0.0;
        Eigen::VectorXd e(O);
        for (int done = 0; done < S_.test_samples; done += rows_) {
            check_interrupt();  // up to 10^8 test samples per record
            const int r = std::min(rows_, S_.test_samples - done);
            NormalLanes(rng).fill(l.xi.data(), static_cast<std::size_t>(r) * N, m_.sigma);
            auto xi = l.xi.topRows(r);
            l.X.topRows(r).noalias() = xi * J_.transpose();
            l.Y.topRows(r).noalias() = xi * B_.transpose();
            for (int u = 0; u < r; ++u) {
                e.setZero();
                for (int n = 0; n < M; ++n) e += act.value(l.Y(u, n)) * m_.v.row(n).transpose();
                for (int i = 0; i < K; ++i) e -= act.value(c[i] * l.X(u, i)) * w_.row(i).transpose();
                sum += 0.5 * e.squaredNorm();
            }
        }
        return sum / S_.test_samples;
    }

    void record(std::size_t rec) {
        const int K = m_.K, M = m_.M, O = m_.O;
        const std::size_t base = s_idx_ * out_.n_rec + rec;
        const Eigen::MatrixXd Q = J_ * J_.transpose();
        const Eigen::MatrixXd R = J_ * B_.transpose();
        for (int i = 0; i < K; ++i) {
            for (int j = 0; j < K; ++j) out_.Q[(base * K + i) * K + j] = Q(i, j);
            for (int n = 0; n < M; ++n) out_.R[(base * K + i) * M + n] = R(i, n);
            out_.g[base * K + i] = g_[i];
            for (int o = 0; o < O; ++o) out_.w[(base * K + i) * O + o] = w_(i, o);
        }
        const Eigen::VectorXd c = field_scales(m_, Q, g_);
        out_.eg[base] = generalisation_error(m_, field_covariance(m_, Q, R, T_, c), w_);
        if (S_.test_samples > 0) out_.eg_mc[base] = mc_test_error(rec);
    }

    const SimSettings& S_;
    const Model& m_;
    std::size_t s_idx_;
    std::uint64_t seed_;
    SimOutput& out_;
    int rows_ = 1, nchunks_ = 1, lanes_ = 1;
    std::vector<Lane> lane_;
    Lane proj_;
    Eigen::MatrixXd Jc_, Bc_, A_, Zc_, Lm_;
    RowMat U_, Z_;
    RowMat J_, B_, JB_;
    Eigen::MatrixXd T_, w_;
    double field_scale_ = 1.0, w_scale_ = 1.0;
    Eigen::VectorXd g_, qd_, c_;
    bool qd_fresh_ = false;
    // b = 1: the next step's input, its stream (after the input) and its fields, drawn ahead
    Eigen::VectorXd xi_cur_, xi_next_, lam_next_, nu_next_, scale_, add_, pass_work_;
    Rng rng_next_;
    bool next_ready_ = false;
};

}  // namespace

SimOutput simulate(const SimSettings& S, int num_threads) {
    const Model& m = S.model;
    const int K = m.K, M = m.M, O = m.O;
    if (S.N < 1 || K < 1 || M < 1 || O < 1 || m.batch_size < 1) throw std::invalid_argument("N, K, M, O, b must be >= 1");
    if (S.w0.rows() != K || S.w0.cols() != O) throw std::invalid_argument("w0: must be K x O");
    if (S.g0.size() != K) throw std::invalid_argument("g0: must have K entries");
    if (S.student_scale.size() != K) throw std::invalid_argument("student_scale: must have K entries");
    if (S.teacher_scale.size() != M) throw std::invalid_argument("teacher_scale: must have M entries");
    if (S.J0.size() != 0 && (S.J0.rows() != K || S.J0.cols() != S.N)) throw std::invalid_argument("J0: must be K x N");
    if (S.B0.size() != 0 && (S.B0.rows() != M || S.B0.cols() != S.N)) throw std::invalid_argument("B0: must be M x N");
    if (!(S.divergence_bound > 0.0)) throw std::invalid_argument("divergence_bound: must be > 0");
    if (S.test_samples < 0) throw std::invalid_argument("test_samples: must be >= 0");
    SimOutput out;
    out.n_seeds = static_cast<int>(S.seeds.size());
    out.n_rec = static_cast<int>(S.record_steps.size());
    const std::size_t ns = out.n_seeds, nr = out.n_rec;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    out.Q.assign(ns * nr * K * K, nan);
    out.R.assign(ns * nr * K * M, nan);
    out.g.assign(ns * nr * K, nan);
    out.w.assign(ns * nr * K * O, nan);
    out.eg.assign(ns * nr, nan);
    out.eg_mc.assign(ns * nr, nan);
    out.T.assign(ns * M * M, nan);
    out.status.assign(ns, "ok");
    out.stop_step.assign(ns, 0);
    const int nt = resolve_threads(num_threads);
    if (nt == 1 || static_cast<int>(ns) >= nt) {
        // One seed per thread; each seed single-threaded inside.
        parallel_for(static_cast<std::int64_t>(ns), nt, [&](std::int64_t s) {
            SeedRun run(S, static_cast<std::size_t>(s), out);
            run.run(1);
        });
    } else {
        for (std::size_t s = 0; s < ns; ++s) {
            SeedRun run(S, s, out);
            run.run(nt);
        }
    }
    return out;
}

double normal_fill_seconds(std::int64_t n) {
    Rng parent(12345, 0);
    NormalLanes rng(parent);
    std::vector<double> buf(1 << 15);
    const auto start = std::chrono::steady_clock::now();
    double sink = 0.0;
    for (std::int64_t done = 0; done < n; done += static_cast<std::int64_t>(buf.size())) {
        const std::size_t k = static_cast<std::size_t>(std::min<std::int64_t>(buf.size(), n - done));
        rng.fill(buf.data(), k, 1.0);
        sink += buf[0];
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return sink == 12345.6789 ? -secs : secs;  // keeps the loop from being optimised away
}

}  // namespace statmech_nn::committee
