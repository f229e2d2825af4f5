#include "statmech_nn/committee_ode.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <stdexcept>

#include "statmech_nn/committee_averages.hpp"
#include "statmech_nn/gaussian.hpp"
#include "statmech_nn/parallel.hpp"

namespace statmech_nn::committee {

namespace {

// State vector layout: Q upper triangle (row by row), R row-major, g (if gains), w row-major
// (if the second layer is trained).
struct Layout {
    int K, M, O;
    bool gains, train_w;
    int nQ() const { return K * (K + 1) / 2; }
    int size() const { return nQ() + K * M + (gains ? K : 0) + (train_w ? K * O : 0); }

    Eigen::VectorXd pack(const State& s) const {
        Eigen::VectorXd y(size());
        pack_into(s, y.data());
        return y;
    }

    void pack_into(const State& s, double* y) const {
        int k = 0;
        for (int i = 0; i < K; ++i)
            for (int j = i; j < K; ++j) y[k++] = s.Q(i, j);
        for (int i = 0; i < K; ++i)
            for (int n = 0; n < M; ++n) y[k++] = s.R(i, n);
        if (gains)
            for (int i = 0; i < K; ++i) y[k++] = s.g[i];
        if (train_w)
            for (int i = 0; i < K; ++i)
                for (int o = 0; o < O; ++o) y[k++] = s.w(i, o);
    }

