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
//   abs |x| = relu(x) + relu(-x) (the arc-cosine kernels with a = 1, b = -1, summed by hand so that
//     no term cancels): E phi phi = (2/pi) sqrt(c11 c22) [sqrt(1 - rho^2) + rho asin rho],
//     E phi' phi' = E sign(x1) sign(x2) = (2/pi) asin rho
//   sin, cos (E e^{i(x1 +- x2)} = e^{-(c11 + c22 -+ 2 c12)/2}, written with both exponents <= 0 so that
//     nothing overflows at large variances): E sin sin = (e^{-m/2} - e^{-p/2})/2 = e^{-(c11+c22)/2} sinh c12,
//     E cos cos = (e^{-m/2} + e^{-p/2})/2 = e^{-(c11+c22)/2} cosh c12, m = (c11 - c12) + (c22 - c12),
//     p = (c11 + c12) + (c22 + c12); sin' = cos and cos' = -sin swap the two.
//   rbf sqrt(2) sin(sqrt(2) x + pi/4) (Neural Tangents' Rbf with gamma = 1): E phi phi = e^{-m},
//     E phi' phi' = 2 e^{-m}
//   step (Heaviside, 1/2 at 0): E phi phi = P(x1 > 0, x2 > 0) = acos(-rho)/(2 pi) (1/4 for a zero
//     variance), E phi' phi' = 0 (the derivative almost everywhere; see activation.hpp)
// Every form is evaluated in a way that stays accurate at rho = +-1 exactly (clamped arguments,
// acos(-r) instead of pi - acos(r), a series for k_1 near c = -1) and at large variances
// (D = 1 + c11 + c22 + (c11 c22 - c12^2)).
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "closed_form_rows_wide.hpp"
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

namespace gaussian_detail {

// |x|: see the file comment. Zero variance: |0| = 0 and sign(0) = 0.
void abs_pair(double c11, double c12, double c22, double& pp, double& dd) {
    if (!(c11 * c22 > 0.0)) {
        pp = 0.0;
        dd = 0.0;
        return;
    }
    const double s = std::sqrt(c11 * c22);
    const double rho = clamp1(c12 / s);
    const double as = std::asin(rho);
    pp = 2.0 / kPi * s * (std::sqrt((1.0 - rho) * (1.0 + rho)) + rho * as);
    dd = 2.0 / kPi * as;
}

// E sin sin (ss) and E cos cos (cc): see the file comment. For |c12| < 1/2 the difference of the two
// exponentials would cancel: e^{-(c11+c22)/2} sinh c12 instead (sinh is accurate there).
void trig_pair(double c11, double c12, double c22, double& ss, double& cc) {
    const double m = std::max(0.0, (c11 - c12) + (c22 - c12)), p = std::max(0.0, (c11 + c12) + (c22 + c12));
    const double em = std::exp(-0.5 * m), ep = std::exp(-0.5 * p);
    cc = 0.5 * (em + ep);
    ss = std::abs(c12) < 0.5 ? std::exp(-0.5 * (c11 + c22)) * std::sinh(c12) : 0.5 * (em - ep);
}

void rbf_pair(double c11, double c12, double c22, double& pp, double& dd) {
    pp = std::exp(-std::max(0.0, (c11 - c12) + (c22 - c12)));
    dd = 2.0 * pp;
}

void step_pair(double c11, double c12, double c22, double& pp, double& dd) {
    pp = c11 * c22 > 0.0 ? std::acos(-correlation(c11, c12, c22)) / kTwoPi : 0.25;
    dd = 0.0;
}

// The closed forms of the activations above (false for the others).
bool elementary_pair(ActivationKind k, double c11, double c12, double c22, PairMoments& pm) {
    switch (k) {
        case ActivationKind::Abs: abs_pair(c11, c12, c22, pm.phiphi, pm.dphidphi); return true;
        case ActivationKind::Sin: trig_pair(c11, c12, c22, pm.phiphi, pm.dphidphi); return true;
        case ActivationKind::Cos: trig_pair(c11, c12, c22, pm.dphidphi, pm.phiphi); return true;
        case ActivationKind::Rbf: rbf_pair(c11, c12, c22, pm.phiphi, pm.dphidphi); return true;
        case ActivationKind::Step: step_pair(c11, c12, c22, pm.phiphi, pm.dphidphi); return true;
        default: return false;
    }
}

}  // namespace gaussian_detail

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
    if (gaussian_detail::elementary_pair(k, c11, c12, c22, pm)) return true;
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

