// Gaussian moments of one activation over one or two correlated Gaussians, the building blocks of
// every deep-network recursion (length and covariance maps, chi's, NNGP/NTK, Fisher order
// parameters):
//
//   layer_moments(g, q):            E[phi(x)^2], E[phi'(x)^2], d E[phi(sqrt(q) z)^2] / dq,  x ~ N(0, q)
//   pair_moments(g, q11, q12, q22): E[phi(x1) phi(x2)], E[phi'(x1) phi'(x2)],
//                                   (x1, x2) ~ N(0, [[q11, q12], [q12, q22]])
//   PairSeries:                     the Mehler (Hermite) expansion of the equal-variance pair
//                                   moments in the correlation c, built once per q.
//
// Closed forms for linear, erf, erf_sigmoid, gelu, relu, leaky_relu, abs, sin, cos, rbf, step; nested
// 1-D rules otherwise. For
// piecewise-linear activations the rules are composite Gauss–Legendre panels split at the kinks;
// for smooth ones a 64-node Gauss–Hermite rule when the Gaussian is narrow compared with the
// activation's own scale, otherwise composite Gauss–Legendre panels split at the activation's
// "feature points" (0, ±1, ±2, ±4, ±8, ±16 in units of its scale), which keeps tanh accurate to
// ~1e-12 at any variance (plain Gauss–Hermite is not: 1e-3 relative at q = 5).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "statmech_nn/activation.hpp"
#include "statmech_nn/gaussian.hpp"

namespace statmech_nn {

// Moments of phi over x ~ N(0, q) (q >= 0).
struct LayerMoments {
    double phi2 = 0.0;        // E[phi(x)^2]
    double dphi2 = 0.0;       // E[phi'(x)^2]
    double slope = 0.0;       // d E[phi(sqrt(q) z)^2] / dq = E[x phi(x) phi'(x)] / q (limit at q = 0)
};
LayerMoments layer_moments(const Activation& g, double q);

// E[phi(x1) phi(x2)] and E[phi'(x1) phi'(x2)] for (x1, x2) ~ N(0, [[q11, q12], [q12, q22]]).
struct PairMoments {
    double phiphi = 0.0;
    double dphidphi = 0.0;
};
PairMoments pair_moments(const Activation& g, double q11, double q12, double q22);

// The two routes behind pair_moments. pair_closed_form: linear, erf, erf_sigmoid, gelu, relu,
// leaky_relu, abs, sin, cos, rbf, step (gaussian_closed_forms.cpp; false for the others). pair_quadrature: any activation,
// nested 1-D rules conditioned on the variable of larger variance, with the outer panels split
// where the inner conditional mean crosses the kinks and scale points of phi (accurate to ~1e-12
// relative up to correlations +-1 and variance ratios 1e4; exact 1-D reduction for singular C).
bool pair_closed_form(const Activation& g, double q11, double q12, double q22, PairMoments& pm);
PairMoments pair_quadrature(const Activation& g, double q11, double q12, double q22);

// Arc-cosine kernel of degree alpha >= 0 (Cho & Saul 2009): E max(u,0)^alpha max(v,0)^alpha for unit
// Gaussians of correlation c. Elementary for alpha = 0, 1, 2 (to rounding, also at c = +-1), a
// smooth 96-node 1-D integral otherwise.
double arccos_kernel(double alpha, double c);
// The same over n correlations (out[i] = arccos_kernel(alpha, c[i])), polling for Ctrl-C.
void arccos_kernel(double alpha, const double* c, std::int64_t n, double* out);
// Pair moments of phi(x) = a max(x,0)^k - b max(-x,0)^k (degree k > 0) through the arc-cosine kernels.
PairMoments homogeneous_pair_moments(double a, double b, double degree, double q11, double q12, double q22);

// Nodes and weights of a rule for E f(x), x ~ N(mean, sd^2), adapted to phi (see file comment).
void activation_rule(const Activation& g, double mean, double sd, std::vector<double>& x, std::vector<double>& w);

namespace gaussian_detail {

// Length scale of the activation's structure (sigmoid and swish are tanh-like at scale 2).
double activation_scale(const Activation& g);
// Pair moments in closed form (the activation table's closed_form_2d).
bool is_closed_form(const Activation& g);
// Smooth odd activations (phi(-x) = -phi(x)): phi^2, phi'^2 and phi phi'' are even, and the Hermite
// coefficients of phi vanish for even k, so the Gaussian rules only need the half line x >= 0.
bool is_smooth_odd(const Activation& g);
// The x >= 0 half of the symmetric rule normal_rule(0, sd, {}, qs, ., ., features) would build,
// with doubled weights: sum_i w_i f(x_i) = E f(x) for even f, x ~ N(0, sd^2).
void half_rule(double sd, const std::vector<double>& features, const QuadratureSettings& qs, std::vector<double>& x,
               std::vector<double>& w);

// Closed-form pair moments of abs, sin, cos, rbf and step (gaussian_closed_forms.cpp), shared by
// pair_closed_form and PairClosedFormRows; false for every other activation.
bool elementary_pair(ActivationKind k, double c11, double c12, double c22, PairMoments& pm);

// phi and phi' together (one transcendental call for tanh).
inline void value_deriv(const Activation& g, double x, double& v, double& d) {
    if (g.kind == ActivationKind::Tanh) {
        const double ax = std::abs(x);
        if (ax < 0.55) {
            const double t = std::tanh(x);
            v = t;
            d = 1.0 - t * t;  // t^2 < 1/4: no cancellation
            return;
        }
        // One exp instead of tanh's expm1 path: with E = e^{-2|x|} <= 1/3, tanh|x| = (1 - E)/(1 + E)
        // and 1 - tanh^2 = 4E/(1 + E)^2, both to a few ulp (the latter relative, also in the tails).
        const double E = std::exp(-2.0 * ax), inv = 1.0 / (1.0 + E);
        v = std::copysign((1.0 - E) * inv, x);
        d = 4.0 * E * inv * inv;
        return;
    }
    v = g.value(x);
    d = g.deriv(x);
}

}  // namespace gaussian_detail

// Mehler expansion of the equal-variance pair averages at q:
//   E[phi(u1) phi(u2)]   = sum_k a_k^2 c^k,   a_k = E[phi(sqrt(q) z) He_k(z)] / sqrt(k!)
//   E[phi'(u1) phi'(u2)] = sum_k b_k^2 c^k,   b_k = E[phi'(sqrt(q) z) He_k(z)] / sqrt(k!)
// (u1, u2) ~ N(0, q [[1, c], [c, 1]]). The coefficients are computed once per q (1-D quadrature on
// |z| <= 12, where the orthonormal Hermite functions times the Gaussian weight are < e^-36 outside);
// the tails beyond k = K are known exactly from Parseval (E phi^2 - sum a_k^2), so the truncation
// error at c is bounded by tail * |c|^{K+1}; evaluate() reports whether that is below tolerance,
// otherwise the caller falls back to the 2-D quadrature.
struct PairSeries {
    std::vector<double> a2, b2;
    // Signed coefficients a_k, b_k and the tails left after each (E phi^2 - sum_{j<=k} a_j^2, the
    // same for b), for pairs of unequal variance (evaluate_cross).
    std::vector<double> a, b, ta, tb;
    double tail_a = 0.0, tail_b = 0.0;
    int K = -1;  // coefficients known for k = 0..K
    int k_max = 400;
    double phi2 = 0.0, dphi2 = 0.0;
    double q = 0.0;
    std::vector<double> z, w, fv, h0, h1;  // nodes, weighted phi, h_{K+1}, h_{K+2} (see extend)

