// Closed forms of the Saad–Solla averages and the orthant probabilities behind the ReLU ones.
//
// ReLU (r(x) = max(0, x), r' = Theta):
//   I2 = sqrt(C00 C11)/(2 pi) (sin th + (pi - th) cos th), cos th = rho     (arc-cosine kernel)
//   J2 = P(a > 0, b > 0) = 1/4 + asin(rho)/(2 pi)
//   I3 = <Theta(a) b r(c)>: Stein's lemma on b,
//        = C01 E[delta(a) r(c)] + C12 E[Theta(a) Theta(c)]
//        = C01 sqrt(C00 C22 - C02^2)/(2 pi C00) + C12 (1/4 + asin(rho02)/(2 pi))
//   I4 = <Theta(a) Theta(b) r(c) r(d)>: write r(c) = c Theta(c) and apply Stein's lemma to c:
//        = C02 E[delta(a) Theta(b) Theta(c) r(d)] + C12 E[Theta(a) delta(b) Theta(c) r(d)]
//          + C22 E[Theta(a) Theta(b) delta(c) r(d)] + C23 P(a, b, c, d > 0).
//        Each delta term is a density at 0 times a 3-variable average of the conditional Gaussian,
//        which Stein's lemma on d reduces again to densities times bivariate orthant
//        probabilities (elementary). The 4-D orthant probability has no elementary form; it is
//        Plackett's 1-D integral over a path of correlation matrices (orthant_probability).
// sin, cos, rbf (sinusoids A sin(w x + theta)): I3 by Stein's lemma on b and I4 directly as
// sums of characteristic functions (see sinusoid_product_mean).
// A variable whose (conditional) variance vanishes (relative 1e-12; repeated indices such as
// I4(i, i, j, k)) is exactly zero; Theta(0) = 1/2 is then the value that makes the Stein sums
// consistent.
#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "statmech_nn/gaussian.hpp"
#include "statmech_nn/gaussian_moments.hpp"
#include "statmech_nn/parallel.hpp"