// ---- the closed forms over rows of pairs (PairClosedFormRows) ----------------------------------
//
// Each formula is written once as a template over the number type: double (one pair) or, with
// SSE2 (every x86-64), a vector of two doubles (two pairs; GCC/Clang vector extensions). Both run
// the same IEEE operations in the same order, so a pair's values do not depend on whether it was
// computed in a vector or in the scalar tail (nor, then, on its position in a row).

#if defined(__SSE2__) && (defined(__GNUC__) || defined(__clang__))
#include <emmintrin.h>
#define STATMECH_NN_ROWS_SIMD 1
#endif

namespace {

constexpr double kHalfPi = 0.5 * kPi;
constexpr double kInvTwoPi = 0.15915494309189533577;  // 1 / (2 pi)

// Scalar lane operations (the vector ones below mirror them).
inline double sel(bool m, double a, double b) { return m ? a : b; }
inline double vsqrt(double x) { return std::sqrt(x); }
inline double max0(double x) { return x > 0.0 ? x : 0.0; }          // also maps NaN to 0
inline double clamp_pm(double x, double b) { return x > b ? b : (x < -b ? -b : x); }
inline bool any(bool m) { return m; }

#ifdef STATMECH_NN_ROWS_SIMD
typedef double v2d __attribute__((vector_size(16)));
typedef decltype(v2d{} < v2d{}) v2i;  // the comparison mask type
inline v2d sel(v2i m, v2d a, v2d b) { return (v2d)(((v2i)a & m) | ((v2i)b & ~m)); }
inline v2d vsqrt(v2d x) { return (v2d)_mm_sqrt_pd((__m128d)x); }
inline v2d max0(v2d x) { return sel(x > 0.0, x, v2d{0.0, 0.0}); }
inline v2d clamp_pm(v2d x, v2d b) { return sel(x > b, b, sel(x < -b, -b, x)); }
inline bool any(v2i m) { return _mm_movemask_pd((__m128d)m) != 0; }
inline v2d load2(const double* p) { return (v2d)_mm_loadu_pd(p); }
inline void store2(double* p, v2d v) { _mm_storeu_pd(p, (__m128d)v); }
#endif

#include "closed_form_pair_formulas.hpp"

}  // namespace

bool PairClosedFormRows::prepare(const Activation& g, std::int64_t n, const double* c22) {
    kind_ = g.kind;
    switch (kind_) {
        case ActivationKind::Linear:
        case ActivationKind::Erf:
        case ActivationKind::ErfSigmoid:
        case ActivationKind::Gelu:
            break;
        case ActivationKind::Relu:
        case ActivationKind::LeakyRelu: {
            double deg;
            g.homogeneous(a_, b_, deg);
            break;
        }
        case ActivationKind::Abs:
        case ActivationKind::Sin:
        case ActivationKind::Cos:
        case ActivationKind::Rbf:
        case ActivationKind::Step:
            break;  // elementary_pair per pair (scalar)
        default:
            return false;
    }
    c22_.assign(c22, c22 + n);
    s22_.resize(n);
    col1_.resize(n);
    col2_.resize(n);
    for (std::int64_t j = 0; j < n; ++j) {
        const double v = c22[j];
        s22_[j] = std::sqrt(std::max(v, 0.0));
        col1_[j] = 1.0 / std::sqrt(1.0 + v);
        col2_[j] = 1.0 / (1.0 + v);
    }
    return true;
}

