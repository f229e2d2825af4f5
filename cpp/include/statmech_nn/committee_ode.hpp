// Order-parameter ODEs of the soft committee machine (see committee_model.hpp for the model),
// derived from the microscopic update in the limit N -> infinity at fixed b:
//
//   delta_i = phi'(xhat_i) w_i . (t - s),   xhat_i = c_i x_i,  S_ib = <delta_i z_b>,  P_ij = <delta_i delta_j>
//   dQ_ij/dt = eta [ (c_i/c_j) S_ij + (c_j/c_i) S_ji ] + eta^2 sigma^2 c_i c_j P_ij / b
//   dR_in/dt = eta c_i S_i,(K+n)
//   dg_i/dt  = eta S_ii / g_i                                   (batch norm)
//   dw_i/dt  = eta_w [ sum_n v_n I2(xhat_i, y_n) - sum_k w_k I2(xhat_i, xhat_k) ]  (trained w)
// with the full gradient through the normalisation, additionally
//   dQ_ij -= eta [ (Q_ij/Q_ii) S_ii + (Q_ij/Q_jj) S_jj ],   dR_in -= eta (R_in/Q_ii) S_ii.
// S and P are sums of I3 and I4 over the fields (z = (xhat, y)); output noise adds
// noise^2 D_ij J2(xhat_i, xhat_j) to P_ij.
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "statmech_nn/committee_model.hpp"
#include "statmech_nn/integrators.hpp"

namespace statmech_nn::committee {

struct State {
    Eigen::MatrixXd Q;  // K x K
    Eigen::MatrixXd R;  // K x M
    Eigen::VectorXd g;  // K (gains; ignored without normalisation)
    Eigen::MatrixXd w;  // K x O
};

// Time derivatives of (Q, R, g, w) at a state; T is the teacher overlap matrix.
// num_threads parallelises the I4 sums (the result does not depend on it).
State derivatives(const Model& m, const Eigen::MatrixXd& T, const State& s, int num_threads);

// Whether the pair sums of a solve's evaluations run on threads, as measured during the solve: on a
// machine shared with other work a worker that is descheduled while it holds a pair stalls the
// evaluation, and threads can be slower than one. Every `interval` evaluations, kProbe run on
// the calling thread alone and then kProbe on threads are timed, and the faster way is kept (a
// threaded evaluation slower than twice the serial mean ends the probe at once); the interval
// doubles (up to kMaxInterval) while the choice does not change. Results never depend on the
// choice.
struct ThreadChoice {
    static constexpr std::int64_t kProbe = 4, kFirstInterval = 128, kMaxInterval = 8192;
    std::int64_t calls = 0, interval = kFirstInterval;
    double threaded = 0.0, serial = 0.0;  // seconds spent in the current probe
    bool threads = true;
    // For this evaluation: threads or the caller alone.
    bool use_threads() const;
    bool probing() const { return calls % interval < 2 * kProbe; }
    void record(double seconds);  // after each evaluation (its time counts while probing)
};

// Scratch space of derivatives_into (reused between calls: no allocation in the ODE loop).
struct Workspace {
    Eigen::VectorXd c;
    Eigen::MatrixXd C, D, E, A, S, P;
    std::vector<std::pair<int, int>> pairs;
    ThreadChoice choice;
};

// Threads one right-hand side of the model uses for num_threads requested (<= 0: the default):
// 1 when its work (rhs_work, in units of one erf I4 term, ~5 ns) is below the measured threshold
// where threads stop paying, or inside an enclosing parallel region.
double rhs_work(const Model& m);
int rhs_threads(const Model& m, int num_threads);
// Test hook: sets that threshold (returns the previous one).
double set_rhs_thread_work(double work);
void derivatives_into(const Model& m, const Eigen::MatrixXd& T, const State& s, int num_threads, State& d,
                      Workspace& ws);

// The right-hand side at one state with the averages it is built from: S (K x (K+M)),
// S_ib = <delta_i z_b>; P (K x K), P_ij = <delta_i delta_j> (with output noise); the field scales
// c (K); and eps_g there.
struct RhsReport {
    State d;
    Eigen::MatrixXd S, P;
    Eigen::VectorXd c;
    double eg = 0.0;
};
RhsReport derivatives_report(const Model& m, const Eigen::MatrixXd& T, const State& s, int num_threads);

// The same right-hand side evaluated term by term (every I3 and I4 on its own block of the field
// covariance, committee_ode_reference.cpp): the reference the tests hold the fast one to.
void derivatives_into_reference(const Model& m, const Eigen::MatrixXd& T, const State& s, State& d, Workspace& ws);
// The last step of both: dQ/dt, dR/dt, dg/dt, dw/dt from the field scales ws.c, the covariance
// ws.C and the first- and second-order sums ws.S, ws.P.
void assemble_derivatives(const Model& m, const State& s, const Workspace& ws, State& d);
RhsReport derivatives_report_reference(const Model& m, const Eigen::MatrixXd& T, const State& s);

// Checks the shapes of a state against the model (Q K x K, R K x M, g K, w K x O) and T (M x M);
// throws std::invalid_argument naming the field.
void check_state(const Model& m, const Eigen::MatrixXd& T, const State& s);

struct OdeSolution {
    std::vector<double> t;
    std::vector<double> Q, R, g, w, eg;  // stacked over the n_out reached times (row-major)
    int n_out = 0;
    std::string status;  // a word of the package's status vocabulary ("ok", "diverged", ...)
    double t_stop = 0.0;
    std::int64_t n_rhs = 0, n_steps = 0;
};

// Integrate from t_out[0]. The run ends as "diverged" when the state leaves the model's domain:
//  * a unit's field variance Var(xhat_i) (sigma^2 Q_ii; g_i^2 under batch norm) exceeds
//    options.divergence_bound times the problem's scale, the largest of 1 and the initial student
//    and teacher field variances (for bounded activations the units are then saturated, the
//    gradient vanishes like Var^-1/2 and Q drifts to its fixed point at infinity, Q ~ t^p, p ~ 0.6;
//    unbounded ones grow exponentially); likewise |w_i|^2 against the largest initial |w|^2, |v|^2;
//  * a norm Q_ii clearly below zero, or a Cauchy–Schwarz inequality R_in^2 <= Q_ii T_nn,
//    Q_ij^2 <= Q_ii Q_jj broken beyond the integration error (the Gram matrix is no longer PSD);
//  * a non-finite state.
// A norm within rounding of zero (an unused unit decaying to J_i = 0) is the boundary of the
// domain, not outside it: that unit's overlaps are taken as zero.
OdeSolution solve(const Model& m, const Eigen::MatrixXd& T, const State& initial, const std::vector<double>& t_out,
                  const OdeOptions& options, int num_threads);

}  // namespace statmech_nn::committee