namespace statmech_nn {

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;
constexpr double kDegenerate = 1e-12;  // relative variance below which a variable is exactly 0

double clamp1(double x) { return std::max(-1.0, std::min(1.0, x)); }

// P(x > 0, y > 0) for a centred pair; Theta(0) = 1/2 for a zero-variance variable.
double orthant2(double vx, double vy, double cxy) {
    if (vx <= 0.0 || vy <= 0.0) return 0.25;
    return 0.25 + std::asin(clamp1(cxy / std::sqrt(vx * vy))) / (2.0 * kPi);
}

// Covariance of the variables `keep` given x_g = 0; variances that collapse (relative to their
// unconditional value) become exact zeros together with their covariances.
Eigen::MatrixXd condition_on(const Eigen::MatrixXd& C, int g, const std::vector<int>& keep) {
    const int k = static_cast<int>(keep.size());
    Eigen::MatrixXd S(k, k);
    for (int i = 0; i < k; ++i)
        for (int j = 0; j < k; ++j) S(i, j) = C(keep[i], keep[j]) - C(keep[i], g) * C(g, keep[j]) / C(g, g);
    for (int i = 0; i < k; ++i) {
        if (S(i, i) <= kDegenerate * C(keep[i], keep[i])) {
            S.row(i).setZero();
            S.col(i).setZero();
        }
    }
    return S;
}

// E[Theta(y) Theta(z) r(d)] for (y, z, d) ~ N(0, S): Stein's lemma on d.
double theta_theta_relu(const Eigen::MatrixXd& S) {
    double total = 0.0;
    for (int v = 0; v < 3; ++v) {
        const double coef = S(v, 2);
        if (coef == 0.0 || S(v, v) <= 0.0) continue;
        // E[delta(x_v) Theta(others) ...] = density at 0 times a bivariate orthant probability.
        std::vector<int> keep;
        for (int u = 0; u < 3; ++u)
            if (u != v) keep.push_back(u);
        const Eigen::MatrixXd T = condition_on(S, v, keep);
        total += coef * kInvSqrt2Pi / std::sqrt(S(v, v)) * orthant2(T(0, 0), T(1, 1), T(0, 1));
    }
    return total;
}

double relu_I2(const Eigen::Matrix2d& C) {
    if (C(0, 0) <= 0.0 || C(1, 1) <= 0.0) return 0.0;
    const double s = std::sqrt(C(0, 0) * C(1, 1));
    const double rho = clamp1(C(0, 1) / s);
    const double th = std::acos(rho);
    return s / (2.0 * kPi) * (std::sqrt(std::max(0.0, 1.0 - rho * rho)) + (kPi - th) * rho);
}

double relu_I3(const Eigen::Matrix3d& C) {
    double first = 0.0;
    if (C(0, 0) > 0.0 && C(0, 1) != 0.0) {
        const double cv = C(2, 2) - C(0, 2) * C(0, 2) / C(0, 0);
        if (cv > kDegenerate * C(2, 2)) first = C(0, 1) * std::sqrt(cv) / (2.0 * kPi * std::sqrt(C(0, 0)));
    }
    return first + C(1, 2) * orthant2(C(0, 0), C(2, 2), C(0, 2));
}

// x_i and x_j are the same variable (to relative 1e-12).
bool same_field(const Eigen::MatrixXd& C, int i, int j) {
    const double s = C(i, i) + C(j, j);
    return std::abs(C(i, i) - C(j, j)) <= 1e-12 * s && std::abs(C(i, j) - C(i, i)) <= 1e-12 * s;
}

double relu_I4(const Eigen::Matrix4d& C4) {
    const Eigen::MatrixXd C = C4;
    if (C(2, 2) <= 0.0 || C(3, 3) <= 0.0) return 0.0;
    // A field that appears three times: Theta(0) = 1/2 makes a repeated *pair* consistent in the
    // Stein sums but not a triple, so reduce those products exactly first.
    if (same_field(C, 0, 1) && (same_field(C, 0, 2) || same_field(C, 0, 3))) {
        // Theta(a)^2 r(a) r(e) = r(a) r(e)
        const int e = same_field(C, 0, 2) ? 3 : 2;
        Eigen::Matrix2d c2;
        c2 << C(0, 0), C(0, e), C(0, e), C(e, e);
        return relu_I2(c2);
    }
    if (same_field(C, 2, 3) && (same_field(C, 0, 2) || same_field(C, 1, 2))) {
        // Theta(o) Theta(c) r(c)^2 = Theta(o) c r(c) = I3(o, c, c)
        const int o = same_field(C, 0, 2) ? 1 : 0;
        const int id[3] = {o, 2, 2};
        Eigen::Matrix3d c3;
        for (int r = 0; r < 3; ++r)
            for (int u = 0; u < 3; ++u) c3(r, u) = C(id[r], id[u]);
        return relu_I3(c3);
    }
    double total = 0.0;
    // delta terms for a (index 0), b (1), c (2).
    const int others[3][2] = {{1, 2}, {0, 2}, {0, 1}};
    for (int x = 0; x < 3; ++x) {
        const double coef = C(x, 2);
        if (coef == 0.0 || C(x, x) <= 0.0) continue;
        const Eigen::MatrixXd S = condition_on(C, x, {others[x][0], others[x][1], 3});
        total += coef * kInvSqrt2Pi / std::sqrt(C(x, x)) * theta_theta_relu(S);
    }
    if (C(2, 3) != 0.0) total += C(2, 3) * orthant_probability(C);
    return total;
}

double erf_I3(const Eigen::Matrix3d& C) {
    const double lam3 = (1.0 + C(0, 0)) * (1.0 + C(2, 2)) - C(0, 2) * C(0, 2);
    return 2.0 / kPi / std::sqrt(lam3) * (C(1, 2) * (1.0 + C(0, 0)) - C(0, 1) * C(0, 2)) / (1.0 + C(0, 0));
}

double erf_I4(const Eigen::Matrix4d& C) {
    const double lam4 = (1.0 + C(0, 0)) * (1.0 + C(1, 1)) - C(0, 1) * C(0, 1);
    const double lam0 = lam4 * C(2, 3) - C(1, 2) * C(1, 3) * (1.0 + C(0, 0)) - C(0, 2) * C(0, 3) * (1.0 + C(1, 1)) +
                        C(0, 1) * C(0, 2) * C(1, 3) + C(0, 1) * C(0, 3) * C(1, 2);
    const double lam1 = lam4 * (1.0 + C(2, 2)) - C(1, 2) * C(1, 2) * (1.0 + C(0, 0)) -
                        C(0, 2) * C(0, 2) * (1.0 + C(1, 1)) + 2.0 * C(0, 1) * C(0, 2) * C(1, 2);
    const double lam2 = lam4 * (1.0 + C(3, 3)) - C(1, 3) * C(1, 3) * (1.0 + C(0, 0)) -
                        C(0, 3) * C(0, 3) * (1.0 + C(1, 1)) + 2.0 * C(0, 1) * C(0, 3) * C(1, 3);
    return 4.0 / (kPi * kPi) / std::sqrt(lam4) * std::asin(clamp1(lam0 / std::sqrt(lam1 * lam2)));
}

// ---- orthant probabilities --------------------------------------------------------------------

double orthant3_corr(const Eigen::MatrixXd& R) {
    return 0.125 + (std::asin(clamp1(R(0, 1))) + std::asin(clamp1(R(0, 2))) + std::asin(clamp1(R(1, 2)))) / (4.0 * kPi);
}

// Plackett: dP/drho_ij = phi2(0, 0; rho_ij) P(x_k > 0, x_l > 0 | x_i = x_j = 0). Integrate along
// R(s) = I + s (R - I), s in [0, 1], substituting s = 1 - u^2 (removes the square-root endpoint
// behaviour of nearly singular R) on panels graded towards u = 0.
double orthant4_corr(const Eigen::MatrixXd& R) {
    Eigen::SelfAdjointEigenSolver<Eigen::Matrix4d> es(Eigen::Matrix4d(R), Eigen::EigenvaluesOnly);
    const double lmin = std::max(es.eigenvalues()[0], 0.0);
    const double w0 = std::max(std::sqrt(lmin), 1e-13);
    // Well-conditioned R: one panel; otherwise panels graded geometrically towards u = 0.
    std::vector<double> edges{0.0};
    if (w0 < 0.25)
        for (double e = w0; e < 1.0; e *= 6.0) edges.push_back(e);
    edges.push_back(1.0);
    const QuadRule& gl = gauss_legendre_rule(16);
    const int pairs[6][4] = {{0, 1, 2, 3}, {0, 2, 1, 3}, {0, 3, 1, 2}, {1, 2, 0, 3}, {1, 3, 0, 2}, {2, 3, 0, 1}};
    double integral = 0.0;
    for (size_t p = 0; p + 1 < edges.size(); ++p) {
        const double half = 0.5 * (edges[p + 1] - edges[p]), mid = edges[p] + half;
        for (size_t q = 0; q < gl.x.size(); ++q) {
            const double u = mid + half * gl.x[q];
            const double s = 1.0 - u * u;
            double acc = 0.0;
            for (const auto& pr : pairs) {
                const int i = pr[0], j = pr[1], k = pr[2], l = pr[3];
                const double rij = R(i, j);
                if (rij == 0.0) continue;
                const double r = s * rij;
                const double det = (1.0 - r) * (1.0 + r);  // 1 - r^2 without cancellation near |r| = 1
                if (det <= 0.0) continue;
                const double phi2 = 1.0 / (2.0 * kPi * std::sqrt(det));
                // Conditional covariance of (x_k, x_l) given x_i = x_j = 0 under R(s).
                const double rki = s * R(k, i), rkj = s * R(k, j), rli = s * R(l, i), rlj = s * R(l, j);
                const double rkl = s * R(k, l);
                const double inv = 1.0 / det;
                auto proj = [&](double ai, double aj, double bi, double bj) {
                    return inv * (ai * bi + aj * bj - r * (ai * bj + aj * bi));
                };
                const double vk = 1.0 - proj(rki, rkj, rki, rkj);
                const double vl = 1.0 - proj(rli, rlj, rli, rlj);
                const double ckl = rkl - proj(rki, rkj, rli, rlj);
                acc += rij * phi2 * orthant2(vk > 1e-14 ? vk : 0.0, vl > 1e-14 ? vl : 0.0, ckl);
            }
            integral += half * gl.w[q] * 2.0 * u * acc;
        }
    }
    return 1.0 / 16.0 + integral;
}

// ---- sinusoids: sin, cos, rbf ------------------------------------------------------------------
// phi(x) = A sin(w x + theta) and its derivatives A w^k sin(w x + theta + k pi/2) are all sinusoids,
// and E prod_k A_k sin(w x_k + theta_k) over x ~ N(0, C) is elementary (E e^{i w e.x} =
// e^{-w^2 e^T C e / 2}): Re[prod_k A_k / (2i) sum_{e in {+-1}^d} (prod e_k) e^{i sum e_k theta_k}
// e^{-w^2 e^T C e / 2}]. Every exponent is <= 0 for a covariance C, so nothing overflows.
struct Sinusoid {
    double A, w, theta;
};

bool sinusoid(const Activation& g, Sinusoid& s) {
    constexpr double kHalfPi = 1.57079632679489661923;
    switch (g.kind) {
        case ActivationKind::Sin: s = {1.0, 1.0, 0.0}; return true;
        case ActivationKind::Cos: s = {1.0, 1.0, kHalfPi}; return true;
        case ActivationKind::Rbf: s = {Activation::kSqrt2, Activation::kSqrt2, Activation::kQuarterPi}; return true;
        default: return false;
    }
}

// E prod_{k < d} s_k(x_k), s_k = the order[k]-th derivative of phi = s, x ~ N(0, C) (d = 2 or 4).
template <class M>
double sinusoid_product_mean(const Sinusoid& s, const int* order, int d, const M& C) {
    constexpr double kHalfPi = 1.57079632679489661923;
    double amp = 1.0;
    double th[4];
    for (int k = 0; k < d; ++k) {
        amp *= s.A * std::pow(s.w, order[k]);
        th[k] = s.theta + order[k] * kHalfPi;
    }
    // 1/(2i)^d = (-1/4)^{d/2}
    const double pre = amp * (d == 2 ? -0.25 : 0.0625);
    double re = 0.0;
    const double w2 = s.w * s.w;
    for (int mask = 0; mask < (1 << d); ++mask) {
        double e[4], sign = 1.0, phase = 0.0, quad = 0.0;
        for (int k = 0; k < d; ++k) {
            e[k] = (mask >> k) & 1 ? -1.0 : 1.0;
            sign *= e[k];
            phase += e[k] * th[k];
        }
        for (int a = 0; a < d; ++a)
            for (int b = 0; b < d; ++b) quad += e[a] * e[b] * C(a, b);
        re += sign * std::cos(phase) * std::exp(-0.5 * w2 * std::max(0.0, quad));
    }
    return pre * re;
}

// I3 = <phi'(a) b phi(c)> = C_ab <phi''(a) phi(c)> + C_bc <phi'(a) phi'(c)> (Stein's lemma on b).
double sinusoid_I3(const Sinusoid& s, const Eigen::Matrix3d& C) {
    Eigen::Matrix2d ac;
    ac << C(0, 0), C(0, 2), C(2, 0), C(2, 2);
    const int o20[2] = {2, 0}, o11[2] = {1, 1};
    return C(0, 1) * sinusoid_product_mean(s, o20, 2, ac) + C(1, 2) * sinusoid_product_mean(s, o11, 2, ac);
}

double sinusoid_I4(const Sinusoid& s, const Eigen::Matrix4d& C) {
    const int o[4] = {1, 1, 0, 0};
    return sinusoid_product_mean(s, o, 4, C);
}

}  // namespace