namespace {

// Runs f(T, k) over k = 0..n-1: two pairs at a time where SIMD is available, then the scalar tail.
template <class Vec, class Sca>
inline void rows_loop(std::int64_t n, Vec&& vec, Sca&& sca) {
    std::int64_t k = 0;
#ifdef STATMECH_NN_ROWS_SIMD
    for (; k + 2 <= n; k += 2) vec(k);
#else
    (void)vec;
#endif
    for (; k < n; ++k) sca(k);
}

}  // namespace

void PairClosedFormRows::evaluate(double c11, std::int64_t j0, std::int64_t n, const double* c12, double* phiphi,
                                  double* dphidphi) const {
    const double* c22 = c22_.data() + j0;
    const double* s22 = s22_.data() + j0;
    const double* ie22 = col1_.data() + j0;  // 1 / sqrt(1 + c22)
    const double* ie2 = col2_.data() + j0;   // 1 / (1 + c22)
    const double s11 = std::sqrt(std::max(c11, 0.0)), ie11 = 1.0 / std::sqrt(1.0 + c11);
    // four or eight pairs per instruction where the processor allows (bitwise the same values)
    if (gaussian_detail::closed_form_rows_wide(
            {kind_, a_, b_, c11, s11, ie11, n, c12, c22, s22, ie22, ie2, phiphi, dphidphi}))
        return;
    if (kind_ == ActivationKind::Linear) {
        for (std::int64_t k = 0; k < n; ++k) {
            phiphi[k] = c12[k];
            dphidphi[k] = 1.0;
        }
        return;
    }
    if (kind_ == ActivationKind::Abs || kind_ == ActivationKind::Sin || kind_ == ActivationKind::Cos ||
        kind_ == ActivationKind::Rbf || kind_ == ActivationKind::Step) {
        // the scalar closed forms of pair_closed_form, so that both agree exactly
        PairMoments pm;
        for (std::int64_t k = 0; k < n; ++k) {
            gaussian_detail::elementary_pair(kind_, c11, c12[k], c22[k], pm);
            phiphi[k] = pm.phiphi;
            dphidphi[k] = pm.dphidphi;
        }
        return;
    }
    if (kind_ == ActivationKind::Relu || kind_ == ActivationKind::LeakyRelu) {
        const double a = a_, b = b_, ab2 = a * a + b * b, ab = a * b, zero_dd = 0.25 * (a + b) * (a + b);
        auto run = [&](auto with_b) {
            constexpr bool WB = decltype(with_b)::value;
            rows_loop(
                n,
                [&](std::int64_t k) {
#ifdef STATMECH_NN_ROWS_SIMD
                    v2d pp, dd;
                    homogeneous_pair<WB>(c11, load2(c12 + k), load2(c22 + k), ab2, ab, zero_dd, pp, dd);
                    store2(phiphi + k, pp);
                    store2(dphidphi + k, dd);
#else
                    (void)k;
#endif
                },
                [&](std::int64_t k) {
                    homogeneous_pair<WB>(c11, c12[k], c22[k], ab2, ab, zero_dd, phiphi[k], dphidphi[k]);
                });
        };
        if (ab != 0.0) run(std::true_type{});
        else run(std::false_type{});
        return;
    }
    auto run = [&](auto kind) {
        constexpr int K = decltype(kind)::value;
        rows_loop(
            n,
            [&](std::int64_t k) {
#ifdef STATMECH_NN_ROWS_SIMD
                v2d pp, dd;
                erf_family_pair<K>(c11, s11, ie11, load2(c12 + k), load2(c22 + k), load2(s22 + k), load2(ie22 + k),
                                   load2(ie2 + k), pp, dd);
                store2(phiphi + k, pp);
                store2(dphidphi + k, dd);
#else
                (void)k;
#endif
            },
            [&](std::int64_t k) {
                erf_family_pair<K>(c11, s11, ie11, c12[k], c22[k], s22[k], ie22[k], ie2[k], phiphi[k], dphidphi[k]);
            });
    };
    if (kind_ == ActivationKind::Erf) run(std::integral_constant<int, 0>{});
    else if (kind_ == ActivationKind::ErfSigmoid) run(std::integral_constant<int, 1>{});
    else run(std::integral_constant<int, 2>{});
}

}  // namespace statmech_nn
