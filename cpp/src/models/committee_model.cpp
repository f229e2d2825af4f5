#include "statmech_nn/committee_model.hpp"

#include <cmath>
#include <stdexcept>

#include "statmech_nn/gaussian.hpp"
#include "statmech_nn/parallel.hpp"

namespace statmech_nn::committee {

Normalization normalization_from_name(const std::string& name) {
    if (name == "none") return Normalization::None;
    if (name == "batchnorm") return Normalization::BatchNorm;
    if (name == "batchnorm_full") return Normalization::BatchNormFull;
    throw std::invalid_argument("normalization: unknown '" + name + "' (none, batchnorm, batchnorm_full)");
}

Model make_model(const std::string& activation, int K, int M, const Eigen::MatrixXd& v, double eta, double eta_w,
                 double sigma, double noise, int batch_size, const std::string& normalization) {
    if (K < 1) throw std::invalid_argument("K: must be >= 1");
    if (M < 1) throw std::invalid_argument("M: must be >= 1");
    if (v.rows() != M || v.cols() < 1) throw std::invalid_argument("v: must have shape (M, O) with O >= 1");
    if (!v.allFinite()) throw std::invalid_argument("v: must be finite");
    if (!(eta > 0.0) || !std::isfinite(eta)) throw std::invalid_argument("eta: must be a finite number > 0");
    if (!(eta_w >= 0.0) || !std::isfinite(eta_w)) throw std::invalid_argument("eta_w: must be a finite number >= 0");
    if (!(sigma > 0.0) || !std::isfinite(sigma)) throw std::invalid_argument("sigma: must be a finite number > 0");
    if (!(noise >= 0.0) || !std::isfinite(noise)) throw std::invalid_argument("noise: must be a finite number >= 0");
    if (batch_size < 1) throw std::invalid_argument("batch_size: must be >= 1");
    Model m;
    m.act = Activation::from_name(activation);
    m.K = K;
    m.M = M;
    m.O = static_cast<int>(v.cols());
    m.v = v;
    m.eta = eta;
    m.eta_w = eta_w;
    m.sigma = sigma;
    m.noise = noise;
    m.batch_size = batch_size;
    m.norm = normalization_from_name(normalization);
    return m;
}

void field_scales_from_norms(const Model& m, const Eigen::VectorXd& Qii, const Eigen::VectorXd& g, Eigen::VectorXd& c) {
    c.resize(m.K);
    for (int i = 0; i < m.K; ++i) c[i] = m.has_gains() ? g[i] / (m.sigma * std::sqrt(Qii[i])) : 1.0;
}

void field_scales(const Model& m, const Eigen::MatrixXd& Q, const Eigen::VectorXd& g, Eigen::VectorXd& c) {
    field_scales_from_norms(m, Q.diagonal(), g, c);
}

Eigen::VectorXd field_scales(const Model& m, const Eigen::MatrixXd& Q, const Eigen::VectorXd& g) {
    Eigen::VectorXd c;
    field_scales(m, Q, g, c);
    return c;
}

Eigen::MatrixXd field_covariance(const Model& m, const Eigen::MatrixXd& Q, const Eigen::MatrixXd& R,
                                 const Eigen::MatrixXd& T, const Eigen::VectorXd& c) {
    Eigen::MatrixXd C;
    field_covariance(m, Q, R, T, c, C);
    return C;
}

void field_covariance(const Model& m, const Eigen::MatrixXd& Q, const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                      const Eigen::VectorXd& c, Eigen::MatrixXd& C) {
    const int K = m.K, M = m.M;
    const double s2 = m.sigma * m.sigma;
    C.resize(K + M, K + M);
    for (int i = 0; i < K; ++i) {
        for (int j = 0; j < K; ++j) C(i, j) = s2 * c[i] * c[j] * Q(i, j);
        for (int n = 0; n < M; ++n) C(i, K + n) = C(K + n, i) = s2 * c[i] * R(i, n);
    }
    for (int n = 0; n < M; ++n)
        for (int p = 0; p < M; ++p) C(K + n, K + p) = s2 * T(n, p);
}

Eigen::MatrixXd pair_averages(const Model& m, const Eigen::MatrixXd& C) {
    const int L = m.K + m.M;
    Eigen::MatrixXd A(L, L);
    Eigen::Matrix2d c2;
    for (int a = 0; a < L; ++a) {
        if (L > 256) check_interrupt();  // thousands of teacher units: ~L^2/2 averages per call
        for (int b = a; b < L; ++b) {
            c2 << C(a, a), C(a, b), C(a, b), C(b, b);
            A(a, b) = A(b, a) = I2(m.act, c2);
        }
    }
    return A;
}

double generalisation_error(const Model& m, const Eigen::MatrixXd& C, const Eigen::MatrixXd& w) {
    const int K = m.K, M = m.M;
    const Eigen::MatrixXd I = pair_averages(m, C);
    const Eigen::MatrixXd D = w * w.transpose();
    const Eigen::MatrixXd E = w * m.v.transpose();
    const Eigen::MatrixXd F = m.v * m.v.transpose();
    double ss = 0.0, tt = 0.0, st = 0.0;
    for (int k = 0; k < K; ++k)
        for (int l = 0; l < K; ++l) ss += D(k, l) * I(k, l);
    for (int n = 0; n < M; ++n)
        for (int p = 0; p < M; ++p) tt += F(n, p) * I(K + n, K + p);
    for (int k = 0; k < K; ++k)
        for (int n = 0; n < M; ++n) st += E(k, n) * I(k, K + n);
    return 0.5 * (ss + tt - 2.0 * st);
}

}  // namespace statmech_nn::committee
