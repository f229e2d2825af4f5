// On-line learning of a perceptron (teacher-student), plain SGD and weight normalisation (WN):
// order-parameter theory (Yoshida, Karakida, Okada & Amari, JSAI; Salimans & Kingma 2016 for WN).
//
// Conventions. x_i ~ N(0, 1/N); teacher t = g(B.x), |B| = sqrt(N); student s = g(J.x),
// |J| = sqrt(N) l, B.J = N l R. The fields u = J.x / l and v = B.x are N(0, [[1, R], [R, 1]]).
// delta0 = g(v) - g(l u), and
//   A1 = <g'(lu) delta0 l u>,  A2 = 1/2 <g'(lu)^2 delta0^2>,  A3 = <g'(lu) delta0 v>,
//   eps_g = 1/2 <delta0^2>.
// Time t = steps / N.
//   SGD, dJ = eta g'(J.x)(t - s) x:
//     d(l^2)/dt = 2 eta A1 + 2 eta^2 A2,   d(lR)/dt = eta A3.
//   WN, J = r V/|V|, r = sqrt(N) l (a signed scalar), |V| = sqrt(N) z, gradient steps on r and V
//   with the same eta:
//     dl/dt = eta A1 / l,   d(zR)/dt = eta (l A3 - R A1) / z,   d(z^2)/dt = 2 eta^2 l^2 A2 / z^2,
//   where under WN R is the cosine between V and B (so J.B = N l R also for l < 0).
// State vectors integrated: SGD (Q, r) = (l^2, l R), smooth through J = 0;
//                           WN  (l, p, q) = (l, z R, z^2), smooth through r = 0.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "statmech_nn/activation.hpp"
#include "statmech_nn/gaussian.hpp"
#include "statmech_nn/integrators.hpp"

namespace statmech_nn::perceptron {

enum class Rule { SGD, WN };
Rule rule_from_name(const std::string& name);  // "sgd" | "wn"; throws std::invalid_argument
std::string to_string(Rule rule);

// The Gaussian averages at (l, R) (l may be negative: a = l u).
struct Averages {
    double A1 = 0.0;
    double A1_over_l = 0.0;  // <g'(lu) delta0 u> = A1 / l, finite at l = 0
    double A2 = 0.0;
    double A3 = 0.0;
    double eg = 0.0;
};

bool closed_form_available(const Activation& g);  // linear, erf, relu, sin, cos, rbf
// Closed forms (linear, erf, relu, sin, cos, rbf; throws std::invalid_argument otherwise). R is clipped to [-1, 1].
// with_eg = false skips eps_g (the ODE right-hand sides do not need it; eg is then 0).
Averages averages_closed(const Activation& g, double l, double R, bool with_eg = true);
double eg_closed(const Activation& g, double l, double R);
// 2-D quadrature (mean2 over (v, u), split at the kinks) for any activation.
// For |l| > 1.25 the outer (v) rule is split into Gauss-Legendre panels of width 1.5/|l| (the
// factor g'(l u) narrows as |l| grows); accuracy ~1e-9 or better (tests).
Averages averages_quadrature(const Activation& g, double l, double R, const QuadratureSettings& qs = {});
std::vector<double> outer_breakpoints(const Activation& g, double l);
// Closed form where there is one, quadrature otherwise.
Averages averages(const Activation& g, double l, double R);
double generalization_error(const Activation& g, double l, double R);

// Constants at the global solution (l, R) = (1, 1), a ~ N(0, 1):
//   G = <g'(a)^2>, H = <g'(a)^2 a^2>, F4 = <g'(a)^4>.
// Linearising the ODEs there (derivatives of A_i by Price's theorem) gives
//   dA1/dl = -H, dA2/dR = -F4, eta_c = 2 G / F4, and
//   SGD  (l, R):    J = [[-eta H, eta (G+H)/2 - eta^2 F4], [0, -eta (2G - eta F4)]]
//   WN   (l, R, z): J = [[-eta H, eta (G+H)/2, 0], [0, -e (2G - e F4), 0], [0, -eta^2 F4 / z^3, 0]],
//   e = eta / z^2 (the effective learning rate of R).
struct FixedPointConstants {
    double G = 0.0, H = 0.0, F4 = 0.0;
};
FixedPointConstants fixed_point_constants(const Activation& g);

// ---- one learning problem ----------------------------------------------------------------------
// The activation, rule, learning rate and initial condition shared by the ODE, the time-to-error
// grid and the simulator.
struct Setup {
    Activation activation = Activation::from_name("erf");
    Rule rule = Rule::SGD;
    double eta = 1.0;
    double l0 = 1.0;   // initial |J| / sqrt(N) (WN: r / sqrt(N))
    double R0 = 0.0;   // initial direction cosine
    double z0 = 0.05;  // initial |V| / sqrt(N) (WN only)
};
// Validated setup; throws std::invalid_argument naming the parameter.
Setup make_setup(const std::string& activation, double slope, const std::string& rule, double eta, double l0,
                 double R0, double z0);

// ---- ODE ----------------------------------------------------------------------------------------
struct Trajectory {
    std::vector<double> t, l, R, z, eg;  // rows reached (+ the event point); z empty for SGD
    OdeStatus status = OdeStatus::Ok;
    double t_stop = 0.0;
    double event_time = 0.0;
    std::int64_t n_rhs = 0, n_steps = 0;
};

// Integrate from t_out[0] (initial state l0, R0, z0 there) to t_out.back(). A finite
// eg_threshold adds the terminal event eps_g <= eg_threshold. The run ends Diverged when the field
// variance l^2 exceeds options.divergence_bound * max(1, l0^2) (the teacher's is 1) or the state is
// not finite; for bounded activations beyond eta_c, l drifts to infinity algebraically (the units
// saturate), for unbounded ones exponentially.
Trajectory integrate(const Activation& g, Rule rule, double eta, double l0, double R0, double z0,
                     const std::vector<double>& t_out, const OdeOptions& options,
                     double eg_threshold = -1.0);

Trajectory integrate(const Setup& setup, const std::vector<double>& t_out, const OdeOptions& options,
                     double eg_threshold = -1.0);

// Time at which eps_g first falls to `threshold`, for n (eta, l0) pairs, in parallel over the
// pairs. time = +inf when it is not reached by t_max (status: 1 reached, 0 not reached by t_max,
// 2 diverged, 3 max_steps, 4 step_too_small). eta_eff = eta / z^2 at the crossing (WN) or eta (SGD),
// NaN when not reached.
void time_to_error(const Activation& g, Rule rule, const double* eta, const double* l0, std::int64_t n,
                   double R0, double z0, double threshold, double t_max, const OdeOptions& options,
                   int num_threads, double* time, double* eta_eff, std::int8_t* status);

// The same over the grid of (eta[i], l0[i]); setup.eta and setup.l0 are ignored.
struct TimeToErrorGrid {
    std::vector<double> time, eta_eff;
    std::vector<std::int8_t> status;  // 1 reached, 0 not reached by t_max, 2 diverged, 3 max_steps, 4 step_too_small
};
TimeToErrorGrid time_to_error(const Setup& setup, const std::vector<double>& eta, const std::vector<double>& l0,
                              double threshold, double t_max, const OdeOptions& options, int num_threads);

}  // namespace statmech_nn::perceptron
