// Soft committee machine (Saad & Solla 1995) with optional batch normalisation (Takagi, Yoshida &
// Okada, JSAI):
// the model description shared by the order-parameter ODEs and the microscopic simulator.
//
//   inputs      xi_k ~ N(0, sigma^2), k = 1..N
//   student     s = sum_i w_i phi(xhat_i),  x_i = J_i . xi,  i = 1..K,  w_i in R^O
//   teacher     t = sum_n v_n phi(y_n) (+ output noise zeta ~ N(0, noise^2 I_O)),  y_n = B_n . xi
//   overlaps    Q_ij = J_i . J_j,  R_in = J_i . B_n,  T_nm = B_n . B_m,  D = w w^T, E = w v^T, F = v v^T
//   SGD on 1/2 |t - s|^2 with learning rate eta/N on mini-batches of b fresh samples;
//   time t = steps / N.
//
// Normalisation of the hidden fields xhat_i = c_i x_i:
//   None            c_i = 1
//   BatchNorm       c_i = g_i / (sigma sqrt(Q_ii)) (Takagi et al.: the batch standard deviation at
//                   its large-b value, held constant in the gradient); gains g_i learned with eta/N
//   BatchNormFull   the same forward map, with the gradient taken through sqrt(Q_ii) as well
//                   (J's step is projected orthogonally to J_i, as under weight normalisation).
#pragma once

#include <Eigen/Dense>
#include <string>

#include "statmech_nn/activation.hpp"

namespace statmech_nn::committee {

enum class Normalization { None = 0, BatchNorm = 1, BatchNormFull = 2 };

struct Model {
    Activation act;
    int K = 2, M = 2, O = 1;
    Eigen::MatrixXd v;       // M x O teacher second layer (fixed)
    double eta = 1.0;        // first-layer (and gain) learning rate, in units of 1/N
    double eta_w = 0.0;      // second-layer learning rate in units of 1/N (0: w fixed)
    double sigma = 1.0;      // input standard deviation
    double noise = 0.0;      // standard deviation of the teacher's output noise (each output)
    int batch_size = 1;
    Normalization norm = Normalization::None;

    bool has_gains() const { return norm != Normalization::None; }
    bool trains_w() const { return eta_w != 0.0; }
};

// "none" | "batchnorm" | "batchnorm_full"; throws std::invalid_argument otherwise.
Normalization normalization_from_name(const std::string& name);
// A validated model (v is M x O); throws std::invalid_argument naming the parameter.
Model make_model(const std::string& activation, int K, int M, const Eigen::MatrixXd& v, double eta, double eta_w,
                 double sigma, double noise, int batch_size, const std::string& normalization);

// c_i: xhat_i = c_i x_i (1 without normalisation; g_i/(sigma sqrt(Q_ii)) with it).
Eigen::VectorXd field_scales(const Model& m, const Eigen::MatrixXd& Q, const Eigen::VectorXd& g);

// Covariance of the K + M fields (xhat_1..xhat_K, y_1..y_M) over the inputs.
Eigen::MatrixXd field_covariance(const Model& m, const Eigen::MatrixXd& Q, const Eigen::MatrixXd& R,
                                 const Eigen::MatrixXd& T, const Eigen::VectorXd& c);

// eps_g = 1/2 <|t - s|^2> (noise-free teacher) from the field covariance C and the second layers:
// 1/2 [sum D_kl I2(xhat_k, xhat_l) + sum F_nm I2(y_n, y_m) - 2 sum E_kn I2(xhat_k, y_n)].
double generalisation_error(const Model& m, const Eigen::MatrixXd& C, const Eigen::MatrixXd& w);

// In-place variants (no allocation once `out` has the right size).
void field_scales(const Model& m, const Eigen::MatrixXd& Q, const Eigen::VectorXd& g, Eigen::VectorXd& out);
// The same from the squared norms Q_ii alone.
void field_scales_from_norms(const Model& m, const Eigen::VectorXd& Qii, const Eigen::VectorXd& g, Eigen::VectorXd& out);
void field_covariance(const Model& m, const Eigen::MatrixXd& Q, const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                      const Eigen::VectorXd& c, Eigen::MatrixXd& out);

// Matrix of I2 over all pairs of the K + M fields.
Eigen::MatrixXd pair_averages(const Model& m, const Eigen::MatrixXd& C);

}  // namespace statmech_nn::committee