double orthant_probability(const Eigen::MatrixXd& C) {
    const Eigen::Index d0 = C.rows();
    if (C.cols() != d0) throw std::invalid_argument("C: must be square");
    if (d0 > 4) throw std::invalid_argument("C: orthant probabilities are implemented for d <= 4");
    // Zero-variance variables contribute Theta(0) = 1/2; exactly (anti)parallel pairs merge.
    double factor = 1.0;
    std::vector<int> idx;
    for (Eigen::Index i = 0; i < d0; ++i) {
        if (C(i, i) > 0.0) idx.push_back(static_cast<int>(i));
        else factor *= 0.5;
    }
    std::vector<int> kept;
    for (int i : idx) {
        bool merged = false;
        for (int j : kept) {
            const double rho = C(i, j) / std::sqrt(C(i, i) * C(j, j));
            if (rho >= 1.0 - kDegenerate) { merged = true; break; }
            if (rho <= -1.0 + kDegenerate) return 0.0;
        }
        if (!merged) kept.push_back(i);
    }
    const int d = static_cast<int>(kept.size());
    Eigen::MatrixXd R(d, d);
    for (int a = 0; a < d; ++a)
        for (int b = 0; b < d; ++b)
            R(a, b) = a == b ? 1.0 : clamp1(C(kept[a], kept[b]) / std::sqrt(C(kept[a], kept[a]) * C(kept[b], kept[b])));
    switch (d) {
        case 0: return factor;
        case 1: return factor * 0.5;
        case 2: return factor * (0.25 + std::asin(R(0, 1)) / (2.0 * kPi));
        case 3: return factor * orthant3_corr(R);
        default: return factor * orthant4_corr(R);
    }
}

