// ODE integrators shared by every order-parameter model.
//
// * Dormand–Prince 5(4) with adaptive steps (rtol/atol, Hairer's error norm) and its 4th-order
//   dense output, so that output times never shorten a step;
// * the second-order Runge–Kutta–Chebyshev method (RKC; Sommeijer, Shampine & Verwer 1997) with
//   adaptive steps and stage counts: a stabilised explicit method whose real stability interval
//   grows like the square of the number of stages (the spectral radius of the Jacobian comes from
//   a nonlinear power iteration, refreshed every 25 steps and after a rejection), for long
//   horizons of mildly stiff problems with real eigenvalues at modest accuracy; cubic Hermite
//   dense output from the step's end values and derivatives;
// * classical RK4 and explicit Euler with a fixed step dt (what the field's scripts use), with
//   cubic Hermite (RK4) or linear (Euler) interpolation at the output times;
// * a terminal event: the integration stops where event(t, y) first becomes <= 0 (located on
//   the dense output to ~1e-12 relative); an event already <= 0 at t0 stops at t0;
// * divergence detection: a non-finite state, max|y| > divergence_bound or a state outside the
//   model's domain (an optional OdeDomain check, e.g. a norm far beyond the problem's scale or a
//   Gram matrix that is no longer positive semidefinite) stops the run with status Diverged and
//   the time it happened.
#pragma once

#include "statmech_nn/status.hpp"

#include <Eigen/Dense>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace statmech_nn {

// Largest |t| an integration accepts: beyond it the spacing of doubles exceeds 0.1.
constexpr double kMaxOdeTime = 1e15;

enum class OdeMethod { DormandPrince, RKC, RK4, Euler };

// Most stages of one RKC step (stability interval ~0.65 s^2 h rho covers h rho <= 6.5e5): a step
// costs at most this many right-hand sides, so max_steps bounds the work; stiffer problems take
// proportionally smaller steps.
constexpr int kMaxRkcStages = 1000;

// Adaptive methods (rtol/atol control the step): Dormand–Prince and RKC.
inline bool is_adaptive(OdeMethod m) { return m == OdeMethod::DormandPrince || m == OdeMethod::RKC; }

// Run statuses of the one vocabulary (status.hpp): Ok (reached the last output time), Event (the
// event function crossed zero), Diverged (non-finite state, beyond divergence_bound or outside the
// domain), MaxSteps (max_steps attempted steps, accepted + rejected, exhausted), StepTooSmall (the
// adaptive step collapsed below ~1e-14 |t| or no longer advances t).
using OdeStatus = Status;

std::string to_string(OdeStatus status);  // the package's status words: "ok", "event", ...
OdeMethod ode_method_from_name(const std::string& name);  // "dopri5" | "rkc" | "rk4" | "euler"

struct OdeOptions {
    OdeMethod method = OdeMethod::DormandPrince;
    double rtol = 1e-8;
    double atol = 1e-10;
    double dt = 0.01;  // fixed step (RK4/Euler); first trial step of the adaptive methods if > 0
    double max_step = std::numeric_limits<double>::infinity();
    std::int64_t max_steps = 100000000;
    double divergence_bound = 1e8;
};

struct OdeResult {
    OdeStatus status = OdeStatus::Ok;
    // Rows of y for the output times that were reached (n_out <= t_out.size()).
    Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> y;
    int n_out = 0;
    double t_stop = 0.0;  // where the integration ended (last output, event or divergence time)
    Eigen::VectorXd y_stop;  // the state there
    double event_time = std::numeric_limits<double>::quiet_NaN();
    std::int64_t n_rhs = 0;
    std::int64_t n_steps = 0;
    std::int64_t n_rejected = 0;
};

// Validated options from the values every binding receives; throws std::invalid_argument naming
// the parameter. dt <= 0 means "choose" for the adaptive methods and is an error for RK4/Euler.
OdeOptions make_ode_options(const std::string& method, double rtol, double atol, double dt, double max_step,
                            std::int64_t max_steps, double divergence_bound);

// dy/dt = rhs(t, y) writes dydt (length n). It may throw.
using OdeRhs = std::function<void(double t, const double* y, double* dydt)>;
// Terminal event: stop where event(t, y) <= 0.
using OdeEvent = std::function<double(double t, const double* y)>;
// Domain check of an accepted state: true when y has left the model's domain (then the run ends
// as Diverged at that step, the state before it being the last valid one).
using OdeDomain = std::function<bool(const double* y)>;

// Integrate from t_out[0] (the initial time, y0 there) to t_out.back(), recording y at every
// t_out (non-decreasing, finite, |t| <= kMaxOdeTime). y0 must be non-empty and finite
// (std::invalid_argument otherwise). A non-finite right-hand side at t_out[0] ends as Diverged
// there; later non-finite trial steps are retried smaller and end as Diverged or StepTooSmall.
// Without an event, a max_step (adaptive methods) or dt (RK4/Euler) that cannot reach t_out.back()
// within max_steps steps is an invalid_argument naming it.
// Long runs poll check_interrupt().
OdeResult integrate_ode(const OdeRhs& rhs, const Eigen::VectorXd& y0, const std::vector<double>& t_out,
                        const OdeOptions& options, const OdeEvent& event = nullptr,
                        const OdeDomain& outside = nullptr);

}  // namespace statmech_nn
