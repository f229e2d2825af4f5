// The perceptron's order-parameter ODE (perceptron.hpp) on a grid of points: one call evaluates
// every point, in parallel over points (parallel_for: GIL-free, interruptible, progress), each
// point integrated serially by perceptron::integrate -- so every row is bitwise the single-point
// result and nothing depends on the thread count.
#pragma once

#include <cstdint>
#include <vector>

#include "statmech_nn/perceptron.hpp"

namespace statmech_nn::perceptron {

// Trajectories of n_points runs stacked row-major as (n_points, n_rows_max); rows beyond a
// point's own n_rows (a run that stopped early) are NaN.
struct TrajectoryGrid {
    std::int64_t n_points = 0, n_rows_max = 0;
    std::vector<double> t, l, R, z, eg;  // z only for WN (else empty)
    std::vector<std::int64_t> n_rows;
    std::vector<std::int8_t> status;  // Status codes
    std::vector<double> stop_time, event_time;
    std::vector<std::int64_t> n_rhs, n_steps;
};

// Point i integrates (eta[i], l0[i], R0[i], z0[i]) with the shared activation, rule, output times,
// options and eg_threshold (as integrate()). Throws std::invalid_argument (naming the parameter)
// for a bad point before anything runs.
TrajectoryGrid integrate_grid(const Activation& g, Rule rule, const std::vector<double>& eta,
                              const std::vector<double>& l0, const std::vector<double>& R0,
                              const std::vector<double>& z0, const std::vector<double>& t_out,
                              const OdeOptions& options, double eg_threshold, int num_threads);

}  // namespace statmech_nn::perceptron