bool has_closed_form(const Activation& g) { return g.traits().closed_form_2d; }
bool has_closed_form(const Activation& g, Average which) {
    return which == Average::I2 || which == Average::J2 ? g.traits().closed_form_2d : g.traits().closed_form_34;
}

// I2 and J2 are the two halves of the Gaussian layer's pair moments (closed forms or the
// conditioned 2-D rule, see gaussian_moments.hpp).
double I2_quadrature(const Activation& g, const Eigen::Matrix2d& C, const QuadratureSettings&) {
    return pair_quadrature(g, C(0, 0), C(0, 1), C(1, 1)).phiphi;
}
double J2_quadrature(const Activation& g, const Eigen::Matrix2d& C, const QuadratureSettings&) {
    return pair_quadrature(g, C(0, 0), C(0, 1), C(1, 1)).dphidphi;
}
double I3_quadrature(const Activation& g, const Eigen::Matrix3d& C, const QuadratureSettings& qs) {
    return product_mean({factor_deriv(g), factor_identity(), factor_value(g)}, C, qs);
}
double I4_quadrature(const Activation& g, const Eigen::Matrix4d& C, const QuadratureSettings& qs) {
    return product_mean({factor_deriv(g), factor_deriv(g), factor_value(g), factor_value(g)}, C, qs);
}

