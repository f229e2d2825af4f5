// Training twins: real full-batch gradient descent and mini-batch SGD on the mean-squared error of
// the fully connected networks of the sampled-network engine (network.hpp), several seeds in
// parallel.
//
// Network (L = widths.size() - 1 weight layers, M_L = n_outputs, linear read-out):
//   u^l = W^l a^{l-1} + b^l,  a^l = phi(u^l)  (or phi(BN(u^l)) with batchnorm "all"),  f = u^L
//   (mean-subtracted over the batch with batchnorm "last"), exactly as the engine's forward pass.
// Initial weights: the engine's draw_layer for the same seed (Gaussian, or Haar (semi-)orthogonal in
// every layer, the input and read-out layers included), so the initial network of seed s is the
// engine's network of seed s.
//
// Loss over a batch of B inputs (the whole training set for full-batch GD):
//   Loss = 1/(2B) sum_t |f(x_t) - y_t|^2,
// update theta <- theta - eta dLoss/dtheta, theta the trained parameters: W^l and b^l in the standard
// parameterisation; omega, beta with W = sigma_w / sqrt(M_{l-1}) omega, b = sigma_b beta in the NTK
// parameterisation (so W moves by -eta sigma_w2 / M_{l-1} dLoss/dW, b by -eta sigma_b2 dLoss/db).
// Near a minimum the Hessian of this loss is the Fisher information F = J^T J / B of the engine
// (fisher), so full-batch GD is stable for eta < 2 / lambda_max(F).
//
// Data per seed:
//   inputs  "gaussian": x = the engine's input batch of the seed (stream (0, 0), as the empirical
//           Fisher of the same seed), test inputs from stream (L+1, 2); or given arrays (shared).
//   targets "teacher": the outputs of the engine's network of seed (seed XOR kTeacherSeed), the same
//           widths and activation, Gaussian weights, no batch norm; "noise": N(0, 1) (stream (L+1, 1),
//           test targets stream (L+1, 4)); or given arrays.
// Mini-batches (batch_size < n): consecutive slices of a random permutation of the training set
// (stream (L+1, 3)), redrawn whenever fewer than batch_size indices are left (batch_schedule).
//
// Records at the given steps k (parameters after k updates, 0 <= k <= steps): the training loss on
// the whole training set (one batch), the test loss, the norm of the full-batch loss gradient with
// respect to each layer's trained parameters, and optionally the outputs on the eval points and on
// the training set. A seed whose loss turns non-finite or exceeds divergence_bound times its scale
// (max(initial loss, mean |y|^2 / 2)) stops: status Diverged, stop_step = that step, later records NaN.
// One seed per task (or, with fewer seeds than threads, fixed row blocks of 512 per GEMM): results
// are bitwise independent of the thread count.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "statmech_nn/network.hpp"

