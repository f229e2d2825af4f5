// Closed forms of the pair moments E[phi(x1) phi(x2)], E[phi'(x1) phi'(x2)] over
// (x1, x2) ~ N(0, [[c11, c12], [c12, c22]]), and the arc-cosine kernels behind the positively
// homogeneous activations (Cho & Saul, "Kernel methods for deep learning", 2009). One place for
// every family (deep recursions, NTK, batch norm, the Saad–Solla averages).
//
//   homogeneous phi(x) = a rho_k(x) - b rho_k(-x), rho_k(x) = max(x, 0)^k (relu: a=1,b=0; leaky_relu:
//   a=1, b=slope; linear: a=b=1):
//     E phi phi   = (c11 c22)^{k/2} [(a^2 + b^2) k_k(rho) - 2ab k_k(-rho)]
//     E phi' phi' = k^2 (c11 c22)^{(k-1)/2} [(a^2 + b^2) k_{k-1}(rho) + 2ab k_{k-1}(-rho)]
//   with k_0(c) = (pi - theta)/(2 pi), k_1(c) = (sin theta + (pi - theta) c)/(2 pi), theta = acos c.
//   erf(x/sqrt2):   E phi phi = (2/pi) asin(c12 / sqrt((1+c11)(1+c22))), E phi' phi' = (2/pi) D^{-1/2},
//                   D = (1+c11)(1+c22) - c12^2  (Williams, "Computing with infinite networks", 1997)
//   erf_sigmoid Phi(x) = (1 + erf(x/sqrt2))/2: E phi phi = acos(-r)/(2 pi), r = c12/sqrt((1+c11)(1+c22)),
//                   E phi' phi' = 1/(2 pi sqrt D)
//   gelu x Phi(x) (Stein's lemma on x1, Phi(x) = P(u < x) for an independent unit Gaussian u):
//     E phi phi   = c12 acos(-r)/(2 pi) + [c11 c22 (1+c11)(1+c22) + c12^2 (1 - c11 c22)] / (2 pi (1+c11)(1+c22) sqrt D)
//     E phi' phi' = acos(-r)/(2 pi) + c12/(2 pi sqrt D) [1/(1+c11) + 1/(1+c22)] + c12/(2 pi D^{3/2})
// Every form is evaluated in a way that stays accurate at rho = +-1 exactly (clamped arguments,
// acos(-r) instead of pi - acos(r), a series for k_1 near c = -1) and at large variances
// (D = 1 + c11 + c22 + (c11 c22 - c12^2)).
#include <algorithm>
#include <cmath>

#include "statmech_nn/gaussian_moments.hpp"

