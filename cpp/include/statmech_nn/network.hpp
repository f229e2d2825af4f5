// The sampled-network engine: one microscopic simulator of fully connected deep networks, shared
// by every family (mean-field signal propagation, batch-norm networks, empirical Fisher / NTK).
//
// Network (L = widths.size() - 1 weight layers, widths M_0..M_L, a batch of B inputs):
//
//   u^l = W^l a^{l-1} + b^l           (l = 1..L),
//   a^l = phi(u^l)                    (hidden layers, batchnorm "none"/"last"),
//   a^l = phi(BN(u^l))                (batchnorm "all": per neuron over the batch,
//                                      BN(h) = sqrt(B) G h / |G h|, G = I - 1 1^T / B,
//                                      Yang, Pennington, Rao, Sohl-Dickstein & Schoenholz 2019),
//   a^0 = x (the input), or a^0 = phi(BN(u^0)) / phi(u^0) when the input is itself a
//   pre-activation u^0 (InputSpec::preactivation, the batch-norm model of Yang et al.).
//
// u^L is the output (linear read-out f = u^L when linear_readout; otherwise the Jacobian includes
// phi'(u^L)). batchnorm "last" is the mean subtraction of the outputs over the batch (Karakida,
// Akaho & Amari 2019): f~(t) = f(t) - mean_s f(s), whose gradient Gram is P G P, P the centring.
//
// Weights: Gaussian W_ij ~ N(0, sigma_w2 / M_{l-1}), or Haar (semi-)orthogonal (QR of a Gaussian
// matrix, signs of diag R fixed): sqrt(sigma_w2) Q for a square layer, orthonormal columns with
// W^T W = sigma_w2 (M_l / M_{l-1}) I when M_l > M_{l-1}, orthonormal rows with W W^T = sigma_w2 I when
// M_l < M_{l-1} (mean square entry sigma_w2 / M_{l-1} in every case); biases
// b_i ~ N(0, sigma_b2). The standard and NTK parameterisations sample the same network; they
// differ in what is trained, hence in the Gram (NTK: W = sigma_w / sqrt(M_{l-1}) omega, so the
// weight term carries sigma_w2 / M_{l-1} and the bias term sigma_b2).
//
// Random numbers (Rng(seed, stream), random.hpp): stream(l, k) = l * 2^32 + k with
//   l = 0:        the inputs (k = 0),
//   l = 1..L:     layer l: k = 0 the biases, k = 1 + j the weight rows [128 j, 128 j + 128) of W^l
//                 (row-major; for orthogonal weights the rows of the Gaussian matrix that is
//                 orthogonalised),
//   l = L + 1:    the random output error of Backward::RandomError (k = 0).
// Each seed is one network and one input batch. Seeds run in parallel; a seed alone is split
// over the fixed row blocks, so results are bitwise independent of the thread count.
//
// Measurements per seed (layer index l):
//   pre_cov[l]  (l = 0..L)   u^{lT} u^l / M_l (B x B): second moments of each input's
//                            pre-activations (diagonal) and their overlaps; l = 0 is the input.
//   post_cov[l] (l = 0..L-1) a^{lT} a^l / M_l (B x B) (NaN unless post_stats or gram).
//   grad_log_norm2[l] (l = 0..L), grad_cov[l] (R B x R B, trace 1): the backward pass.
//     delta^l = d(loss or outputs)/du^l (M_l x R B, column t R + r for input t, read-out r);
//     log |delta^l|^2 and delta^T delta / |delta|^2 (normalised, so deep nets neither overflow nor
//     underflow). l = 0 is d/du^0 for pre-activation inputs, d/dx otherwise.
//   gram (R B x R B): sum_l (delta^l(s).delta^l(t)) (w_l a^{l-1}(s).a^{l-1}(t) + b_l), the Gram
//     J J^T of the parameter Jacobian of the outputs = empirical NTK / FIM Gram, exact and
//     without forming P x P matrices (w_l = b_l = 1 standard; w_l = sigma_w2 / M_{l-1},
//     b_l = sigma_b2 for NTK; b_l = 0 without bias terms). Centred (P G P) with batchnorm "last".
//   outputs (B x M_L): u^L (centred with batchnorm "last").
//   jacobian_eigenvalues (M_L, ascending): eigenvalues of J J^T, J = d a^L / d x at input 0.
// A seed whose activations overflow (a non-finite second moment) stops: status Diverged,
// stop_layer = the last finite layer, later measurements NaN, no backward pass.
#pragma once

#include "statmech_nn/status.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "statmech_nn/activation.hpp"

