// Gaussian averages A1, A2, A3, eps_g of the perceptron, closed forms and quadrature.
//
// With a = l u, Q = l^2 = <a^2>, r = l R = <a v>, <v^2> = 1, the closed forms are
//   linear: eps_g = (1 - 2r + Q)/2, A1 = r - Q, A2 = eps_g, A3 = 1 - r.
//   erf(x/sqrt2) (from <g g> = (2/pi) asin(C_ab / sqrt((1+C_aa)(1+C_bb))) and the I3, I4 forms of
//   Saad & Solla with the repeated field a):
//     eps_g = (1/pi) [pi/6 + asin(Q/(1+Q)) - 2 asin(r / sqrt(2(1+Q)))]
//     A1 = 2/(pi (1+Q)) [r / sqrt(2(1+Q) - r^2) - Q / sqrt(1+2Q)]
//     A3 = 2/(pi (1+Q)) [(1+Q-r^2) / sqrt(2(1+Q) - r^2) - r / sqrt(1+2Q)]
//     A2 = 2/(pi^2 sqrt(1+2Q)) [asin((1+2Q-2r^2) / (2(1+2Q-r^2)))
//                               - 2 asin(r / sqrt(2(1+3Q)(1+2Q-r^2))) + asin(Q/(1+3Q))]
//   relu (rho = corr(a, v) = sign(l) R, |l| the scale of a):
//     K  = <relu(a) relu(v)>      = |l|/(2 pi) [sqrt(1-rho^2) + (pi - acos rho) rho]
//     P2 = <Theta(a) Theta(v) v^2> = 1/(2 pi) [pi - acos rho + rho sqrt(1-rho^2)]
//     eps_g = (1/2 + Q/2 - 2K)/2, A1 = K - Q/2, A3 = P2 - r/2, A2 = (P2 - 2K + Q/2)/2.
//   sin, cos, rbf: the same averages written through the Gaussian layer's closed I2, I3, I4 (Saad &
//   Solla's form, fields (a, u, v) with a = l u), which hold at any variance (quadrature cannot
//   follow g(l u) = sin(l u) at large l).
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "statmech_nn/gaussian.hpp"
#include "statmech_nn/perceptron.hpp"

