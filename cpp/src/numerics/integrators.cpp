#include "statmech_nn/integrators.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <stdexcept>

#include "statmech_nn/parallel.hpp"
#include "statmech_nn/rkc.hpp"

namespace statmech_nn {

std::string to_string(OdeStatus status) { return status_name(status); }

OdeMethod ode_method_from_name(const std::string& name) {
    if (name == "dopri5" || name == "rk45" || name == "dormand_prince") return OdeMethod::DormandPrince;
    if (name == "rkc") return OdeMethod::RKC;
    if (name == "rk4") return OdeMethod::RK4;
    if (name == "euler") return OdeMethod::Euler;
    throw std::invalid_argument("method: unknown integrator '" + name + "' (use 'dopri5', 'rkc', 'rk4' or 'euler')");
}

OdeOptions make_ode_options(const std::string& method, double rtol, double atol, double dt, double max_step,
                            std::int64_t max_steps, double divergence_bound) {
    OdeOptions opt;
    opt.method = ode_method_from_name(method);
    if (!(rtol > 0.0) || !std::isfinite(rtol)) throw std::invalid_argument("rtol: must be a finite number > 0");
    if (!(atol >= 0.0) || !std::isfinite(atol)) throw std::invalid_argument("atol: must be a finite number >= 0");
    if (std::isnan(dt) || std::isinf(dt)) throw std::invalid_argument("dt: must be finite");
    if (!is_adaptive(opt.method) && !(dt > 0.0))
        throw std::invalid_argument("dt: a fixed-step method needs dt > 0");
    if (!(max_step > 0.0)) throw std::invalid_argument("max_step: must be > 0");
    if (max_steps < 1) throw std::invalid_argument("max_steps: must be >= 1");
    if (!(divergence_bound > 0.0)) throw std::invalid_argument("divergence_bound: must be > 0");
    opt.rtol = rtol;
    opt.atol = atol;
    opt.dt = dt;
    opt.max_step = max_step;
    opt.max_steps = max_steps;
    opt.divergence_bound = divergence_bound;
    return opt;
}

namespace {

using Vec = Eigen::VectorXd;

// Dormand–Prince 5(4) coefficients (Dormand & Prince 1980; dense output of Hairer's DOPRI5).
constexpr double c2 = 1.0 / 5, c3 = 3.0 / 10, c4 = 4.0 / 5, c5 = 8.0 / 9;
constexpr double a21 = 1.0 / 5;
constexpr double a31 = 3.0 / 40, a32 = 9.0 / 40;
constexpr double a41 = 44.0 / 45, a42 = -56.0 / 15, a43 = 32.0 / 9;
constexpr double a51 = 19372.0 / 6561, a52 = -25360.0 / 2187, a53 = 64448.0 / 6561, a54 = -212.0 / 729;
constexpr double a61 = 9017.0 / 3168, a62 = -355.0 / 33, a63 = 46732.0 / 5247, a64 = 49.0 / 176,
                 a65 = -5103.0 / 18656;
constexpr double a71 = 35.0 / 384, a73 = 500.0 / 1113, a74 = 125.0 / 192, a75 = -2187.0 / 6784,
                 a76 = 11.0 / 84;
constexpr double e1 = 71.0 / 57600, e3 = -71.0 / 16695, e4 = 71.0 / 1920, e5 = -17253.0 / 339200,
                 e6 = 22.0 / 525, e7 = -1.0 / 40;
constexpr double d1 = -12715105075.0 / 11282082432.0, d3 = 87487479700.0 / 32700410799.0,
                 d4 = -10690763975.0 / 1880347072.0, d5 = 701980252875.0 / 199316789632.0,
                 d6 = -1453857185.0 / 822651844.0, d7 = 69997945.0 / 29380423.0;

struct StepData {
    double t0 = 0, t1 = 0;
    Vec y0, y1, f0, f1;
    Vec r3, r4, r5;  // Dormand–Prince dense-output coefficients
};

class Interpolant {
public:
    explicit Interpolant(OdeMethod m) : method_(m) {}
    void eval(const StepData& s, double t, Vec& out) const {
        const double h = s.t1 - s.t0;
        if (t >= s.t1 || h == 0.0) { out = s.y1; return; }
        if (t <= s.t0) { out = s.y0; return; }
        const double th = (t - s.t0) / h, th1 = 1.0 - th;
        switch (method_) {
            case OdeMethod::DormandPrince:
                out = s.y0 + th * ((s.y1 - s.y0) + th1 * (s.r3 + th * (s.r4 + th1 * s.r5)));
                break;
            case OdeMethod::RKC:
            case OdeMethod::RK4: {
                // Cubic Hermite.
                const double h00 = (1 + 2 * th) * th1 * th1, h10 = th * th1 * th1;
                const double h01 = th * th * (3 - 2 * th), h11 = -th * th * th1;
                out = h00 * s.y0 + (h10 * h) * s.f0 + h01 * s.y1 + (h11 * h) * s.f1;
                break;
            }
            case OdeMethod::Euler: out = th1 * s.y0 + th * s.y1; break;
        }
    }

private:
    OdeMethod method_;
};

bool diverged(const Vec& y, double bound) {
    for (Eigen::Index i = 0; i < y.size(); ++i) {
        if (!std::isfinite(y[i]) || std::abs(y[i]) > bound) return true;
    }
    return false;
}

double error_norm(const Vec& err, const Vec& y0, const Vec& y1, double rtol, double atol) {
    double acc = 0.0;
    for (Eigen::Index i = 0; i < err.size(); ++i) {
        // Floor: a component that sits at 0 with atol = 0 is measured against the smallest normal
        // double instead of dividing by zero (0/0 would make every trial step non-finite).
        const double sc = std::max(atol + rtol * std::max(std::abs(y0[i]), std::abs(y1[i])),
                                   std::numeric_limits<double>::min());
        const double r = err[i] / sc;
        acc += r * r;
    }
    return std::sqrt(acc / std::max<Eigen::Index>(1, err.size()));
}

}  // namespace

OdeResult integrate_ode(const OdeRhs& rhs, const Vec& y0_in, const std::vector<double>& t_out,
                        const OdeOptions& opt, const OdeEvent& event, const OdeDomain& outside) {
    if (t_out.empty()) throw std::invalid_argument("t: needs at least one time");
    for (size_t k = 0; k < t_out.size(); ++k) {
        if (!std::isfinite(t_out[k])) throw std::invalid_argument("t: times must be finite");
        if (std::abs(t_out[k]) > kMaxOdeTime)
            throw std::invalid_argument("t: times beyond 1e15 in magnitude are not supported (the spacing of "
                                        "doubles there exceeds 0.1, so steps would stagnate)");
        if (k > 0 && !(t_out[k] >= t_out[k - 1])) throw std::invalid_argument("t: must be non-decreasing");
    }
    if (y0_in.size() == 0) throw std::invalid_argument("y0: the state must not be empty");
    if (!y0_in.allFinite()) throw std::invalid_argument("y0: the initial state must be finite");
    if (!is_adaptive(opt.method) && !(opt.dt > 0.0)) throw std::invalid_argument("dt: must be > 0");
    if (!(opt.rtol > 0.0) || !(opt.atol >= 0.0)) throw std::invalid_argument("rtol/atol: must be positive");
    if (opt.max_steps < 1) throw std::invalid_argument("max_steps: must be >= 1");

    // A run that cannot reach the last time within its step budget whatever happens (no event to
    // stop it earlier) is refused up front instead of grinding through max_steps tiny steps.
    const double span = t_out.back() - t_out.front();
    const double budget = static_cast<double>(opt.max_steps) * (1.0 + 1e-9) + 1.0;
    if (!event && span > 0.0) {
        if (is_adaptive(opt.method) && std::isfinite(opt.max_step) && span / opt.max_step > budget)
            throw std::invalid_argument("max_step: reaching t[-1] with steps <= max_step needs more than max_steps = " +
                                        std::to_string(opt.max_steps) + " steps");
        if (!is_adaptive(opt.method) && span / opt.dt > budget)
            throw std::invalid_argument("dt: reaching t[-1] with this fixed step needs more than max_steps = " +
                                        std::to_string(opt.max_steps) + " steps");
    }

    const Eigen::Index n = y0_in.size();
    const size_t n_times = t_out.size();
    OdeResult res;
    res.y.resize(static_cast<Eigen::Index>(n_times), n);
    const Interpolant interp(opt.method);

    StepData s;
    s.t1 = t_out[0];
    s.y1 = y0_in;
    s.f1.resize(n);
    rhs(s.t1, s.y1.data(), s.f1.data());
    res.n_rhs = 1;

    size_t next_out = 0;
    auto record_until = [&](double t_limit, bool inclusive) {
        Vec tmp(n);
        while (next_out < n_times && (inclusive ? t_out[next_out] <= t_limit : t_out[next_out] < t_limit)) {
            interp.eval(s, t_out[next_out], tmp);
            res.y.row(static_cast<Eigen::Index>(next_out)) = tmp.transpose();
            ++next_out;
        }
    };
    auto finish = [&](OdeStatus st, double t_stop, const Vec& y_stop) {
        res.status = st;
        res.t_stop = t_stop;
        res.y_stop = y_stop;
        res.n_out = static_cast<int>(next_out);
        res.y.conservativeResize(res.n_out, n);
        return res;
    };

    s.t0 = s.t1;
    s.y0 = s.y1;
    s.f0 = s.f1;
    if (diverged(s.y1, opt.divergence_bound) || (outside && outside(s.y1.data())) || !s.f1.allFinite())
        return finish(OdeStatus::Diverged, s.t1, s.y1);
    record_until(s.t1, true);
    double ev_prev = 0.0;
    if (event) {
        ev_prev = event(s.t1, s.y1.data());
        if (ev_prev <= 0.0) {
            res.event_time = s.t1;
            return finish(OdeStatus::Event, s.t1, s.y1);
        }
    }

    const double t_end = t_out.back();
    double t = s.t1;
    Vec y = s.y1, f = s.f1;
    Vec k2(n), k3(n), k4(n), k5(n), k6(n), k7(n), ytmp(n), ynew(n), err(n);

    // RKC: spectral radius estimate (refreshed every 25 accepted steps and after a rejection), its
    // direction, the largest stage count (rounding errors grow like s^2 eps: Sommeijer et al.'s
    // bound sqrt(rtol / (10 eps)); at most kMaxRkcStages, so that max_steps bounds the work) and
    // the previous accepted step for the step-size controller.
    double rho = 0.0;
    Vec rho_direction;
    bool rho_stale = true;
    int rho_age = 0;
    const int max_stages = static_cast<int>(std::clamp(
        std::round(std::sqrt(opt.rtol / (10.0 * std::numeric_limits<double>::epsilon()))), 2.0,
        static_cast<double>(kMaxRkcStages)));
    double err_prev = 0.0, h_prev = 0.0;
    auto refresh_rho = [&]() {
        rho = rkc::spectral_radius(rhs, t, y, f, rho_direction, res.n_rhs);
        rho_stale = false;
        rho_age = 0;
    };

    // Step size.
    double h = 0.0;
    if (opt.method == OdeMethod::RKC) {
        refresh_rho();
        if (opt.dt > 0.0) {
            h = opt.dt;
        } else {
            // Sommeijer et al.'s initial step: an explicit Euler step of length min(max_step, 1 / rho)
            // and its local error estimate.
            const double hmax = std::min(opt.max_step, std::max(t_end - t, 1e-300));
            double h0 = hmax;
            if (rho * h0 > 1.0) h0 = 1.0 / rho;
            ytmp = y + h0 * f;
            rhs(t + h0, ytmp.data(), k2.data());
            ++res.n_rhs;
            Vec sc = (opt.atol + opt.rtol * y.array().abs()).max(std::numeric_limits<double>::min()).matrix();
            const double est = h0 * std::sqrt((((k2 - f).array()) / sc.array()).square().mean());
            h = 0.1 * h0 < hmax * std::sqrt(est) ? 0.1 * h0 / std::sqrt(est) : hmax;
            if (!std::isfinite(h) || !(h > 0.0)) h = std::isfinite(h0) && h0 > 0.0 ? 1e-3 * h0 : 1e-6;
        }
    } else if (opt.method == OdeMethod::DormandPrince) {
        if (opt.dt > 0.0) {
            h = opt.dt;
        } else {
            // Hairer's initial step.
            Vec sc = (opt.atol + opt.rtol * y.array().abs()).max(std::numeric_limits<double>::min()).matrix();
            const double dn0 = std::sqrt((y.array() / sc.array()).square().mean());
            const double dn1 = std::sqrt((f.array() / sc.array()).square().mean());
            double h0 = (dn0 < 1e-5 || dn1 < 1e-5) ? 1e-6 : 0.01 * dn0 / dn1;
            h0 = std::min(h0, std::max(t_end - t, 1e-12));
            ytmp = y + h0 * f;
            rhs(t + h0, ytmp.data(), k2.data());
            ++res.n_rhs;
            const double dn2 = std::sqrt((((k2 - f).array()) / sc.array()).square().mean()) / h0;
            const double m = std::max(dn1, dn2);
            const double h1 = m <= 1e-15 ? std::max(1e-6, h0 * 1e-3) : std::pow(0.01 / m, 1.0 / 5.0);
            h = std::min(100.0 * h0, h1);
            // Overflowing or degenerate estimates (a huge right-hand side, 0/0): start small and let
            // the step control grow it; a step that cannot advance t ends as step_too_small below.
            if (!std::isfinite(h) || !(h > 0.0)) h = std::isfinite(h0) && h0 > 0.0 ? h0 : 1e-6;
        }
    } else {
        h = opt.dt;
    }
    h = std::min(h, opt.max_step);

    // A rejected trial step of an adaptive method: retry with step `h_new`; true when that step can
    // no longer advance t (the run then ends as step_too_small).
    bool last_rejected = false;
    auto reject = [&](double h_new) {
        h = h_new;
        ++res.n_rejected;
        last_rejected = true;
        return !(h >= 1e-14 * std::max(1.0, std::abs(t))) || !(t + h > t);
    };
    // A trial step of step size hs with a non-finite error estimate: a genuine blow-up (diverged), or
    // a step far too large (retry at a tenth; step_too_small when that cannot advance t).
    auto nonfinite_trial = [&](double hs) -> std::optional<OdeStatus> {
        if (diverged(y, opt.divergence_bound * 1e-3) || hs < 1e-10 * std::max(1.0, std::abs(t))) return OdeStatus::Diverged;
        h = 0.1 * hs;
        ++res.n_rejected;
        last_rejected = true;
        if (!(t + h > t)) return OdeStatus::StepTooSmall;
        return std::nullopt;
    };

    while (t < t_end) {
        check_interrupt();
        // Every attempted step (accepted or rejected) counts toward the budget.
        if (res.n_steps + res.n_rejected >= opt.max_steps) return finish(OdeStatus::MaxSteps, t, y);
        if (opt.method == OdeMethod::RKC) {
            if (rho_stale) refresh_rho();
            // The stage count stays within max_stages (the step shrinks instead).
            if (rho > 0.0) h = std::min(h, rkc::max_h_rho(max_stages) / rho);
        }
        double hs = std::min(h, t_end - t);
        if (!is_adaptive(opt.method) && t_end - t < h * (1.0 + 1e-9)) hs = t_end - t;
        const double t_new = (hs == t_end - t) ? t_end : t + hs;
        hs = t_new - t;
        // Stagnation: the step no longer advances t (NaN, zero, subnormal or below the spacing of
        // doubles at t).
        if (!(hs > 0.0) || !(t_new > t)) return finish(OdeStatus::StepTooSmall, t, y);

        if (opt.method == OdeMethod::DormandPrince) {
            ytmp = y + hs * a21 * f;
            rhs(t + c2 * hs, ytmp.data(), k2.data());
            ytmp = y + hs * (a31 * f + a32 * k2);
            rhs(t + c3 * hs, ytmp.data(), k3.data());
            ytmp = y + hs * (a41 * f + a42 * k2 + a43 * k3);
            rhs(t + c4 * hs, ytmp.data(), k4.data());
            ytmp = y + hs * (a51 * f + a52 * k2 + a53 * k3 + a54 * k4);
            rhs(t + c5 * hs, ytmp.data(), k5.data());
            ytmp = y + hs * (a61 * f + a62 * k2 + a63 * k3 + a64 * k4 + a65 * k5);
            rhs(t_new, ytmp.data(), k6.data());
            ynew = y + hs * (a71 * f + a73 * k3 + a74 * k4 + a75 * k5 + a76 * k6);
            rhs(t_new, ynew.data(), k7.data());
            res.n_rhs += 6;
            err = hs * (e1 * f + e3 * k3 + e4 * k4 + e5 * k5 + e6 * k6 + e7 * k7);
            double en = error_norm(err, y, ynew, opt.rtol, opt.atol);
            if (!std::isfinite(en)) {
                if (const auto st = nonfinite_trial(hs)) return finish(*st, t, y);
                continue;
            }
            if (en > 1.0) {
                if (reject(hs * std::max(0.2, 0.9 * std::pow(en, -0.2)))) return finish(OdeStatus::StepTooSmall, t, y);
                continue;
            }
            double fac = en == 0.0 ? 10.0 : std::min(10.0, std::max(0.2, 0.9 * std::pow(en, -0.2)));
            if (last_rejected) fac = std::min(fac, 1.0);
            last_rejected = false;
            s.t0 = t;
            s.t1 = t_new;
            s.y0 = y;
            s.f0 = f;
            s.y1 = ynew;
            s.f1 = k7;
            const Vec ydiff = ynew - y;
            s.r3 = hs * f - ydiff;
            s.r4 = ydiff - hs * k7 - s.r3;
            s.r5 = hs * (d1 * f + d3 * k3 + d4 * k4 + d5 * k5 + d6 * k6 + d7 * k7);
            h = std::min(hs * fac, opt.max_step);
            if (t_new == t_end && hs < h) h = std::max(h, hs);
        } else if (opt.method == OdeMethod::RKC) {
            const int stages = std::min(max_stages, rkc::stages_for(hs * rho));
            const rkc::StageCoefficients co = rkc::stage_coefficients(stages);
            // k2 = Y_{j-2}, k3 = Y_{j-1}, k4 = Y_j, k5 = F(Y_{j-1}).
            k2 = y;
            k3 = y + (hs * co.mu1) * f;
            for (int j = 2; j <= stages; ++j) {
                if ((j & 63) == 0) check_interrupt();
                rhs(t + co.c[j - 1] * hs, k3.data(), k5.data());
                k4 = (1.0 - co.mu[j] - co.nu[j]) * y + co.mu[j] * k3 + co.nu[j] * k2 +
                     (hs * co.mus[j]) * k5 + (hs * co.gam[j]) * f;
                std::swap(k2, k3);
                std::swap(k3, k4);
            }
            ynew = k3;
            k7.resize(n);
            rhs(t_new, ynew.data(), k7.data());
            res.n_rhs += stages;
            // Sommeijer et al.'s local error estimate (1/15) [12 (y_n - y_{n+1}) + 6 h (f_n + f_{n+1})].
            err = (12.0 / 15.0) * (y - ynew) + (6.0 / 15.0) * hs * (f + k7);
            const double en = error_norm(err, y, ynew, opt.rtol, opt.atol);
            if (!std::isfinite(en)) {
                rho_stale = true;
                if (const auto st = nonfinite_trial(hs)) return finish(*st, t, y);
                continue;
            }
            if (en > 1.0) {
                // A rejection may mean an outdated spectral radius (unless it was just estimated).
                if (rho_age > 0) rho_stale = true;
                if (reject(hs * std::max(0.1, 0.8 / std::cbrt(en)))) return finish(OdeStatus::StepTooSmall, t, y);
                continue;
            }
            // Sommeijer et al.'s controller: 0.8 (h_n / h_{n-1}) err_{n-1}^{1/3} / err_n^{2/3} after
            // the first step, 0.8 err^{-1/3} before; factors between 0.1 and 10.
            double fac = 10.0;
            if (en > 0.0) {
                const double pred = h_prev > 0.0 && err_prev > 0.0
                                        ? 0.8 * (hs / h_prev) * std::cbrt(err_prev) / std::pow(en, 2.0 / 3.0)
                                        : 0.8 / std::cbrt(en);
                fac = std::min(10.0, std::max(0.1, pred));
            }
            if (last_rejected) fac = std::min(fac, 1.0);
            last_rejected = false;
            err_prev = en;
            h_prev = hs;
            if (++rho_age >= 25) rho_stale = true;
            s.t0 = t; s.t1 = t_new; s.y0 = y; s.f0 = f; s.y1 = ynew; s.f1 = k7;
            h = std::min(hs * fac, opt.max_step);
        } else if (opt.method == OdeMethod::RK4) {
            ytmp = y + 0.5 * hs * f;
            rhs(t + 0.5 * hs, ytmp.data(), k2.data());
            ytmp = y + 0.5 * hs * k2;
            rhs(t + 0.5 * hs, ytmp.data(), k3.data());
            ytmp = y + hs * k3;
            rhs(t_new, ytmp.data(), k4.data());
            ynew = y + (hs / 6.0) * (f + 2.0 * k2 + 2.0 * k3 + k4);
            s.t0 = t; s.t1 = t_new; s.y0 = y; s.f0 = f; s.y1 = ynew;
            s.f1.resize(n);
            if (!diverged(ynew, opt.divergence_bound)) rhs(t_new, ynew.data(), s.f1.data());
            res.n_rhs += 4;
        } else {
            ynew = y + hs * f;
            s.t0 = t; s.t1 = t_new; s.y0 = y; s.f0 = f; s.y1 = ynew;
            s.f1.resize(n);
            if (!diverged(ynew, opt.divergence_bound)) rhs(t_new, ynew.data(), s.f1.data());
            res.n_rhs += 1;
        }
        ++res.n_steps;

        if (diverged(s.y1, opt.divergence_bound)) return finish(OdeStatus::Diverged, t_new, s.y1);
        if (outside && outside(s.y1.data())) {
            // The last valid state is the start of this step; output times inside it are not kept.
            return finish(OdeStatus::Diverged, t_new, s.y1);
        }

        if (event) {
            const double ev_new = event(t_new, s.y1.data());
            if (ev_new <= 0.0) {
                // Illinois (regula falsi) on the dense output.
                double ta = t, tb = t_new, fa = ev_prev, fb = ev_new;
                Vec yi(n);
                int side = 0;
                for (int it = 0; it < 200 && tb - ta > 1e-13 * std::max(1.0, std::abs(tb)); ++it) {
                    double tm = (fa - fb) != 0.0 ? tb - fb * (tb - ta) / (fb - fa) : 0.5 * (ta + tb);
                    if (!(tm > ta && tm < tb)) tm = 0.5 * (ta + tb);
                    interp.eval(s, tm, yi);
                    const double fm = event(tm, yi.data());
                    if (fm <= 0.0) {
                        tb = tm; fb = fm;
                        if (side == -1) fa *= 0.5;
                        side = -1;
                    } else {
                        ta = tm; fa = fm;
                        if (side == 1) fb *= 0.5;
                        side = 1;
                    }
                }
                interp.eval(s, tb, yi);
                record_until(tb, true);
                res.event_time = tb;
                return finish(OdeStatus::Event, tb, yi);
            }
            ev_prev = ev_new;
        }

        record_until(t_new, true);
        t = t_new;
        y = s.y1;
        f = s.f1;
    }
    return finish(OdeStatus::Ok, t, y);
}

}  // namespace statmech_nn
