// Microscopic simulation of the soft committee machine (model in committee_model.hpp): real
// N-dimensional weights trained by mini-batch SGD on b fresh Gaussian samples per step.
//
// Per step the b x N sample block is processed in chunks of rows (a fixed partition that depends
// only on N and b): each chunk draws its inputs from its own random stream (seed, step, chunk),
// computes the fields X = Xi J^T, Y = Xi B^T and the back-propagated errors Delta (rows x K) and
// accumulates the gradient Delta^T Xi. Chunks are dealt to a fixed number of lanes whose partial
// gradients are summed in a fixed order, so results never depend on the thread count. Several
// seeds run in parallel (one per thread); a single seed spreads its lanes over the threads.
//
// With `projected`, each step instead draws the b samples' coordinates in an orthonormal basis of
// span(J, B) (Gram–Schmidt each step) and the orthogonal part of the summed gradient as one Gaussian draw
// with the right covariance: exactly the same Markov chain in distribution, far fewer normals
// when b > K.
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <string>
#include <vector>

#include "statmech_nn/committee_model.hpp"

namespace statmech_nn::committee {

struct SimSettings {
    Model model;
    int N = 1000;
    Eigen::MatrixXd w0;             // K x O initial student second layer
    Eigen::VectorXd g0;             // K initial gains (normalised models)
    Eigen::VectorXd student_scale;  // K: J_i ~ N(0, scale_i^2 / N) componentwise (when J0 is empty)
    Eigen::VectorXd teacher_scale;  // M: B_n ~ N(0, scale_n^2 / N) componentwise (when B0 is empty)
    Eigen::MatrixXd J0, B0;         // optional explicit initial weights (K x N, M x N), shared by all seeds
    std::vector<std::int64_t> record_steps;  // non-decreasing SGD step counts to record at
    std::vector<std::uint64_t> seeds;
    int test_samples = 0;            // > 0: also a Monte-Carlo test error on this many fresh samples
    // Diverged (the ODE's criterion, committee_ode.hpp): a field variance sigma^2 |J_i|^2 (g_i^2
    // with batch norm) beyond divergence_bound times the problem's scale (the largest of 1 and the
    // initial student and teacher field variances), |w_i|^2 likewise against max(1, |w0|^2, |v|^2),
    // or a non-finite state.
    double divergence_bound = 1e4;
    // Projected sampler: draw only the samples' components in span(J, B) and the aggregated
    // orthogonal part of the gradient (same law, b (K + M) + K N normals per step instead of b N).
    bool projected = false;
};

struct SimOutput {
    int n_seeds = 0, n_rec = 0;
    // Stacked (seed, record, ...) row-major; NaN after a divergence.
    std::vector<double> Q, R, g, w, eg, eg_mc, T;
    std::vector<std::string> status;  // per seed: "ok" | "diverged"
    std::vector<std::int64_t> stop_step;  // per seed: last step reached (divergence step if diverged)
};

SimOutput simulate(const SimSettings& settings, int num_threads);

// Seconds to draw n standard normals with NormalLanes in one thread (the simulator's floor;
// for benchmarks).
double normal_fill_seconds(std::int64_t n);

}  // namespace statmech_nn::committee
