// The committee ODE over a grid of points (committee_grid.hpp).
#include <algorithm>
#include <limits>
#include <stdexcept>

#include "statmech_nn/committee_grid.hpp"
#include "statmech_nn/parallel.hpp"

namespace statmech_nn::committee {

OdeSolutionGrid solve_grid(const std::vector<Model>& models, const std::vector<Eigen::MatrixXd>& T,
                           const std::vector<State>& initial, const std::vector<double>& t_out,
                           const OdeOptions& options, int num_threads) {
    const std::size_t n = models.size();
    if (T.size() != n || initial.size() != n)
        throw std::invalid_argument("models, T, initial: must have the same length (one per point)");
    OdeSolutionGrid out;
    out.n_points = static_cast<std::int64_t>(n);
    if (n == 0) return out;
    out.K = models[0].K;
    out.M = models[0].M;
    out.O = models[0].O;
    for (std::size_t i = 0; i < n; ++i) {
        if (models[i].K != out.K || models[i].M != out.M || models[i].O != out.O)
            throw std::invalid_argument("models: every grid point must have the same K, M and O");
        check_state(models[i], T[i], initial[i]);
    }
    std::vector<OdeSolution> runs(n);
    parallel_for(static_cast<std::int64_t>(n), num_threads, [&](std::int64_t i) {
        runs[i] = solve(models[i], T[i], initial[i], t_out, options, 1);
    });
    std::int64_t rows = 0;
    for (const OdeSolution& r : runs) rows = std::max<std::int64_t>(rows, r.n_out);
    out.n_rows_max = rows;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const std::size_t K = out.K, M = out.M, O = out.O, nr = static_cast<std::size_t>(rows);
    out.t.assign(n * nr, nan);
    out.Q.assign(n * nr * K * K, nan);
    out.R.assign(n * nr * K * M, nan);
    out.g.assign(n * nr * K, nan);
    out.w.assign(n * nr * K * O, nan);
    out.eg.assign(n * nr, nan);
    out.n_rows.resize(n);
    out.status.resize(n);
    out.stop_time.resize(n);
    out.n_rhs.resize(n);
    out.n_steps.resize(n);
    auto put = [nr](const std::vector<double>& src, std::vector<double>& dst, std::size_t i, std::size_t per_row) {
        std::copy(src.begin(), src.end(), dst.begin() + i * nr * per_row);
    };
    for (std::size_t i = 0; i < n; ++i) {
        const OdeSolution& r = runs[i];
        put(r.t, out.t, i, 1);
        put(r.Q, out.Q, i, K * K);
        put(r.R, out.R, i, K * M);
        put(r.g, out.g, i, K);
        put(r.w, out.w, i, K * O);
        put(r.eg, out.eg, i, 1);
        out.n_rows[i] = r.n_out;
        out.status[i] = r.status;
        out.stop_time[i] = r.t_stop;
        out.n_rhs[i] = r.n_rhs;
        out.n_steps[i] = r.n_steps;
    }
    return out;
}

}  // namespace statmech_nn::committee