    bool odd = false;  // phi odd: a_k = 0 for even k, rule on z >= 0 only (doubled weights)

    bool build(const Activation& g, double q) {
        const double sd = std::sqrt(q);
        std::vector<double> bp;
        const double s = gaussian_detail::activation_scale(g);
        if (g.piecewise()) {
            for (double k : g.kinks()) bp.push_back(k / sd);
        } else {
            for (double f : {0.0, -1.0, 1.0, -2.0, 2.0, -4.0, 4.0, -8.0, 8.0}) bp.push_back(f * s / sd);
        }
        static const QuadratureSettings qs{48, 20, 12.0, 0.9};
        odd = gaussian_detail::is_smooth_odd(g);
        if (odd) gaussian_detail::half_rule(1.0, bp, qs, z, w);
        else normal_rule(0.0, 1.0, bp, qs, z, w);
        const size_t n = z.size();
        this->q = q;
        fv.resize(n); h0.resize(n); h1.resize(n);
        // E phi^2 and E phi'^2 on the same rule, so that the Parseval tails are those of the rule.
        double s0 = 0.0, s1 = 0.0;
        for (size_t i = 0; i < n; ++i) {
            double v, d;
            gaussian_detail::value_deriv(g, sd * z[i], v, d);
            fv[i] = w[i] * v;
            s0 += w[i] * v * v;
            s1 += w[i] * d * d;
            // even phi: h0 = h_0, h1 = h_1; odd phi: h0 = h_1, h1 = h_{-1} = 0 (see extend)
            h0[i] = odd ? z[i] : 1.0;
            h1[i] = odd ? 0.0 : z[i];
        }
        phi2 = s0;
        dphi2 = s1;
        a2.clear(); b2.clear(); a.clear(); b.clear(); ta.clear(); tb.clear();
        K = -1;
        tail_a = phi2;
        tail_b = dphi2;
        extend(24);
        return std::isfinite(tail_a) && std::isfinite(tail_b);
    }