double I2(const Activation& g, const Eigen::Matrix2d& C) { return pair_moments(g, C(0, 0), C(0, 1), C(1, 1)).phiphi; }

double J2(const Activation& g, const Eigen::Matrix2d& C) {
    return pair_moments(g, C(0, 0), C(0, 1), C(1, 1)).dphidphi;
}

double I3(const Activation& g, const Eigen::Matrix3d& C) {
    switch (g.kind) {
        case ActivationKind::Linear: return C(1, 2);
        case ActivationKind::Erf: return erf_I3(C);
        case ActivationKind::Relu: return relu_I3(C);
        case ActivationKind::Sin:
        case ActivationKind::Cos:
        case ActivationKind::Rbf: {
            Sinusoid s;
            sinusoid(g, s);
            return sinusoid_I3(s, C);
        }
        default: return I3_quadrature(g, C);
    }
}

double I4(const Activation& g, const Eigen::Matrix4d& C) {
    switch (g.kind) {
        case ActivationKind::Linear: return C(2, 3);
        case ActivationKind::Erf: return erf_I4(C);
        case ActivationKind::Relu: return relu_I4(C);
        case ActivationKind::Sin:
        case ActivationKind::Cos:
        case ActivationKind::Rbf: {
            Sinusoid s;
            sinusoid(g, s);
            return sinusoid_I4(s, C);
        }
        default: return I4_quadrature(g, C);
    }
}