namespace statmech_nn {

namespace {
constexpr double kPi = 3.14159265358979323846;
constexpr double kTwoPi = 2.0 * kPi;

double clamp1(double x) { return std::max(-1.0, std::min(1.0, x)); }

// sin t - t cos t for t = pi - theta in [0, pi]: a series below 0.25 (no cancellation).
double sin_minus_tcos(double t) {
    if (t < 0.25) {
        // sum_{n>=1} (-1)^{n+1} 2n t^{2n+1} / (2n+1)!
        double term = t * t * t / 3.0, sum = 0.0;  // n = 1: 2 t^3 / 3! = t^3/3
        for (int n = 1; n < 12; ++n) {
            sum += term;
            // ratio of consecutive terms: -(2n+2)/(2n) t^2 / ((2n+2)(2n+3)) = -t^2 / (2n (2n+3))
            term *= -t * t / (2.0 * n * (2.0 * n + 3.0));
        }
        return sum;
    }
    return std::sin(t) - t * std::cos(t);
}

// Correlation of a pair with variances c11, c22 (both > 0), clamped to [-1, 1].
double correlation(double c11, double c12, double c22) { return clamp1(c12 / std::sqrt(c11 * c22)); }

}  // namespace

double arccos_kernel(double alpha, double c) {
    c = clamp1(c);
    // t = pi - theta = acos(-c) directly: accurate near c = -1 where the kernels vanish.
    const double t = std::acos(-c), s = std::sqrt(std::max(0.0, (1.0 - c) * (1.0 + c)));
    if (alpha == 0.0) return t / kTwoPi;
    if (alpha == 1.0) return (c <= 0.0 ? sin_minus_tcos(t) : s + t * c) / kTwoPi;
    if (alpha == 2.0) return (3 * s * c + t * (1 + 2 * c * c)) / kTwoPi;
    if (c == 1.0) return std::pow(2.0, alpha - 1.0) * std::tgamma(alpha + 0.5) / std::sqrt(kPi);
    if (c == -1.0) return 0.0;
    // 2^alpha Gamma(alpha+1)/(2 pi) int_{theta - pi/2}^{pi/2} cos^alpha(u) cos^alpha(u - theta) du, with a
    // sigmoidal change of variables (p = 3) that smooths the (pi/2 - u)^alpha endpoint behaviour.
    const double theta = std::acos(c);
    const double lo = theta - kPi / 2, hi = kPi / 2;
    const QuadRule& gl = gauss_legendre_rule(96);
    double sum = 0;
    for (std::size_t k = 0; k < gl.x.size(); ++k) {
        const double xi = 0.5 * (gl.x[k] + 1.0);
        const double u = xi * xi * xi, v = (1 - xi) * (1 - xi) * (1 - xi), den = u + v;
        const double sfrac = u / den;
        const double ds = 3 * xi * xi * (1 - xi) * (1 - xi) / (den * den);  // d s / d xi
        const double a = lo + (hi - lo) * sfrac;
        const double c1 = std::max(0.0, std::cos(a)), c2 = std::max(0.0, std::cos(a - theta));
        sum += 0.5 * gl.w[k] * (hi - lo) * ds * std::pow(c1, alpha) * std::pow(c2, alpha);
    }
    return std::pow(2.0, alpha) * std::tgamma(alpha + 1.0) / kTwoPi * sum;
}

PairMoments homogeneous_pair_moments(double a, double b, double degree, double c11, double c12, double c22) {
    PairMoments pm;
    const double ab2 = a * a + b * b;
    if (c11 <= 0.0 || c22 <= 0.0) {
        // A zero-variance variable is exactly 0: phi(0) = 0 (degree > 0) and, for degree 1, phi'(0)
        // is taken as the mean (a + b)/2 of the one-sided slopes (Theta(0) = 1/2, as everywhere in
        // this layer), so E phi' phi' = ((a + b)/2)^2 whether one or both variances vanish.
        pm.phiphi = degree == 0.0 ? 0.25 * (a - b) * (a - b) : 0.0;
        pm.dphidphi = degree == 1.0 ? 0.25 * (a + b) * (a + b) : 0.0;
        return pm;
    }
    const double rho = correlation(c11, c12, c22);
    const double s = std::sqrt(c11 * c22);
    const double ab = a * b, d1 = degree - 1.0;
    const double sk = degree == 1.0 ? s : std::pow(s, degree), sd = degree == 1.0 ? 1.0 : std::pow(s, d1);
    pm.phiphi = sk * (ab2 * arccos_kernel(degree, rho) - (ab != 0.0 ? 2.0 * ab * arccos_kernel(degree, -rho) : 0.0));
    pm.dphidphi = degree * degree * sd * (ab2 * arccos_kernel(d1, rho) + (ab != 0.0 ? 2.0 * ab * arccos_kernel(d1, -rho) : 0.0));
    return pm;
}

bool pair_closed_form(const Activation& g, double c11, double c12, double c22, PairMoments& pm) {
    const ActivationKind k = g.kind;
    if (k == ActivationKind::Linear) {
        pm.phiphi = c12;
        pm.dphidphi = 1.0;
        return true;
    }
    if (k == ActivationKind::Relu || k == ActivationKind::LeakyRelu) {
        double a, b, deg;
        g.homogeneous(a, b, deg);
        pm = homogeneous_pair_moments(a, b, deg, c11, c12, c22);
        return true;
    }
    if (k != ActivationKind::Erf && k != ActivationKind::ErfSigmoid && k != ActivationKind::Gelu) return false;
    const double det = std::max(0.0, c11 * c22 - c12 * c12);
    const double D = 1.0 + c11 + c22 + det;  // (1 + c11)(1 + c22) - c12^2
    const double sD = std::sqrt(D);
    const double r = clamp1(c12 / std::sqrt((1.0 + c11) * (1.0 + c22)));
    switch (k) {
        case ActivationKind::Erf:
            pm.phiphi = 2.0 / kPi * std::asin(r);
            pm.dphidphi = 2.0 / (kPi * sD);
            return true;
        case ActivationKind::ErfSigmoid:
            pm.phiphi = std::acos(-r) / kTwoPi;
            pm.dphidphi = 1.0 / (kTwoPi * sD);
            return true;
        default: {  // Gelu
            const double P = std::acos(-r) / kTwoPi;  // P(x1 > u1, x2 > u2)
            const double e1 = 1.0 + c11, e2 = 1.0 + c22;
            pm.phiphi = c12 * P + (c11 * c22 * e1 * e2 + c12 * c12 * (1.0 - c11 * c22)) / (kTwoPi * e1 * e2 * sD);
            pm.dphidphi = P + c12 / (kTwoPi * sD) * (1.0 / e1 + 1.0 / e2) + c12 / (kTwoPi * D * sD);
            return true;
        }
    }
}

}  // namespace statmech_nn
