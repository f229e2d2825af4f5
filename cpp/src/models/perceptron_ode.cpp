// Order-parameter ODEs of the perceptron (SGD and weight normalisation) and the time to reach a
// given generalisation error on grids of (eta, l0).
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "statmech_nn/parallel.hpp"
#include "statmech_nn/perceptron.hpp"

namespace statmech_nn::perceptron {

namespace {

struct Order {
    double l, R, z;
};

// State -> order parameters. SGD: y = (l^2, l R); WN: y = (l, z R, z^2).
inline Order order_from_state(Rule rule, const double* y) {
    Order o;
    if (rule == Rule::SGD) {
        o.l = std::sqrt(std::max(y[0], 0.0));
        o.R = o.l > 0.0 ? y[1] / o.l : 0.0;
        o.z = std::numeric_limits<double>::quiet_NaN();
    } else {
        o.l = y[0];
        o.z = std::sqrt(std::max(y[2], 0.0));
        o.R = o.z > 0.0 ? y[1] / o.z : 0.0;
    }
    return o;
}

// Evaluates the averages with the closed form when there is one (no std::function detour).
struct AverageEvaluator {
    Activation g;
    bool closed;
    explicit AverageEvaluator(const Activation& act) : g(act), closed(closed_form_available(act)) {}
    Averages operator()(double l, double R) const {
        return closed ? averages_closed(g, l, R, false) : averages(g, l, R);
    }
    double eg(double l, double R) const { return closed ? eg_closed(g, l, R) : generalization_error(g, l, R); }
};

void rhs(Rule rule, const AverageEvaluator& avg, double eta, const double* y, double* dy) {
    const Order o = order_from_state(rule, y);
    const Averages a = avg(o.l, o.R);
    if (rule == Rule::SGD) {
        dy[0] = 2.0 * eta * a.A1 + 2.0 * eta * eta * a.A2;
        dy[1] = eta * a.A3;
    } else {
        const double q = std::max(y[2], std::numeric_limits<double>::min());
        dy[0] = eta * a.A1_over_l;
        dy[1] = eta * o.l * (a.A3 - o.R * a.A1_over_l) / o.z;
        dy[2] = 2.0 * eta * eta * o.l * o.l * a.A2 / q;
    }
}

Eigen::VectorXd initial_state(Rule rule, double l0, double R0, double z0) {
    if (rule == Rule::SGD) {
        Eigen::VectorXd y(2);
        y << l0 * l0, l0 * R0;
        return y;
    }
    Eigen::VectorXd y(3);
    y << l0, z0 * R0, z0 * z0;
    return y;
}

void check_parameters(double eta, double l0, double R0, double z0, Rule rule) {
    if (!(eta > 0.0) || !std::isfinite(eta)) throw std::invalid_argument("eta: must be a finite number > 0");
    if (!(l0 > 0.0) || !std::isfinite(l0)) throw std::invalid_argument("l0: must be a finite number > 0");
    if (!(std::fabs(R0) <= 1.0)) throw std::invalid_argument("R0: must lie in [-1, 1]");
    if (rule == Rule::WN && (!(z0 > 0.0) || !std::isfinite(z0)))
        throw std::invalid_argument("z0: must be a finite number > 0");
}

// The divergence criterion shared with the simulator: the field variance l^2 beyond
// options.divergence_bound times the problem's scale max(1, l0^2) (teacher field variance 1), or a
// non-finite state. Under WN, z growing is the mechanism itself (not bounded).
struct Divergence {
    OdeOptions options;
    OdeDomain outside;
    Divergence(Rule rule, double l0, const OdeOptions& opt) : options(opt) {
        const double bound = opt.divergence_bound * std::max(1.0, l0 * l0);
        options.divergence_bound = std::numeric_limits<double>::infinity();
        if (rule == Rule::SGD) {
            outside = [bound](const double* y) { return !(y[0] <= bound); };
        } else {
            outside = [bound](const double* y) { return !(y[0] * y[0] <= bound) || !std::isfinite(y[2]); };
        }
    }
};

}  // namespace

Trajectory integrate(const Activation& g, Rule rule, double eta, double l0, double R0, double z0,
                     const std::vector<double>& t_out, const OdeOptions& options, double eg_threshold) {
    check_parameters(eta, l0, R0, z0, rule);
    if (t_out.empty()) throw std::invalid_argument("t: must not be empty");
    for (std::size_t i = 0; i < t_out.size(); ++i) {
        if (!std::isfinite(t_out[i])) throw std::invalid_argument("t: must contain only finite values");
        if (i > 0 && !(t_out[i] > t_out[i - 1])) throw std::invalid_argument("t: must be strictly increasing");
    }
    if (t_out[0] < 0.0) throw std::invalid_argument("t: must start at a time >= 0");
    const AverageEvaluator avg(g);
    OdeRhs f = [&](double, const double* y, double* dy) { rhs(rule, avg, eta, y, dy); };
    OdeEvent event = nullptr;
    if (eg_threshold >= 0.0) {
        event = [&](double, const double* y) {
            const Order o = order_from_state(rule, y);
            return avg.eg(o.l, o.R) - eg_threshold;
        };
    }
    const Divergence div(rule, l0, options);
    const OdeResult res = integrate_ode(f, initial_state(rule, l0, R0, z0), t_out, div.options, event, div.outside);
    Trajectory tr;
    tr.status = res.status;
    tr.t_stop = res.t_stop;
    tr.event_time = res.event_time;
    tr.n_rhs = res.n_rhs;
    tr.n_steps = res.n_steps;
    const int n_rows = res.n_out;
    // On an event the stopping point (t_stop, y_stop) is appended as the last row.
    const bool add_stop = res.status == OdeStatus::Event && !(n_rows > 0 && t_out[n_rows - 1] == res.t_stop);
    const int n = n_rows + (add_stop ? 1 : 0);
    tr.t.assign(t_out.begin(), t_out.begin() + n_rows);
    if (add_stop) tr.t.push_back(res.t_stop);
    tr.l.resize(n);
    tr.R.resize(n);
    tr.eg.resize(n);
    if (rule == Rule::WN) tr.z.resize(n);
    for (int i = 0; i < n; ++i) {
        check_interrupt();  // quadrature eg at large |l| costs ~0.05 s per output time
        const Order o = order_from_state(rule, i < n_rows ? res.y.row(i).data() : res.y_stop.data());
        tr.l[i] = o.l;
        tr.R[i] = o.R;
        tr.eg[i] = avg.eg(o.l, o.R);
        if (rule == Rule::WN) tr.z[i] = o.z;
    }
    return tr;
}

void time_to_error(const Activation& g, Rule rule, const double* eta, const double* l0, std::int64_t n,
                   double R0, double z0, double threshold, double t_max, const OdeOptions& options,
                   int num_threads, double* time, double* eta_eff, std::int8_t* status) {
    if (!(threshold > 0.0) || !std::isfinite(threshold)) throw std::invalid_argument("threshold: must be > 0");
    if (!(t_max > 0.0) || !std::isfinite(t_max)) throw std::invalid_argument("t_max: must be a finite number > 0");
    for (std::int64_t i = 0; i < n; ++i) check_parameters(eta[i], l0[i], R0, z0, rule);
    const AverageEvaluator avg(g);
    const std::vector<double> t_out = {0.0, t_max};
    parallel_for(n, num_threads, [&](std::int64_t i) {
        const double e = eta[i];
        OdeRhs f = [&](double, const double* y, double* dy) { rhs(rule, avg, e, y, dy); };
        OdeEvent event = [&](double, const double* y) {
            const Order o = order_from_state(rule, y);
            return avg.eg(o.l, o.R) - threshold;
        };
        const Divergence div(rule, l0[i], options);
        const OdeResult res =
            integrate_ode(f, initial_state(rule, l0[i], R0, z0), t_out, div.options, event, div.outside);
        if (res.status == OdeStatus::Event) {
            time[i] = res.event_time;
            if (rule == Rule::WN) {
                const double q = res.y_stop[2];
                eta_eff[i] = e / q;
            } else {
                eta_eff[i] = e;
            }
            status[i] = static_cast<int>(Status::Ok);  // the threshold was reached
        } else {
            time[i] = std::numeric_limits<double>::infinity();
            eta_eff[i] = std::numeric_limits<double>::quiet_NaN();
            // ran to t_max without reaching the threshold, or ended otherwise
            status[i] = static_cast<int>(res.status == OdeStatus::Ok ? Status::NotReached : res.status);
        }
    });
}

Setup make_setup(const std::string& activation, double slope, const std::string& rule, double eta, double l0,
                 double R0, double z0) {
    Setup s;
    s.activation = Activation::from_name(activation, slope);
    s.rule = rule_from_name(rule);
    check_parameters(eta, l0, R0, z0, s.rule);
    s.eta = eta;
    s.l0 = l0;
    s.R0 = R0;
    s.z0 = z0;
    return s;
}

Trajectory integrate(const Setup& setup, const std::vector<double>& t_out, const OdeOptions& options,
                     double eg_threshold) {
    return integrate(setup.activation, setup.rule, setup.eta, setup.l0, setup.R0, setup.z0, t_out, options,
                     eg_threshold);
}

TimeToErrorGrid time_to_error(const Setup& setup, const std::vector<double>& eta, const std::vector<double>& l0,
                              double threshold, double t_max, const OdeOptions& options, int num_threads) {
    if (eta.size() != l0.size()) throw std::invalid_argument("eta, l0: must have the same length");
    TimeToErrorGrid out;
    const std::size_t n = eta.size();
    out.time.resize(n);
    out.eta_eff.resize(n);
    out.status.resize(n);
    time_to_error(setup.activation, setup.rule, eta.data(), l0.data(), static_cast<std::int64_t>(n), setup.R0,
                  setup.z0, threshold, t_max, options, num_threads, out.time.data(), out.eta_eff.data(),
                  out.status.data());
    return out;
}

}  // namespace statmech_nn::perceptron