    // Coefficients up to k = k_to (the recurrence state h0, h1 is described in the loop).
    void extend(int k_to) {
        k_to = std::min(k_to, k_max);
        const size_t n = z.size();
        for (int k = K + 1; k <= k_to; ++k) {
            double pa[4] = {0.0, 0.0, 0.0, 0.0};
            size_t i = 0;
            double* __restrict H0 = h0.data();
            double* __restrict H1 = h1.data();
            const double* __restrict Z = z.data();
            const double* __restrict F = fv.data();
            const bool project = !(odd && k % 2 == 0);
            if (odd) {
                // Odd phi: only odd k. Invariant at odd k: h0 = h_k, h1 = h_{k-2}; two steps of the
                // three-term recurrence in one (He_{k+2} = (z^2 - 2k - 1) He_k - k (k-1) He_{k-2}):
                // h_{k+2} = ((z^2 - 2k - 1) h_k - sqrt(k (k-1)) h_{k-2}) / sqrt((k+1)(k+2)).
                if (project) {
                    const double c0 = 2.0 * k + 1.0, c1 = std::sqrt(k * (k - 1.0));
                    const double r = 1.0 / std::sqrt((k + 1.0) * (k + 2.0));
                    for (; i + 4 <= n; i += 4) {
                        for (int u = 0; u < 4; ++u) {
                            const double h = H0[i + u], zz = Z[i + u];
                            pa[u] += F[i + u] * h;
                            const double next = ((zz * zz - c0) * h - c1 * H1[i + u]) * r;
                            H1[i + u] = h;
                            H0[i + u] = next;
                        }
                    }
                    for (; i < n; ++i) {
                        const double h = H0[i], zz = Z[i];
                        pa[0] += F[i] * h;
                        const double next = ((zz * zz - c0) * h - c1 * H1[i]) * r;
                        H1[i] = h;
                        H0[i] = next;
                    }
                }
            } else {
                // invariant: h0 = h_k, h1 = h_{k+1}. One pass: the projection a_k = sum fv h_k (four
                // partial sums in a fixed order, so results depend on nothing but n) and the
                // recurrence h_{k+2} = (z h_{k+1} - sqrt(k+1) h_k) / sqrt(k+2).
                const double r1 = std::sqrt(k + 1.0), r2 = 1.0 / std::sqrt(k + 2.0);
                for (; i + 4 <= n; i += 4) {
                    for (int u = 0; u < 4; ++u) {
                        const double h = H0[i + u];
                        pa[u] += F[i + u] * h;
                        const double next = (Z[i + u] * H1[i + u] - r1 * h) * r2;
                        H0[i + u] = H1[i + u];
                        H1[i + u] = next;
                    }
                }
                for (; i < n; ++i) {
                    const double h = H0[i];
                    pa[0] += F[i] * h;
                    const double next = (Z[i] * H1[i] - r1 * h) * r2;
                    H0[i] = H1[i];
                    H1[i] = next;
                }
            }
            // odd phi: even coefficients vanish by symmetry (the half rule cannot see them)
            const double ak = project ? (pa[0] + pa[1]) + (pa[2] + pa[3]) : 0.0;
            a2.push_back(ak * ak);
            a.push_back(ak);
            tail_a = std::max(0.0, tail_a - ak * ak);
            ta.push_back(tail_a);
            if (k >= 1) {
                // Stein: E[phi(sqrt q z) He_k(z)] = sqrt(q) E[phi'(sqrt q z) He_{k-1}(z)], so
                // b_{k-1} = a_k sqrt(k / q): the phi' series comes for free.
                const double bb = ak * ak * k / q;
                b2.push_back(bb);
                b.push_back(ak * std::sqrt(k / q));
                tail_b = std::max(0.0, tail_b - bb);
                tb.push_back(tail_b);
            }
            K = k;
        }
    }

    // For evaluate_cross only: drops the quadrature rule and the recurrence state (no further
    // extension) and the coefficients past the first k whose tails are negligible even at |c| = 1
    // (tails below 1e-30 and 1e-26: the products of two such are far below the tolerances), leaving
    // a, b, ta, tb (~13 KB at k = 400, usually much less).
    void compact() {
        std::size_t n = a.size();
        for (std::size_t k = 0; k < ta.size() && k < tb.size(); ++k) {
            if (ta[k] <= 1e-30 && tb[k] <= 1e-26) {
                n = k + 1;
                break;
            }
        }
        a.resize(std::min(n, a.size()));
        ta.resize(std::min(n, ta.size()));
        b.resize(std::min(n, b.size()));
        tb.resize(std::min(n, tb.size()));
        for (std::vector<double>* v : {&a, &b, &ta, &tb}) v->shrink_to_fit();
        for (std::vector<double>* v : {&a2, &b2, &z, &w, &fv, &h0, &h1}) std::vector<double>().swap(*v);
        k_max = K;  // no further extension
    }

