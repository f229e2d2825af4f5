#include "statmech_nn/committee_averages.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "statmech_nn/gaussian.hpp"

namespace statmech_nn::committee {

namespace {

constexpr double kPi = 3.14159265358979323846;

inline double clamp1(double x) { return x > 1.0 ? 1.0 : (x < -1.0 ? -1.0 : x); }

// Per-thread scratch of second_order_sum: grows to the largest L seen, never shrinks.
double* scratch(int n) {
    thread_local std::vector<double> buf;
    if (static_cast<int>(buf.size()) < n) buf.resize(n);
    return buf.data();
}

// ---- first order: S = (A o alpha) C + diag(u) C[:K, :], u_i = sum_p A_ip beta_ip ----------------

// Term-by-term through the Gaussian layer (activations without a closed-form I3).
void first_order_generic(const Activation& act, const Eigen::MatrixXd& C, const Eigen::MatrixXd& A,
                         Eigen::MatrixXd& S) {
    const int K = static_cast<int>(A.rows()), L = static_cast<int>(C.rows());
    Eigen::Matrix3d c3;
    for (int i = 0; i < K; ++i) {
        for (int b = 0; b < L; ++b) {
            double acc = 0.0;
            for (int p = 0; p < L; ++p) {
                if (A(i, p) == 0.0) continue;
                const int id[3] = {i, b, p};
                for (int r = 0; r < 3; ++r)
                    for (int q = 0; q < 3; ++q) c3(r, q) = C(id[r], id[q]);
                acc += A(i, p) * I3(act, c3);
            }
            S(i, b) = acc;
        }
    }
}

}  // namespace

void first_order_sums(const Activation& act, const Eigen::MatrixXd& C, const Eigen::MatrixXd& A, Eigen::MatrixXd& S) {
    const int K = static_cast<int>(A.rows()), L = static_cast<int>(C.rows());
    S.resize(K, L);
    switch (act.kind) {
        case ActivationKind::Linear:  // I3 = C_bp
            S.noalias() = A * C;
            return;
        case ActivationKind::Erf: {
            // I3 = 2 / (pi sqrt(lam3)) (C_bp - C_ib C_ip / (1 + C_ii)),
            // lam3 = (1 + C_ii)(1 + C_pp) - C_ip^2.
            Eigen::MatrixXd W(K, L);
            Eigen::VectorXd u(K);
            for (int i = 0; i < K; ++i) {
                const double ui = 1.0 + C(i, i);
                double acc = 0.0;
                for (int p = 0; p < L; ++p) {
                    const double lam3 = ui * (1.0 + C(p, p)) - C(i, p) * C(i, p);
                    const double w = A(i, p) * (2.0 / kPi) / std::sqrt(lam3);
                    W(i, p) = w;
                    acc += w * C(i, p);
                }
                u[i] = -acc / ui;
            }
            S.noalias() = W * C;
            for (int i = 0; i < K; ++i) S.row(i) += u[i] * C.row(i);
            return;
        }
        case ActivationKind::Relu: {
            // I3 = C_bp P(z_i > 0, z_p > 0) + C_ib sqrt(C_pp - C_ip^2 / C_ii) / (2 pi sqrt(C_ii))
            // (the second term vanishes with the conditional variance, relative 1e-12).
            Eigen::MatrixXd W(K, L);
            Eigen::VectorXd u(K);
            for (int i = 0; i < K; ++i) {
                const double cii = C(i, i);
                double acc = 0.0;
                for (int p = 0; p < L; ++p) {
                    const double cpp = C(p, p), cip = C(i, p);
                    const double orthant = (cii <= 0.0 || cpp <= 0.0)
                                               ? 0.25
                                               : 0.25 + std::asin(clamp1(cip / std::sqrt(cii * cpp))) / (2.0 * kPi);
                    W(i, p) = A(i, p) * orthant;
                    if (cii > 0.0) {
                        const double cv = cpp - cip * cip / cii;
                        if (cv > 1e-12 * cpp) acc += A(i, p) * std::sqrt(cv) / (2.0 * kPi * std::sqrt(cii));
                    }
                }
                u[i] = acc;
            }
            S.noalias() = W * C;
            for (int i = 0; i < K; ++i) S.row(i) += u[i] * C.row(i);
            return;
        }
        default:
            first_order_generic(act, C, A, S);
            return;
    }
}

namespace {

// ---- second order ------------------------------------------------------------------------------

// erf: P_ij = 4 / (pi^2 sqrt(lam4)) sum_{p <= q} coef_pq asin(lam0_pq / sqrt(lam1_p lam1_q)) with
//   lam4    = (1 + C_ii)(1 + C_jj) - C_ij^2
//   lam1_p  = lam4 (1 + C_pp) - C_jp^2 (1 + C_ii) - C_ip^2 (1 + C_jj) + 2 C_ij C_ip C_jp
//   lam0_pq = lam4 C_pq + beta_p C_jq + gamma_p C_iq,
//             beta_p = C_ij C_ip - (1 + C_ii) C_jp,  gamma_p = C_ij C_jp - (1 + C_jj) C_ip.
double second_order_erf(const Eigen::MatrixXd& C, const Eigen::MatrixXd& A, int i, int j) {
    const int L = static_cast<int>(C.rows());
    double* r = scratch(5 * L);
    double* beta = r + L;
    double* gamma = beta + L;
    double* a = gamma + L;
    double* b = a + L;
    const double* Ci = C.col(i).data();  // C symmetric: column = row
    const double* Cj = C.col(j).data();
    const double cij = C(i, j), ui = 1.0 + C(i, i), uj = 1.0 + C(j, j);
    const double lam4 = ui * uj - cij * cij;
    for (int p = 0; p < L; ++p) {
        const double cip = Ci[p], cjp = Cj[p];
        const double lam1 = lam4 * (1.0 + C(p, p)) - cjp * cjp * ui - cip * cip * uj + 2.0 * cij * cip * cjp;
        r[p] = 1.0 / std::sqrt(lam1);
        beta[p] = cij * cip - ui * cjp;
        gamma[p] = cij * cjp - uj * cip;
        a[p] = A(i, p);
        b[p] = A(j, p);
    }
    double acc = 0.0;
    for (int p = 0; p < L; ++p) {
        const double* Cp = C.col(p).data();
        const double ap = a[p], bp = b[p], rp = r[p], be = beta[p], ga = gamma[p];
        double row = ap * bp * std::asin(clamp1((lam4 * Cp[p] + be * Cj[p] + ga * Ci[p]) * rp * rp));
        for (int q = p + 1; q < L; ++q) {
            const double x = (lam4 * Cp[q] + be * Cj[q] + ga * Ci[q]) * (rp * r[q]);
            row += (ap * b[q] + a[q] * bp) * std::asin(clamp1(x));
        }
        acc += row;
    }
    return 4.0 / (kPi * kPi) / std::sqrt(lam4) * acc;
}

// Coefficient of I4(i, j, p, q), p <= q (I4 is symmetric in its last two fields).
inline double pair_coefficient(const Eigen::MatrixXd& A, int i, int j, int p, int q) {
    return p == q ? A(i, p) * A(j, p) : A(i, p) * A(j, q) + A(i, q) * A(j, p);
}

double second_order_linear(const Eigen::MatrixXd& C, const Eigen::MatrixXd& A, int i, int j) {
    const int L = static_cast<int>(C.rows());
    double acc = 0.0;
    for (int p = 0; p < L; ++p)
        for (int q = p; q < L; ++q) acc += pair_coefficient(A, i, j, p, q) * C(p, q);
    return acc;
}

// Term by term through the Gaussian layer (relu's orthant probabilities, quadrature activations).
double second_order_generic(const Activation& act, const Eigen::MatrixXd& C, const Eigen::MatrixXd& A, int i,
                            int j) {
    const int L = static_cast<int>(C.rows());
    double acc = 0.0;
    Eigen::Matrix4d c4;
    for (int p = 0; p < L; ++p) {
        for (int q = p; q < L; ++q) {
            const double coef = pair_coefficient(A, i, j, p, q);
            if (coef == 0.0) continue;
            const int id[4] = {i, j, p, q};
            for (int r = 0; r < 4; ++r)
                for (int u = 0; u < 4; ++u) c4(r, u) = C(id[r], id[u]);
            acc += coef * I4(act, c4);
        }
    }
    return acc;
}

}  // namespace

double second_order_sum(const Activation& act, const Eigen::MatrixXd& C, const Eigen::MatrixXd& A, int i, int j) {
    switch (act.kind) {
        case ActivationKind::Erf: return second_order_erf(C, A, i, j);
        case ActivationKind::Linear: return second_order_linear(C, A, i, j);
        default: return second_order_generic(act, C, A, i, j);
    }
}

double second_order_term_cost(const Activation& act) {
    // Measured orders of magnitude per I4 term (erf: ~5 ns).
    switch (act.kind) {
        case ActivationKind::Erf: return 1.0;
        case ActivationKind::Linear: return 0.2;
        case ActivationKind::Relu: return 100.0;
        default: return 10000.0;
    }
}

}  // namespace statmech_nn::committee