namespace {

// Symmetric (to 1e-10 of its scale) and positive semidefinite (LDL^T pivots >= -1e-10 scale);
// the error names the offending matrix of the stack.
void check_covariance(const double* c, int d, std::int64_t index) {
    double scale = 1.0;
    bool finite = true;
    for (int i = 0; i < d * d; ++i) {
        finite = finite && std::isfinite(c[i]);
        scale = std::max(scale, std::abs(c[i]));
    }
    if (!finite) throw std::invalid_argument("C[" + std::to_string(index) + "]: must be finite");
    for (int i = 0; i < d; ++i)
        for (int j = 0; j < i; ++j)
            if (std::abs(c[i * d + j] - c[j * d + i]) > 1e-10 * scale)
                throw std::invalid_argument("C[" + std::to_string(index) + "]: must be symmetric");
    if (d == 4) {
        // Every principal minor >= -tol scale^k (Sylvester's criterion for semidefiniteness),
        // written out: no divisions and no dependency chain, so it costs little next to I4.
        auto e = [c](int i, int j) { return c[i * 4 + j]; };
        const double t1 = -1e-10 * scale, t2 = t1 * scale, t3 = t2 * scale, t4 = t3 * scale;
        auto m2 = [&](int i, int j) { return e(i, i) * e(j, j) - e(i, j) * e(i, j); };
        auto m3 = [&](int i, int j, int k) {
            return e(i, i) * (e(j, j) * e(k, k) - e(j, k) * e(j, k)) - e(i, j) * (e(i, j) * e(k, k) - e(j, k) * e(i, k)) +
                   e(i, k) * (e(i, j) * e(j, k) - e(j, j) * e(i, k));
        };
        const double s01 = e(0, 0) * e(1, 1) - e(0, 1) * e(1, 0), s02 = e(0, 0) * e(1, 2) - e(0, 2) * e(1, 0);
        const double s03 = e(0, 0) * e(1, 3) - e(0, 3) * e(1, 0), s12 = e(0, 1) * e(1, 2) - e(0, 2) * e(1, 1);
        const double s13 = e(0, 1) * e(1, 3) - e(0, 3) * e(1, 1), s23 = e(0, 2) * e(1, 3) - e(0, 3) * e(1, 2);
        const double c23 = e(2, 2) * e(3, 3) - e(2, 3) * e(3, 2), c13 = e(2, 1) * e(3, 3) - e(2, 3) * e(3, 1);
        const double c12 = e(2, 1) * e(3, 2) - e(2, 2) * e(3, 1), c03 = e(2, 0) * e(3, 3) - e(2, 3) * e(3, 0);
        const double c02 = e(2, 0) * e(3, 2) - e(2, 2) * e(3, 0), c01 = e(2, 0) * e(3, 1) - e(2, 1) * e(3, 0);
        const double det = s01 * c23 - s02 * c13 + s03 * c12 + s12 * c03 - s13 * c02 + s23 * c01;
        const bool psd = e(0, 0) >= t1 && e(1, 1) >= t1 && e(2, 2) >= t1 && e(3, 3) >= t1 && m2(0, 1) >= t2 &&
                         m2(0, 2) >= t2 && m2(0, 3) >= t2 && m2(1, 2) >= t2 && m2(1, 3) >= t2 && m2(2, 3) >= t2 &&
                         m3(0, 1, 2) >= t3 && m3(0, 1, 3) >= t3 && m3(0, 2, 3) >= t3 && m3(1, 2, 3) >= t3 && det >= t4;
        if (!psd) throw std::invalid_argument("C[" + std::to_string(index) + "]: must be positive semidefinite");
        return;
    }
    // LDL^T without square roots; a (numerically) zero pivot is a degenerate direction.
    double L[16] = {0}, D[4] = {0}, invD[4] = {0};
    bool psd = true;
    for (int k = 0; k < d; ++k) {
        double dk = c[k * d + k];
        for (int j = 0; j < k; ++j) dk -= L[k * 4 + j] * L[k * 4 + j] * D[j];
        psd = psd && dk >= -1e-10 * scale;
        D[k] = dk;
        invD[k] = dk > 1e-13 * scale ? 1.0 / dk : 0.0;
        for (int i = k + 1; i < d; ++i) {
            double v = c[i * d + k];
            for (int j = 0; j < k; ++j) v -= L[i * 4 + j] * L[k * 4 + j] * D[j];
            L[i * 4 + k] = v * invD[k];
        }
    }
    if (!psd) throw std::invalid_argument("C[" + std::to_string(index) + "]: must be positive semidefinite");
}

}  // namespace