    void unpack(const double* y, State& s, const Eigen::MatrixXd& w_fixed) const {
        s.Q.resize(K, K);
        s.R.resize(K, M);
        int k = 0;
        for (int i = 0; i < K; ++i)
            for (int j = i; j < K; ++j) s.Q(i, j) = s.Q(j, i) = y[k++];
        for (int i = 0; i < K; ++i)
            for (int n = 0; n < M; ++n) s.R(i, n) = y[k++];
        s.g.setOnes(K);
        if (gains)
            for (int i = 0; i < K; ++i) s.g[i] = y[k++];
        if (train_w) {
            s.w.resize(K, O);
            for (int i = 0; i < K; ++i)
                for (int o = 0; o < O; ++o) s.w(i, o) = y[k++];
        } else {
            s.w = w_fixed;
        }
    }
};

// Work of one right-hand side below which threads cost more than they save, in units of one erf
// I4 term (~5 ns; ~2.5 with the optional AVX2 asin), i.e. 0.1-0.2 ms: K = M >= 14 with erf. Measured
// on 2 shared cores, as they were and with 3 busy processes beside them (benchmarks/committee.py):
// 2 threads were then never slower than 1.
double g_thread_work = 40000.0;

}  // namespace

double set_rhs_thread_work(double work) {
    const double old = g_thread_work;
    g_thread_work = work;
    return old;
}

double rhs_work(const Model& m) {
    const double L = m.K + m.M, pairs = 0.5 * m.K * (m.K + 1);
    return pairs * 0.5 * L * (L + 1) * second_order_term_cost(m.act);
}

int rhs_threads(const Model& m, int num_threads) {
    int nt = resolve_threads(num_threads);
    if (detail::nested_loop()) nt = 1;
    const int n_pairs = m.K * (m.K + 1) / 2;
    if (nt > n_pairs) nt = n_pairs;
    return nt > 1 && rhs_work(m) >= g_thread_work ? nt : 1;
}

State derivatives(const Model& m, const Eigen::MatrixXd& T, const State& s, int num_threads) {
    State d;
    Workspace ws;
    derivatives_into(m, T, s, num_threads, d, ws);
    return d;
}

void check_state(const Model& m, const Eigen::MatrixXd& T, const State& s) {
    const int K = m.K, M = m.M;
    if (T.rows() != M || T.cols() != M) throw std::invalid_argument("T: must be M x M");
    if (s.Q.rows() != K || s.Q.cols() != K) throw std::invalid_argument("Q: must be K x K");
    if (s.R.rows() != K || s.R.cols() != M) throw std::invalid_argument("R: must be K x M");
    if (s.g.size() != K) throw std::invalid_argument("g: must have K entries");
    if (s.w.rows() != K || s.w.cols() != m.O) throw std::invalid_argument("w: must be K x O");
}

bool ThreadChoice::use_threads() const {
    const std::int64_t phase = calls % interval;
    if (phase < kProbe) return false;  // the caller alone first: the reference
    if (phase < 2 * kProbe) return true;
    return threads;
}

void ThreadChoice::record(double seconds) {
    if (!probing()) {
        ++calls;
        return;
    }
    const std::int64_t phase = calls % interval;
    (phase < kProbe ? serial : threaded) += seconds;
    ++calls;
    // A threaded evaluation already slower than twice the caller's mean (a stalled worker) ends
    // the probe at once: threads lose.
    const bool stalled = phase >= kProbe && threaded > 2.0 * serial / kProbe * (phase - kProbe + 1);
    if (phase == 2 * kProbe - 1 || stalled) {
        const bool faster = !stalled && threaded <= serial;
        if (faster == threads) interval = std::min(2 * interval, kMaxInterval);
        else interval = kFirstInterval;
        threads = faster;
        threaded = serial = 0.0;
        calls = 2 * kProbe;  // the probe is over: count the rest of this interval from here
    }
}

RhsReport derivatives_report(const Model& m, const Eigen::MatrixXd& T, const State& s, int num_threads) {
    check_state(m, T, s);
    RhsReport out;
    Workspace ws;
    derivatives_into(m, T, s, num_threads, out.d, ws);
    out.S = ws.S;
    out.P = ws.P;
    out.c = ws.c;
    out.eg = generalisation_error(m, ws.C, s.w);
    return out;
}

void derivatives_into(const Model& m, const Eigen::MatrixXd& T, const State& s, int num_threads, State& d,
                      Workspace& ws) {
    const int K = m.K, M = m.M, L = K + M;
    const Activation& act = m.act;
    field_scales(m, s.Q, s.g, ws.c);
    field_covariance(m, s.Q, s.R, T, ws.c, ws.C);
    const Eigen::MatrixXd& C = ws.C;
    ws.D.noalias() = s.w * s.w.transpose();
    ws.E.noalias() = s.w * m.v.transpose();
    const Eigen::MatrixXd& D = ws.D;
    // delta_i = phi'(xhat_i) sum_p A_ip phi(z_p): A = [-D, E] (K x L).
    Eigen::MatrixXd& A = ws.A;
    A.resize(K, L);
    A.leftCols(K) = -D;
    A.rightCols(M) = ws.E;

    // First order: S_ib = <delta_i z_b> = sum_p A_ip I3(xhat_i, z_b, z_p).
    Eigen::MatrixXd& S = ws.S;
    first_order_sums(act, C, A, S);
    // Second order: P_ij = <delta_i delta_j> = sum_pq A_ip A_jq I4(xhat_i, xhat_j, z_p, z_q).
    Eigen::MatrixXd& P = ws.P;
    P.resize(K, K);
    const int n_pairs = K * (K + 1) / 2;
    std::vector<std::pair<int, int>>& pairs = ws.pairs;
    if (static_cast<int>(pairs.size()) != n_pairs) {
        pairs.clear();
        for (int i = 0; i < K; ++i)
            for (int j = i; j < K; ++j) pairs.emplace_back(i, j);
    }
    auto second_order = [&](std::int64_t k) {
        const int i = pairs[k].first, j = pairs[k].second;
        double acc = second_order_sum(act, C, A, i, j);
        if (m.noise > 0.0 && D(i, j) != 0.0) {
            Eigen::Matrix2d c2;
            c2 << C(i, i), C(i, j), C(i, j), C(j, j);
            acc += m.noise * m.noise * D(i, j) * J2(act, c2);
        }
        P(i, j) = P(j, i) = acc;
    };
    // Threads only where they pay: enough work per evaluation, a persistent team per workspace
    // (per solve), never nested in an outer parallel region (results are identical either way).
    auto serial = [&] {
        for (std::int64_t k = 0; k < n_pairs; ++k) {
            // relu / quadrature sums take milliseconds per pair at K = M = 20: poll every 16 pairs.
            if ((k & 15) == 15) check_interrupt();
            second_order(k);
        }
    };
    const int nt = rhs_threads(m, num_threads);
    if (nt > 1) {
        // on threads or on the caller alone, whichever this solve has measured faster
        const auto start = std::chrono::steady_clock::now();
        if (ws.choice.use_threads()) run_on_pool(n_pairs, nt, second_order);
        else serial();
        ws.choice.record(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    } else {
        serial();
    }

    assemble_derivatives(m, s, ws, d);
}

void assemble_derivatives(const Model& m, const State& s, const Workspace& ws, State& d) {
    const int K = m.K, M = m.M;
    const Eigen::VectorXd& c = ws.c;
    const Eigen::MatrixXd& C = ws.C;
    const Eigen::MatrixXd& S = ws.S;
    const Eigen::MatrixXd& P = ws.P;
    const double eta = m.eta, s2 = m.sigma * m.sigma;
    const double second = eta * eta * s2 / m.batch_size;
    d.Q.resize(K, K);
    d.R.resize(K, M);
    d.g.setZero(K);
    d.w.setZero(K, m.O);
    const bool full = m.norm == Normalization::BatchNormFull;
    for (int i = 0; i < K; ++i) {
        for (int j = i; j < K; ++j) {
            double v = eta * ((c[i] / c[j]) * S(i, j) + (c[j] / c[i]) * S(j, i)) + second * c[i] * c[j] * P(i, j);
            if (full) v -= eta * (s.Q(i, j) / s.Q(i, i) * S(i, i) + s.Q(i, j) / s.Q(j, j) * S(j, j));
            d.Q(i, j) = d.Q(j, i) = v;
        }
        for (int n = 0; n < M; ++n) {
            double v = eta * c[i] * S(i, K + n);
            if (full) v -= eta * s.R(i, n) / s.Q(i, i) * S(i, i);
            d.R(i, n) = v;
        }
        if (m.has_gains()) d.g[i] = eta * S(i, i) / s.g[i];
    }
    if (m.trains_w()) {
        const Eigen::MatrixXd I = pair_averages(m, C);
        // dw_i = eta_w <(t - s) phi(xhat_i)> = eta_w [sum_n I2(i, n) v_n - sum_k I2(i, k) w_k].
        d.w = m.eta_w * (I.block(0, K, K, M) * m.v - I.block(0, 0, K, K) * s.w);
    }
}

namespace {

// Scales of the divergence and domain checks of solve().
struct DomainScale {
    double field = 1.0;     // largest field variance at the start (students, teachers) or 1
    double w2 = 1.0;        // largest |w_i|^2, |v_n|^2 at the start or 1
    double zero_tol = 0.0;  // rounding level of the norms J_i . J_i
    double cs_slack = 1e-6; // relative room in the Cauchy–Schwarz checks (integration error)
};

DomainScale domain_scale(const Model& m, const Eigen::MatrixXd& T, const State& initial, const OdeOptions& opt) {
    DomainScale sc;
    // Room for the integration error on nearly parallel vectors (R_in^2 -> Q_ii T_nn at perfect
    // learning): ~rtol relative for the adaptive method. Fixed steps approach that boundary to
    // ~1e-13 in practice (Euler dt = 0.01 .. 0.5, RK4), so 1e-6 leaves ample room there.
    sc.cs_slack = std::max(1e-6, is_adaptive(opt.method) ? 100.0 * opt.rtol : 0.0);
    const double atol = opt.atol;
    const double s2 = m.sigma * m.sigma;
    double field = 1.0, norm = 0.0, w2 = 1.0;
    for (int i = 0; i < m.K; ++i) {
        const double c = m.has_gains() ? initial.g[i] * initial.g[i] : s2 * initial.Q(i, i);
        field = std::max(field, c);
        norm = std::max(norm, initial.Q(i, i));
        w2 = std::max(w2, initial.w.row(i).squaredNorm());
    }
    for (int n = 0; n < m.M; ++n) {
        field = std::max(field, s2 * T(n, n));
        norm = std::max(norm, T(n, n));
        w2 = std::max(w2, m.v.row(n).squaredNorm());
    }
    sc.field = field;
    sc.w2 = w2;
    // Rounding (and integration-error) level of the overlaps: a norm J_i . J_i within this of zero
    // is a unit at the boundary J_i = 0, not outside the domain.
    sc.zero_tol = 256.0 * std::numeric_limits<double>::epsilon() * std::max(1.0, norm) + 10.0 * atol;
    return sc;
}

bool outside_domain(const Model& m, const Eigen::MatrixXd& T, const State& s, const DomainScale& sc,
                    double bound) {
    const double s2 = m.sigma * m.sigma;
    for (int i = 0; i < m.K; ++i) {
        const double q = s.Q(i, i);
        if (!std::isfinite(q)) return true;
        if (q < -sc.zero_tol) return true;                                     // |J_i|^2 < 0
        if (m.has_gains() && !(q > sc.zero_tol)) return true;                  // BN of a zero field
        const double field = m.has_gains() ? s.g[i] * s.g[i] : s2 * q;      // Var(xhat_i)
        if (field > bound * sc.field) return true;
        if (m.trains_w() && s.w.row(i).squaredNorm() > bound * sc.w2) return true;
        // Cauchy–Schwarz (the Gram matrix stays positive semidefinite), with room for the
        // integration error of nearly parallel vectors.
        const double qp = std::max(q, 0.0);
        for (int n = 0; n < m.M; ++n) {
            const double r = s.R(i, n);
            if (r * r > qp * T(n, n) * (1.0 + sc.cs_slack) + sc.zero_tol * (qp + T(n, n) + sc.zero_tol)) return true;
        }
        for (int j = i + 1; j < m.K; ++j) {
            const double qq = std::max(s.Q(j, j), 0.0), x = s.Q(i, j);
            if (x * x > qp * qq * (1.0 + sc.cs_slack) + sc.zero_tol * (qp + qq + sc.zero_tol)) return true;
        }
    }
    return false;
}

void clamp_to_domain(State& s, const Eigen::MatrixXd& T, const DomainScale& sc) {
    // A unit at the boundary J_i = 0 (its norm within rounding of 0, possibly just below): every
    // overlap of J_i vanishes there. Overlaps that break Cauchy–Schwarz within the integration
    // error (nearly parallel vectors, a decaying unit) are put back on the boundary.
    const Eigen::Index K = s.Q.rows(), M = s.R.cols();
    for (Eigen::Index i = 0; i < K; ++i) {
        if (s.Q(i, i) <= sc.zero_tol) {
            s.Q.row(i).setZero();
            s.Q.col(i).setZero();
            s.R.row(i).setZero();
        }
    }
    for (Eigen::Index i = 0; i < K; ++i) {
        for (Eigen::Index n = 0; n < M; ++n) {
            const double b = std::sqrt(s.Q(i, i) * std::max(T(n, n), 0.0));
            s.R(i, n) = std::clamp(s.R(i, n), -b, b);
        }
        for (Eigen::Index j = i + 1; j < K; ++j) {
            const double b = std::sqrt(s.Q(i, i) * s.Q(j, j));
            s.Q(i, j) = s.Q(j, i) = std::clamp(s.Q(i, j), -b, b);
        }
    }
}

}  // namespace

OdeSolution solve(const Model& m, const Eigen::MatrixXd& T, const State& initial, const std::vector<double>& t_out,
                  const OdeOptions& options, int num_threads) {
    check_state(m, T, initial);
    const double divergence_bound = options.divergence_bound;
    const Layout lay{m.K, m.M, m.O, m.has_gains(), m.trains_w()};
    const Eigen::MatrixXd w_fixed = initial.w;
    const Eigen::VectorXd y0 = lay.pack(initial);
    const int n = lay.size();
    const DomainScale sc = domain_scale(m, T, initial, options);

    State s, d;
    Workspace ws;
    OdeRhs rhs = [&](double, const double* y, double* dydt) {
        lay.unpack(y, s, w_fixed);
        // Trial states outside the domain (a norm clearly below zero, a batch-normalised unit with
        // a zero field) have no dynamics: NaN makes the integrator shorten the step.
        for (int i = 0; i < m.K; ++i) {
            const double q = s.Q(i, i);
            if (!(q >= -sc.zero_tol) || (m.has_gains() && (!(q > 0.0) || !(s.g[i] != 0.0)))) {
                for (int k = 0; k < n; ++k) dydt[k] = std::numeric_limits<double>::quiet_NaN();
                return;
            }
        }
        if (!m.has_gains()) clamp_to_domain(s, T, sc);
        derivatives_into(m, T, s, num_threads, d, ws);
        lay.pack_into(d, dydt);
    };
    State chk;
    OdeDomain outside = [&](const double* y) {
        lay.unpack(y, chk, w_fixed);
        return outside_domain(m, T, chk, sc, divergence_bound);
    };
    OdeOptions opt = options;
    opt.divergence_bound = std::numeric_limits<double>::infinity();  // the domain check replaces it
    OdeResult r = integrate_ode(rhs, y0, t_out, opt, nullptr, outside);

    OdeSolution out;
    out.n_out = r.n_out;
    out.t.assign(t_out.begin(), t_out.begin() + r.n_out);
    out.status = to_string(r.status);
    out.t_stop = r.t_stop;
    out.n_rhs = r.n_rhs;
    out.n_steps = r.n_steps;
    const int K = m.K, M = m.M, O = m.O;
    out.Q.resize(static_cast<size_t>(r.n_out) * K * K);
    out.R.resize(static_cast<size_t>(r.n_out) * K * M);
    out.g.resize(static_cast<size_t>(r.n_out) * K);
    out.w.resize(static_cast<size_t>(r.n_out) * K * O);
    out.eg.resize(r.n_out);
    for (int k = 0; k < r.n_out; ++k) {
        State s;
        lay.unpack(r.y.row(k).data(), s, w_fixed);
        for (int i = 0; i < K; ++i) {
            for (int j = 0; j < K; ++j) out.Q[(static_cast<size_t>(k) * K + i) * K + j] = s.Q(i, j);
            for (int p = 0; p < M; ++p) out.R[(static_cast<size_t>(k) * K + i) * M + p] = s.R(i, p);
            out.g[static_cast<size_t>(k) * K + i] = s.g[i];
            for (int o = 0; o < O; ++o) out.w[(static_cast<size_t>(k) * K + i) * O + o] = s.w(i, o);
        }
        if (!m.has_gains()) clamp_to_domain(s, T, sc);
        bool ok = true;
        for (int i = 0; i < K; ++i) ok = ok && (m.has_gains() ? s.Q(i, i) > 0.0 : s.Q(i, i) >= 0.0);
        if (ok) {
            const Eigen::VectorXd c = field_scales(m, s.Q, s.g);
            out.eg[k] = generalisation_error(m, field_covariance(m, s.Q, s.R, T, c), s.w);
        } else {
            out.eg[k] = std::numeric_limits<double>::quiet_NaN();
        }
    }
    return out;
}

}  // namespace statmech_nn::committee
