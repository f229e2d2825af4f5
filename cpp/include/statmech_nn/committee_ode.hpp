// Order-parameter ODEs of the soft committee machine (see committee_model.hpp for the model),
// derived from the microscopic update in the limit N -> infinity at fixed b:
//
//   delta_i = phi'(xhat_i) w_i . (t - s),   xhat_i = c_i x_i,  S_ib = <delta_i z_b>,  P_ij = <delta_i delta_j>
//   dQ_ij/dt = eta [ (c_i/c_j) S_ij + (c_j/c_i) S_ji ] + eta^2 sigma^2 c_i c_j P_ij / b
//   dR_in/dt = eta c_i S_i,(K+n)
//   dg_i/dt  = eta S_ii / g_i                                   (batch norm)
//   dw_i/dt  = eta_w [ sum_n v_n I2(xhat_i, y_n) - sum_k w_k I2(xhat_i, xhat_k) ]  (trained w)
// with the full gradient through the normalisation, additionally
//   dQ_ij -= eta [ (Q_ij/Q_ii) S_ii + (Q_ij/Q_jj) S_jj ],   dR_in -= eta (R_in/Q_ii) S_ii.
// S and P are sums of I3 and I4 over the fields (z = (xhat, y)); output noise adds
// noise^2 D_ij J2(xhat_i, xhat_j) to P_ij.
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "statmech_nn/committee_model.hpp"
#include "statmech_nn/integrators.hpp"

namespace statmech_nn::committee {

struct State {
    Eigen::MatrixXd Q;  // K x K
    Eigen::MatrixXd R;  // K x M
    Eigen::VectorXd g;  // K (gains; ignored without normalisation)
    Eigen::MatrixXd w;  // K x O
};

// Time derivatives of (Q, R, g, w) at a state; T is the teacher overlap matrix.
// num_threads parallelises the I4 sums (the result does not depend on it).
State derivatives(const Model& m, const Eigen::MatrixXd& T, const State& s, int num_threads);

// Scratch space of derivatives_into (reused between calls: no allocation in the ODE loop).
struct Workspace {
    Eigen::VectorXd c;
    Eigen::MatrixXd C, D, E, A, S, P;
    std::vector<std::pair<int, int>> pairs;
};
void derivatives_into(const Model& m, const Eigen::MatrixXd& T, const State& s, int num_threads, State& d,
                      Workspace& ws);

struct OdeSolution {
    std::vector<double> t;
    std::vector<double> Q, R, g, w, eg;  // stacked over the n_out reached times (row-major)
    int n_out = 0;
    std::string status;
    double t_stop = 0.0;
    std::int64_t n_rhs = 0, n_steps = 0;
};

OdeSolution solve(const Model& m, const Eigen::MatrixXd& T, const State& initial, const std::vector<double>& t_out,
                  const OdeOptions& options, int num_threads);

}  // namespace statmech_nn::committee
