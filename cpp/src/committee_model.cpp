#include "statmech_nn/committee_model.hpp"

#include <cmath>

#include "statmech_nn/gaussian.hpp"

namespace statmech_nn::committee {

void field_scales(const Model& m, const Eigen::MatrixXd& Q, const Eigen::VectorXd& g, Eigen::VectorXd& c) {
    c.resize(m.K);
    for (int i = 0; i < m.K; ++i) c[i] = m.has_gains() ? g[i] / (m.sigma * std::sqrt(Q(i, i))) : 1.0;
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