    bool converged_at(double c) const {
        const double cp = std::pow(std::abs(c), K + 1);
        return 0.5 * tail_a * cp <= 1e-14 && 0.5 * tail_b * std::pow(std::abs(c), K) <= 1e-12;
    }

    // E[phi phi], E[phi' phi'] at correlation c, extending the series as needed; false if the
    // truncation error cannot be brought below tolerance with k <= k_max.
    bool evaluate(double c, PairMoments& pm) {
        while (!converged_at(c) && K < k_max) extend(K + 16);
        if (!converged_at(c)) return false;
        const double cp = std::pow(std::abs(c), K + 1), cb = std::pow(std::abs(c), K);
        double fa = 0.0, fb = 0.0;
        for (int k = K; k >= 0; --k) fa = fa * c + a2[k];
        for (int k = K - 1; k >= 0; --k) fb = fb * c + b2[k];
        // the remainders lie in [0, tail c^{K+1}] (phi) and [0, tail c^K] (phi') for c >= 0
        pm.phiphi = fa + (c >= 0.0 ? 0.5 * cp : 0.0) * tail_a;
        pm.dphidphi = fb + (c >= 0.0 ? 0.5 * cb : 0.0) * tail_b;
        return true;
    }
};

// E[phi(u) phi(v)] and E[phi'(u) phi'(v)] for (u, v) of variances (s.q, t.q) and correlation c from
// two series: Mehler's formula holds for any two variances, E[phi phi] = sum_k a_k(s.q) a_k(t.q) c^k
// (the same for b). By Cauchy-Schwarz the remainder after k is at most sqrt(tail_s tail_t) |c|^{k+1};
// the sums stop at the first k where that is below 1e-14 (phi) and 1e-12 (phi'), the tolerances of
// evaluate(). Read-only (both series extended beforehand); false when the coefficients known do
// not reach the tolerance (the caller falls back to the 2-D quadrature).
inline bool evaluate_cross(const PairSeries& s, const PairSeries& t, double c, PairMoments& pm) {
    const double ac = std::abs(c);
    auto stop_at = [ac](const std::vector<double>& t1, const std::vector<double>& t2, double tol) {
        const std::size_t n = std::min(t1.size(), t2.size());
        double p = ac;  // |c|^{k+1}
        for (std::size_t k = 0; k < n; ++k, p *= ac)
            if (std::sqrt(t1[k] * t2[k]) * p <= tol) return static_cast<int>(k);
        return -1;
    };
    const int ka = stop_at(s.ta, t.ta, 1e-14), kb = stop_at(s.tb, t.tb, 1e-12);
    if (ka < 0 || kb < 0) return false;
    double fa = 0.0, fb = 0.0;
    for (int k = ka; k >= 0; --k) fa = fa * c + s.a[k] * t.a[k];
    for (int k = kb; k >= 0; --k) fb = fb * c + s.b[k] * t.b[k];
    pm.phiphi = fa;
    pm.dphidphi = fb;
    return true;
}

// The closed forms of pair_closed_form over rows of pairs, for kernel matrices (the NNGP / NTK
// recursions): pairs (c11, c12[j], c22[j]) sharing the first variance, with everything that depends
// on one variance alone computed once in prepare(). The loops are branch-free (one polynomial
// arcsine with reductions instead of libm's acos/asin calls) and agree with pair_closed_form to a
// few ulp, with the same care at correlations +-1 (the arc-cosine kernel k_1 by a series near
// c = -1) and at large variances.
class PairClosedFormRows {
public:
    // Columns' variances c22 (n >= 0 entries, copied); false when g has no closed form (then
    // evaluate() must not be called).
    bool prepare(const Activation& g, std::int64_t n, const double* c22);
    // phiphi[k], dphidphi[k] for the pair (c11, c12[k], c22[j0 + k]), k < n.
    void evaluate(double c11, std::int64_t j0, std::int64_t n, const double* c12, double* phiphi,
                  double* dphidphi) const;

private:
    ActivationKind kind_ = ActivationKind::Linear;
    double a_ = 1.0, b_ = 0.0;              // homogeneous activations: a max(x,0) - b max(-x,0)
    // per column: c22, sqrt(c22), 1/sqrt(1 + c22), 1/(1 + c22)
    std::vector<double> c22_, s22_, col1_, col2_;
};

}  // namespace statmech_nn
