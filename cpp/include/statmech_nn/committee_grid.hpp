// The committee machine's order-parameter ODE (committee_ode.hpp) on a grid of points: one call
// evaluates every point, in parallel over points (parallel_for: GIL-free, interruptible,
// progress), each point solved serially by committee::solve(..., num_threads = 1) -- so every
// row is bitwise the single-point result and nothing depends on the thread count.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "statmech_nn/committee_ode.hpp"

namespace statmech_nn::committee {

// Solutions of n_points runs stacked row-major: t (n_points, n_rows_max), Q (..., K, K),
// R (..., K, M), g (..., K), w (..., K, O), eg (n_points, n_rows_max); rows beyond a point's own
// n_rows (a run that stopped early) are NaN. Every point has the same K, M and O.
struct OdeSolutionGrid {
    std::int64_t n_points = 0, n_rows_max = 0;
    int K = 0, M = 0, O = 0;
    std::vector<double> t, Q, R, g, w, eg;
    std::vector<std::int64_t> n_rows;
    std::vector<std::string> status;
    std::vector<double> stop_time;
    std::vector<std::int64_t> n_rhs, n_steps;
};

// Point i solves (models[i], T[i], initial[i]) with the shared output times and options.
// Throws std::invalid_argument for sizes that differ or a bad point (before anything runs).
OdeSolutionGrid solve_grid(const std::vector<Model>& models, const std::vector<Eigen::MatrixXd>& T,
                           const std::vector<State>& initial, const std::vector<double>& t_out,
                           const OdeOptions& options, int num_threads);

}  // namespace statmech_nn::committee