namespace statmech_nn::training {

enum class Targets { Given = 0, Teacher = 1, Noise = 2 };
Targets targets_from_name(const std::string& name);  // "given", "teacher", "noise"

constexpr std::uint64_t kTeacherSeed = 0x9E3779B97F4A7C15ULL;

struct Spec {
    // widths M_0..M_L, phi, sigma_w2, sigma_b2, weights, parameterization, batchnorm, num_threads,
    // memory_cap and the parameter names of error messages. net.batch and the backward options are unused.
    network::Spec net;
    int n_samples = 1;
    bool gaussian_inputs = true;        // false: x_train / x_test given
    Targets targets = Targets::Teacher;
    Eigen::MatrixXd x_train, y_train;   // M_0 x n and M_L x n (given)
    int n_test = 0;                     // test points (drawn with gaussian inputs; else x_test.cols())
    Eigen::MatrixXd x_test, y_test;     // given test split (may be empty)
    Eigen::MatrixXd x_eval;             // M_0 x n_eval: outputs recorded there (may be empty)
    bool outputs_train = false;         // record the outputs on the training set
    bool return_data = false;           // return each seed's data
    double eta = 0.01;
    std::int64_t steps = 0;
    int batch_size = 0;                 // 0 or n_samples: full-batch gradient descent
    std::vector<std::int64_t> record;   // ascending steps in [0, steps]
    double divergence_bound = 1e8;
    double work_cap = 1e15;             // floating-point operations; larger runs are refused
};

struct Result {
    int n_seeds = 0, L = 0, n_records = 0, C = 0, M0 = 0, n_train = 0, n_test = 0, n_eval = 0;
    std::vector<double> loss;           // seeds x records
    std::vector<double> test_loss;      // seeds x records            (n_test > 0)
    std::vector<double> grad_norm;      // seeds x records x L
    std::vector<double> outputs;        // seeds x records x n_eval x C   (x_eval)
    std::vector<double> outputs_train;  // seeds x records x n x C        (outputs_train)
    std::vector<double> x_train, y_train, x_test, y_test;  // seeds x n x M_0, seeds x n x C, ... (return_data)
    std::vector<int> status;            // Ok, Degenerate (a BN batch with zero variance) or Diverged
    std::vector<std::int64_t> stop_step;  // the step where a seed diverged (steps when it did not)
    std::vector<std::int64_t> degenerate; // neurons x passes with zero batch variance (BN undefined)
};

void validate(const Spec& spec, std::size_t n_seeds);
double memory_bytes(const Spec& spec, std::size_t n_seeds);
double work_flops(const Spec& spec, std::size_t n_seeds);

Result train(const Spec& spec, const std::vector<std::uint64_t>& seeds);

// The mini-batch indices of `steps` steps (steps x batch, row-major) for a seed of a network with L
// weight layers and n training points.
std::vector<std::int64_t> batch_schedule(std::uint64_t seed, int L, int n, int batch, std::int64_t steps);

// ---- building blocks (training_step.cpp) -------------------------------------------------------------
struct Params {
    std::vector<network::RowMatrix> W;  // W^1..W^L
    std::vector<Eigen::VectorXd> b;
};

// The engine's initial network of `seed`.
void init_params(const network::Spec& net, std::uint64_t seed, int inner_threads, Params& p);

// Workspace of one forward / backward pass over a batch.
struct Pass {
    std::vector<Eigen::MatrixXd> A;      // a^0..a^{L-1} (M_l x B)
    std::vector<Eigen::MatrixXd> U;      // u^1..u^{L-1} pre-activations (index l), or BN(u^l) with BN all
    std::vector<Eigen::VectorXd> norms;  // |G u^l| per neuron (BN all)
    Eigen::MatrixXd F;                   // outputs (M_L x B), centred with batchnorm "last"
    Eigen::MatrixXd D, G;                // backward buffers
    std::int64_t degenerate = 0;
};

using Poll = std::function<void()>;

// Forward pass of the batch X (M_0 x B): fills pass (F the outputs).
void forward(const network::Spec& net, const Params& p, const Eigen::MatrixXd& X, Pass& pass, int inner_threads,
             const Poll& poll);
// 1/(2B) sum |F - Y|^2.
double mse(const Eigen::MatrixXd& F, const Eigen::MatrixXd& Y);
// Backward pass of the loss 1/(2B) |F - Y|^2 after forward(); when eta > 0 applies the update;
// when grad_norm is not null writes the norm of the gradient w.r.t. each layer's trained parameters.
void backward(const network::Spec& net, Params& p, Pass& pass, const Eigen::MatrixXd& Y, double eta,
              double* grad_norm, int inner_threads, const Poll& poll);

// training_gemm.cpp: C (m x n) = A B, or C += alpha A B with accumulate; every matrix row-major or
// column-major with its leading dimension; A is m x k. An AVX2/FMA build of the product is chosen at
// run time where the processor has it.
void gemm(double* C, std::int64_t m, std::int64_t n, std::int64_t ldc, bool c_row, double alpha, const double* A,
          std::int64_t lda, bool a_row, const double* B, std::int64_t ldb, bool b_row, std::int64_t k,
          bool accumulate);

}  // namespace statmech_nn::training
