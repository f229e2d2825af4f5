// Microscopic simulation of on-line perceptron learning: the real N-dimensional SGD and
// weight-normalisation updates (Yoshida, Karakida, Okada & Amari), several seeds in parallel.
//
// Per step a fresh x with x_i ~ N(0, 1/N), teacher t = g(B.x), student s = g(J.x),
// delta = g'(J.x)(t - s), and
//   SGD: J <- J + eta delta x
//   WN:  J = r V/|V|;  r <- r + eta delta (J.x)/r = r + eta delta (V.x)/|V|,
//        V <- V + eta delta (r/|V| x - (J.x)/|V|^2 V)     (both with the old r, V).
// Initial state (with R0 imposed exactly): B ~ N(0, I) rescaled to |B| = sqrt(N);
// a random unit vector w orthogonal to B; J(0) = sqrt(N) l0 (R0 B/|B| + sqrt(1-R0^2) w) for SGD,
// and r(0) = sqrt(N) l0, V(0) = sqrt(N) z0 (R0 B/|B| + sqrt(1-R0^2) w) for WN.
// Each seed uses the stream Rng(seed, 0) whatever thread runs it (results do not depend on the
// thread count).
//
// The step is one fused pass over i: apply the previous step's update to J_i (or V_i), draw
// x_i, accumulate J.x, B.x, |J|^2 (and J.B at recording steps); nothing else touches memory.
#pragma once

#include "statmech_nn/status.hpp"

#include <cstdint>
#include <vector>

#include "statmech_nn/activation.hpp"
#include "statmech_nn/perceptron.hpp"

namespace statmech_nn::perceptron {

struct SimulationResult {
    std::int64_t n_seeds = 0, n_times = 0;
    // Row-major (n_seeds, n_times); NaN after a run diverged. z stays NaN for SGD.
    std::vector<double> l, R, z, eg;
    std::vector<std::int8_t> status;  // per seed: a Status code (Ok or Diverged)
    std::vector<double> t_stop;       // per seed: time of the last recorded step, or of divergence
};

// record_steps: non-decreasing step counts (time t = step / N) at which l, R, z, eps_g(l, R) are
// recorded. A run diverges (the twin of the ODE's criterion) when its field variance l^2 exceeds
// divergence_bound * max(1, l0^2) or the state turns non-finite (under WN |V| may grow: it is the
// mechanism that lowers the effective learning rate).
SimulationResult simulate(const Activation& g, Rule rule, double eta, double l0, double R0, double z0,
                          std::int64_t N, const std::vector<std::int64_t>& record_steps,
                          const std::vector<std::uint64_t>& seeds, int num_threads,
                          double divergence_bound = 1e4);
SimulationResult simulate(const Setup& setup, std::int64_t N, const std::vector<std::int64_t>& record_steps,
                          const std::vector<std::uint64_t>& seeds, int num_threads, double divergence_bound);

}  // namespace statmech_nn::perceptron