namespace statmech_nn::perceptron {

namespace {
constexpr double kPi = 3.14159265358979323846;

inline double clip1(double x) { return x > 1.0 ? 1.0 : (x < -1.0 ? -1.0 : x); }
inline double safe_asin(double x) { return std::asin(clip1(x)); }

// eps_g = (I2(v, v) - 2 I2(a, v) + I2(a, a)) / 2 with Var a = Q, Cov(a, v) = r, Var v = 1.
double eg_gaussian_layer(const Activation& g, double Q, double r) {
    Eigen::Matrix2d vv, av, aa;
    vv << 1.0, 1.0, 1.0, 1.0;
    av << Q, r, r, 1.0;
    aa << Q, Q, Q, Q;
    return 0.5 * (I2(g, vv) - 2.0 * I2(g, av) + I2(g, aa));
}

// A1 / l = <g'(a) (g(v) - g(a)) u>, A3 = <g'(a) (g(v) - g(a)) v>,
// A2 = <g'(a)^2 (g(v) - g(a))^2> / 2 from I3(x, y, z) = <g'(x) y g(z)> and
// I4(x, y, z, w) = <g'(x) g'(y) g(z) g(w)> over the fields (a, u, v).
Averages averages_gaussian_layer(const Activation& g, double l, double R, bool with_eg) {
    const double Q = l * l, r = l * R;
    // covariance of the fields in the order a, u, v
    const double cov[3][3] = {{Q, l, r}, {l, 1.0, R}, {r, R, 1.0}};
    auto c3 = [&](int i, int j, int k) {
        const int ix[3] = {i, j, k};
        Eigen::Matrix3d C;
        for (int p = 0; p < 3; ++p)
            for (int q = 0; q < 3; ++q) C(p, q) = cov[ix[p]][ix[q]];
        return C;
    };
    auto c4 = [&](int i, int j, int k, int m) {
        const int ix[4] = {i, j, k, m};
        Eigen::Matrix4d C;
        for (int p = 0; p < 4; ++p)
            for (int q = 0; q < 4; ++q) C(p, q) = cov[ix[p]][ix[q]];
        return C;
    };
    constexpr int a = 0, u = 1, v = 2;
    Averages out;
    out.A1_over_l = I3(g, c3(a, u, v)) - I3(g, c3(a, u, a));
    out.A1 = l * out.A1_over_l;
    out.A3 = I3(g, c3(a, v, v)) - I3(g, c3(a, v, a));
    out.A2 = 0.5 * (I4(g, c4(a, a, v, v)) - 2.0 * I4(g, c4(a, a, a, v)) + I4(g, c4(a, a, a, a)));
    if (with_eg) out.eg = eg_gaussian_layer(g, Q, r);
    return out;
}
}  // namespace

Rule rule_from_name(const std::string& name) {
    if (name == "sgd") return Rule::SGD;
    if (name == "wn") return Rule::WN;
    throw std::invalid_argument("rule: unknown value '" + name + "'; choose one of sgd, wn");
}

std::string to_string(Rule rule) { return rule == Rule::SGD ? "sgd" : "wn"; }

bool closed_form_available(const Activation& g) {
    // The A1, A2, A3 closed forms need I3 and I4 (Saad & Solla) in closed form.
    return g.traits().closed_form_34;
}

Averages averages_closed(const Activation& g, double l, double R, bool with_eg) {
    R = clip1(R);
    const double Q = l * l;
    const double r = l * R;
    Averages a;
    switch (g.kind) {
        case ActivationKind::Linear: {
            a.eg = 0.5 * (1.0 - 2.0 * r + Q);
            a.A1_over_l = R - l;
            a.A1 = r - Q;
            a.A2 = a.eg;
            a.A3 = 1.0 - r;
            return a;
        }
        case ActivationKind::Erf: {
            const double onepQ = 1.0 + Q;
            const double s1 = std::sqrt(2.0 * onepQ - r * r);  // >= sqrt(1+Q) > 0 since r^2 <= Q
            const double s2 = std::sqrt(1.0 + 2.0 * Q);
            const double pref = 2.0 / (kPi * onepQ);
            if (with_eg) a.eg = (kPi / 6.0 + safe_asin(Q / onepQ) - 2.0 * safe_asin(r / std::sqrt(2.0 * onepQ))) / kPi;
            a.A1_over_l = pref * (R / s1 - l / s2);
            a.A1 = l * a.A1_over_l;
            a.A3 = pref * ((onepQ - r * r) / s1 - r / s2);
            const double d = 1.0 + 2.0 * Q - r * r;  // >= 1 + Q > 0
            const double e = 1.0 + 3.0 * Q;
            a.A2 = 2.0 / (kPi * kPi * s2) *
                   (safe_asin((1.0 + 2.0 * Q - 2.0 * r * r) / (2.0 * d)) - 2.0 * safe_asin(r / std::sqrt(2.0 * e * d)) +
                    safe_asin(Q / e));
            return a;
        }
        case ActivationKind::Relu: {
            const double la = std::fabs(l);
            const double rho = l < 0.0 ? -R : R;
            const double sq = std::sqrt(std::max(0.0, 1.0 - rho * rho));
            const double ac = std::acos(rho);
            const double k = (sq + (kPi - ac) * rho) / (2.0 * kPi);  // K / |l|
            const double K = la * k;
            const double P2 = (kPi - ac + rho * sq) / (2.0 * kPi);
            a.eg = 0.5 * (0.5 + 0.5 * Q - 2.0 * K);
            // A1 / l = <Theta(lu) delta0 u>: for l > 0 it is k - l/2; for l < 0, -k - l/2 (a = |l|(-u)).
            a.A1_over_l = (l < 0.0 ? -k : k) - 0.5 * l;
            a.A1 = K - 0.5 * Q;
            a.A3 = P2 - 0.5 * r;
            a.A2 = 0.5 * (P2 - 2.0 * K + 0.5 * Q);
            return a;
        }
        case ActivationKind::Sin:
        case ActivationKind::Cos:
        case ActivationKind::Rbf: return averages_gaussian_layer(g, l, R, with_eg);
        default:
            throw std::invalid_argument("activation: no closed form for '" + g.name() +
                                        "' (use the quadrature averages)");
    }
}

std::vector<double> outer_breakpoints(const Activation& g, double l) {
    std::vector<double> b = g.kinks();
    const double al = std::fabs(l);
    if (al > 1.25) {
        // g'(l u) has width ~1/|l|: for |R| ~ 1 the outer integrand is that narrow, and plain
        // Gauss-Hermite converges slowly; Gauss-Legendre panels of width h = 1.5/|l| resolve it.
        // At most 16 such panels on each side, then panels growing geometrically (ratio 1.5) out to
        // |u| = 6, so the work stays bounded (~60 edges) however large |l| is.
        const double h = 1.5 / al;
        double x = h;
        for (int i = 0; i < 16 && x < 6.0; ++i, x += h) {
            b.push_back(x);
            b.push_back(-x);
        }
        for (x *= 1.5; x < 6.0; x *= 1.5) {
            b.push_back(x);
            b.push_back(-x);
        }
        b.push_back(0.0);
    }
    std::sort(b.begin(), b.end());
    b.erase(std::unique(b.begin(), b.end()), b.end());
    return b;
}

// The 2-D rule of the Gaussian layer resolves g(v) at its kinks and scale points, but the student
// factor is g(l u): its kinks and scale points in u are those of g divided by l, and the rules use
// panels there (plain Gauss–Hermite converges only algebraically for tanh-like g: ~1e-8 at l = 1).
namespace {
std::vector<double> inner_breakpoints(const Activation& g, double l) {
    std::vector<double> ku;
    if (l == 0.0) return ku;
    for (double k : g.kinks()) ku.push_back(k / l);
    if (!g.piecewise() && std::fabs(l) <= 1.25)
        for (double k : g.scale_points()) ku.push_back(k / l);
    if (std::fabs(l) > 1.25 && g.kinks().empty()) {
        // g'(l u) is a spike of width ~1/|l| at u = 0 inside the inner (u | v) average too (and
        // g(l u) a step): panel edges at 0 and +-h 4^j, h = max(1.5/|l|, 1e-8) (bounded work: at
        // most ~30 edges; below 1e-8 the spike's weight is negligible at double precision).
        const double h = std::max(1.5 / std::fabs(l), 1e-8);
        ku.push_back(0.0);
        for (double x = h; x < 10.0; x *= 4.0) {
            ku.push_back(x);
            ku.push_back(-x);
        }
    }
    return ku;
}
// Unit-variance fields: composite Gauss–Legendre panels (16 nodes, <= 3 sd wide) split at the scale
// points instead of Gauss–Hermite; 1e-14 relative against 48-node panels of 0.5 sd for tanh, sigmoid,
// gelu and swish at l <= 1.25 (larger |l| adds the graded edges around u = 0 below).
QuadratureSettings panel_settings(QuadratureSettings qs) {
    qs.hermite_max_sd = std::min(qs.hermite_max_sd, 0.25);
    qs.legendre_nodes = std::min(qs.legendre_nodes, 16);
    return qs;
}
}  // namespace

Averages averages_quadrature(const Activation& g, double l, double R, const QuadratureSettings& qs_in) {
    R = clip1(R);
    const QuadratureSettings qs = panel_settings(qs_in);
    // Coordinates (v, u) ~ N(0, [[1, R], [R, 1]]), a = l u; kinks of g in v, and at u = kink / l.
    const std::vector<double> kv = outer_breakpoints(g, l);
    const std::vector<double> ku = inner_breakpoints(g, l);
    // One pass over the nodes for all four averages (g(v), g(l u), g'(l u) evaluated once per node).
    double m[4];
    mean2_vector(
        [&](double v, double u, double* out) {
            const double d0 = g.value(v) - g.value(l * u);
            const double gd = g.deriv(l * u) * d0;
            out[0] = gd * u;
            out[1] = 0.5 * gd * gd;
            out[2] = gd * v;
            out[3] = 0.5 * d0 * d0;
        },
        4, 1.0, R, 1.0, kv, ku, qs, m);
    Averages a;
    a.A1_over_l = m[0];
    a.A1 = l * m[0];
    a.A2 = m[1];
    a.A3 = m[2];
    a.eg = m[3];
    return a;
}

Averages averages(const Activation& g, double l, double R) {
    return closed_form_available(g) ? averages_closed(g, l, R) : averages_quadrature(g, l, R);
}

double eg_closed(const Activation& g, double l, double R) {
    R = clip1(R);
    const double Q = l * l;
    const double r = l * R;
    switch (g.kind) {
        case ActivationKind::Linear: return 0.5 * (1.0 - 2.0 * r + Q);
        case ActivationKind::Erf:
            return (kPi / 6.0 + safe_asin(Q / (1.0 + Q)) - 2.0 * safe_asin(r / std::sqrt(2.0 * (1.0 + Q)))) / kPi;
        case ActivationKind::Relu: {
            const double rho = l < 0.0 ? -R : R;
            const double K = std::fabs(l) * (std::sqrt(std::max(0.0, 1.0 - rho * rho)) + (kPi - std::acos(rho)) * rho) /
                             (2.0 * kPi);
            return 0.5 * (0.5 + 0.5 * Q - 2.0 * K);
        }
        case ActivationKind::Sin:
        case ActivationKind::Cos:
        case ActivationKind::Rbf: return eg_gaussian_layer(g, Q, r);
        default: throw std::invalid_argument("activation: no closed form for '" + g.name() + "'");
    }
}

double generalization_error(const Activation& g, double l, double R) {
    if (closed_form_available(g)) return eg_closed(g, l, R);
    R = clip1(R);
    return mean2(
        [&](double v, double u) {
            const double d = g.value(v) - g.value(l * u);
            return 0.5 * d * d;
        },
        1.0, R, 1.0, outer_breakpoints(g, l), inner_breakpoints(g, l), panel_settings({}));
}

FixedPointConstants fixed_point_constants(const Activation& g) {
    FixedPointConstants c;
    switch (g.kind) {
        case ActivationKind::Linear: c.G = c.H = c.F4 = 1.0; return c;
        case ActivationKind::Erf:
            // g' = sqrt(2/pi) exp(-a^2/2): <e^{-a^2}> = 1/sqrt3, <a^2 e^{-a^2}> = 1/(3 sqrt3), <e^{-2a^2}> = 1/sqrt5.
            c.G = 2.0 / (kPi * std::sqrt(3.0));
            c.H = 2.0 / (3.0 * std::sqrt(3.0) * kPi);
            c.F4 = 4.0 / (kPi * kPi * std::sqrt(5.0));
            return c;
        case ActivationKind::Relu: c.G = c.H = c.F4 = 0.5; return c;
        default: break;
    }
    // Composite Gauss-Legendre panels (split at +-1.5, +-3 and at the kinks): plain 48-node
    // Gauss-Hermite is only ~1e-4 accurate for <g'^4> of tanh.
    std::vector<double> kinks = g.kinks();
    for (double b : {-4.5, -3.0, -1.5, 0.0, 1.5, 3.0, 4.5}) kinks.push_back(b);
    std::sort(kinks.begin(), kinks.end());
    kinks.erase(std::unique(kinks.begin(), kinks.end()), kinks.end());
    c.G = normal_mean([&](double a) { const double d = g.deriv(a); return d * d; }, 0.0, 1.0, kinks);
    c.H = normal_mean([&](double a) { const double d = g.deriv(a); return d * d * a * a; }, 0.0, 1.0, kinks);
    c.F4 = normal_mean([&](double a) { const double d = g.deriv(a); return d * d * d * d; }, 0.0, 1.0, kinks);
    return c;
}

}  // namespace statmech_nn::perceptron