void average_batch(Average which, const Activation& g, const double* C, std::int64_t n, double* out, int num_threads,
                   bool force_quadrature) {
    const int d = which == Average::I4 ? 4 : (which == Average::I3 ? 3 : 2);
    Sinusoid sn;
    const bool quad = force_quadrature || !(has_closed_form(g, which) || sinusoid(g, sn));
    // Closed forms are cheap: give each thread a large contiguous block.
    const std::int64_t block = quad ? 1 : 256;
    const std::int64_t nblocks = (n + block - 1) / block;
    parallel_for(nblocks, num_threads, [&](std::int64_t b) {
        const std::int64_t lo = b * block, hi = std::min(n, lo + block);
        for (std::int64_t i = lo; i < hi; ++i) {
            const double* c = C + i * d * d;
            check_covariance(c, d, i);
            switch (which) {
                case Average::I2: {
                    const Eigen::Matrix2d M = Eigen::Map<const Eigen::Matrix<double, 2, 2, Eigen::RowMajor>>(c);
                    out[i] = quad ? I2_quadrature(g, M) : I2(g, M);
                    break;
                }
                case Average::J2: {
                    const Eigen::Matrix2d M = Eigen::Map<const Eigen::Matrix<double, 2, 2, Eigen::RowMajor>>(c);
                    out[i] = quad ? J2_quadrature(g, M) : J2(g, M);
                    break;
                }
                case Average::I3: {
                    const Eigen::Matrix3d M = Eigen::Map<const Eigen::Matrix<double, 3, 3, Eigen::RowMajor>>(c);
                    out[i] = quad ? I3_quadrature(g, M) : I3(g, M);
                    break;
                }
                case Average::I4: {
                    const Eigen::Matrix4d M = Eigen::Map<const Eigen::Matrix<double, 4, 4, Eigen::RowMajor>>(c);
                    out[i] = quad ? I4_quadrature(g, M) : I4(g, M);
                    break;
                }
            }
        }
    });
}

}  // namespace statmech_nn
