// The perceptron ODE over a grid of points (perceptron_grid.hpp).
#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

#include "statmech_nn/parallel.hpp"
#include "statmech_nn/perceptron_grid.hpp"

namespace statmech_nn::perceptron {

TrajectoryGrid integrate_grid(const Activation& g, Rule rule, const std::vector<double>& eta,
                              const std::vector<double>& l0, const std::vector<double>& R0,
                              const std::vector<double>& z0, const std::vector<double>& t_out,
                              const OdeOptions& options, double eg_threshold, int num_threads) {
    const std::size_t n = eta.size();
    if (l0.size() != n || R0.size() != n || z0.size() != n)
        throw std::invalid_argument("eta, l0, R0, z0: must have the same length (one value per point)");
    for (std::size_t i = 0; i < n; ++i) {
        // the checks of make_setup, before any point runs
        try {
            (void)make_setup("linear", 0.0, to_string(rule), eta[i], l0[i], R0[i], z0[i]);
        } catch (const std::invalid_argument& e) {
            throw std::invalid_argument(std::string(e.what()) + " (grid point " + std::to_string(i) + ")");
        }
    }
    std::vector<Trajectory> runs(n);
    parallel_for(static_cast<std::int64_t>(n), num_threads, [&](std::int64_t i) {
        runs[i] = integrate(g, rule, eta[i], l0[i], R0[i], z0[i], t_out, options, eg_threshold);
    });
    TrajectoryGrid out;
    out.n_points = static_cast<std::int64_t>(n);
    std::int64_t rows = 0;
    for (const Trajectory& r : runs) rows = std::max<std::int64_t>(rows, static_cast<std::int64_t>(r.t.size()));
    out.n_rows_max = rows;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const std::size_t size = n * static_cast<std::size_t>(rows);
    out.t.assign(size, nan);
    out.l.assign(size, nan);
    out.R.assign(size, nan);
    out.eg.assign(size, nan);
    if (rule == Rule::WN) out.z.assign(size, nan);
    out.n_rows.resize(n);
    out.status.resize(n);
    out.stop_time.resize(n);
    out.event_time.resize(n);
    out.n_rhs.resize(n);
    out.n_steps.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        const Trajectory& r = runs[i];
        const std::size_t base = i * static_cast<std::size_t>(rows);
        std::copy(r.t.begin(), r.t.end(), out.t.begin() + base);
        std::copy(r.l.begin(), r.l.end(), out.l.begin() + base);
        std::copy(r.R.begin(), r.R.end(), out.R.begin() + base);
        std::copy(r.eg.begin(), r.eg.end(), out.eg.begin() + base);
        if (rule == Rule::WN) std::copy(r.z.begin(), r.z.end(), out.z.begin() + base);
        out.n_rows[i] = static_cast<std::int64_t>(r.t.size());
        out.status[i] = static_cast<std::int8_t>(r.status);
        out.stop_time[i] = r.t_stop;
        out.event_time[i] = r.event_time;
        out.n_rhs[i] = r.n_rhs;
        out.n_steps[i] = r.n_steps;
    }
    return out;
}

}  // namespace statmech_nn::perceptron