namespace statmech_nn::network {

enum class Weights { Gaussian = 0, Orthogonal = 1 };
enum class Parameterization { Standard = 0, NTK = 1 };
enum class BatchNorm { None = 0, Last = 1, All = 2 };
enum class InputKind { Given = 0, Gaussian = 1, Pair = 2 };
enum class Backward { None = 0, RandomError = 1, Outputs = 2 };

Weights weights_from_name(const std::string& name);
Parameterization parameterization_from_name(const std::string& name);
BatchNorm batchnorm_from_name(const std::string& name);
InputKind input_kind_from_name(const std::string& name);   // "given", "gaussian", "pair"
Backward backward_from_name(const std::string& name);      // "none", "random", "outputs"

// An activation of the Gaussian layer, or alpha-ReLU max(x, 0)^alpha.
struct Nonlinearity {
    Activation act;
    bool alpha_relu = false;
    double alpha = 1.0;
    inline double value(double x) const {
        if (!alpha_relu) return act.value(x);
        return x > 0.0 ? (alpha == 1.0 ? x : std::pow(x, alpha)) : 0.0;
    }
    inline double deriv(double x) const {
        if (!alpha_relu) return act.deriv(x);
        return x > 0.0 ? (alpha == 1.0 ? 1.0 : alpha * std::pow(x, alpha - 1.0)) : 0.0;
    }
};

struct InputSpec {
    InputKind kind = InputKind::Gaussian;
    Eigen::MatrixXd x;           // Given: M_0 x B, one input per column
    Eigen::MatrixXd cov_factor;  // Gaussian: B x B factor F (x_i. = F z_i, z_i ~ N(0, I_B), rows i.i.d.);
                                 // empty = identity
    double q_in = 1.0, c_in = 0.0;  // Pair (B = 2): |x|^2 / M_0 = q_in and cosine c_in, exactly
    bool preactivation = false;  // the input is u^0: a^0 = phi(BN(u^0)) or phi(u^0)
};

struct Spec {
    std::vector<int> widths;  // M_0..M_L
    int batch = 1;            // B
    Nonlinearity phi;
    double sigma_w2 = 1.0, sigma_b2 = 0.0;
    Weights weights = Weights::Gaussian;
    Parameterization parameterization = Parameterization::Standard;
    BatchNorm batchnorm = BatchNorm::None;
    bool linear_readout = true;
    InputSpec input;
    Backward backward = Backward::None;
    bool gram = false;          // needs Backward::Outputs
    bool gram_bias = true;      // include the bias terms in the Gram
    bool outputs = false;
    bool jacobian = false;
    bool post_stats = true;     // measure post_cov (forced on by gram)
    int num_threads = 0;
    double memory_cap = 4.0 * 1024 * 1024 * 1024;  // bytes; larger runs are refused (ValueError)
    // Parameter names used in error messages (the caller's vocabulary).
    std::string width_name = "width", batch_name = "batch_size", depth_name = "depth", readout_name = "n_outputs";
};

struct Result {
    int n_seeds = 0, L = 0, B = 0, R = 0, out_width = 0;
    std::vector<double> pre_cov;         // seeds x (L+1) x B x B
    std::vector<double> post_cov;        // seeds x L x B x B
    std::vector<double> grad_log_norm2;  // seeds x (L+1)                (Backward != None)
    std::vector<double> grad_cov;        // seeds x (L+1) x RB x RB       (Backward != None)
    std::vector<double> gram;            // seeds x RB x RB               (gram)
    std::vector<double> outputs;         // seeds x B x M_L               (outputs)
    std::vector<double> jacobian_eigenvalues;  // seeds x M_L            (jacobian)
    std::vector<int> status;             // Status code per seed (Ok, Degenerate or Diverged)
    std::vector<int> stop_layer;         // last layer with finite activations (L when not diverged)
    std::vector<std::int64_t> degenerate;  // neurons x layers with G u = 0 (BN undefined)
};

// Bytes the run needs (working sets of the running seeds plus the results); `run` refuses more
// than spec.memory_cap with std::invalid_argument naming the dominant parameter.
double memory_bytes(const Spec& spec, std::size_t n_seeds);

Result run(const Spec& spec, const std::vector<std::uint64_t>& seeds);

// ---- building blocks ---------------------------------------------------------------------------------
// network_spec.cpp: validation (std::invalid_argument naming the parameter), the memory check, the
// number of read-out columns R per input, and whether the weights are kept for the backward pass.
void validate(const Spec& spec, std::size_t n_seeds);
void check_memory(const Spec& spec, std::size_t n_seeds);
int readouts(const Spec& spec);
bool keep_weights(const Spec& spec);
// network_weights.cpp, network_batchnorm.cpp:
using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
constexpr std::int64_t kRowBlock = 128;
inline std::uint64_t stream(int layer, std::int64_t k) {
    return (static_cast<std::uint64_t>(layer) << 32) + static_cast<std::uint64_t>(k);
}

// Draws W^l (widths[l] x widths[l-1]) and b^l for `seed`, the weight rows in parallel over the
// fixed row blocks (inner_threads).
void draw_layer(const Spec& spec, int l, std::uint64_t seed, int inner_threads, RowMatrix& W, Eigen::VectorXd& b);

// The inputs a^0 or u^0 (M_0 x B) of `seed`.
Eigen::MatrixXd draw_input(const Spec& spec, std::uint64_t seed);

// Batch norm of one neuron's batch vector h (stride sh) into x (stride sx): x = sqrt(B) G h / |G h|;
// returns |G h| (0 when undefined: then x = 0).
double batch_normalize(const double* h, double* x, int B, std::ptrdiff_t sh, std::ptrdiff_t sx);
// Backward through BN for one neuron: given x = BN(h), |G h| and v = dL/dx, writes dL/dh
// = sqrt(B)/|Gh| (G - y y^T) v, y = x / sqrt(B) (zero when |Gh| = 0).
void batch_normalize_backward(const double* x, double norm, const double* v, double* out, int B,
                              std::ptrdiff_t sx, std::ptrdiff_t sv, std::ptrdiff_t so);

}  // namespace statmech_nn::network
