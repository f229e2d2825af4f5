// Gaussian moments of one activation (see gaussian_moments.hpp).
#include "statmech_nn/gaussian_moments.hpp"
#include "statmech_nn/parallel.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <Eigen/Dense>

namespace statmech_nn {

namespace gaussian_detail {
constexpr double kPi = 3.14159265358979323846;
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Composite Gauss–Legendre settings for the adapted rules.
const QuadratureSettings& panel_settings() {
    static const QuadratureSettings qs{48, 20, 9.0, 3.0};
    return qs;
}

// Length scale of the activation's structure (sigmoid and swish are tanh-like at scale 2).
double activation_scale(const Activation& g) { return g.traits().scale; }

bool is_closed_form(const Activation& g) { return g.traits().closed_form_2d; }

// Smooth odd activations (phi(-x) = -phi(x)): phi^2, phi'^2 and phi phi'' are even, and the Hermite
// coefficients of phi vanish for even k, so the Gaussian rules only need the half line x >= 0.
bool is_smooth_odd(const Activation& g) { return g.smooth_odd(); }

// The x >= 0 half of the symmetric rule normal_rule(0, sd, {}, qs, ., ., features) would build
// (composite Gauss–Legendre panels split at the feature points, z in [0, z_max]), with doubled
// weights: sum_i w_i f(x_i) = E f(x) for even f, x ~ N(0, sd^2). Same panels as the full rule.
void half_rule(double sd, const std::vector<double>& features, const QuadratureSettings& qs, std::vector<double>& x,
               std::vector<double>& w) {
    x.clear();
    w.clear();
    thread_local std::vector<double> edges;
    edges.assign({0.0, qs.z_max});
    for (double f : features) {
        const double z = f / sd;
        if (z > 0.0 && z < qs.z_max) edges.push_back(z);
    }
    std::sort(edges.begin(), edges.end());
    edges.erase(std::unique(edges.begin(), edges.end()), edges.end());
    append_gauss_panels(edges, 0.0, sd, 2.0, qs, x, w);
}

const std::vector<double>& smooth_features() {
    static const std::vector<double> f{0.0, -1.0, 1.0, -2.0, 2.0, -4.0, 4.0, -8.0, 8.0, -16.0, 16.0};
    return f;
}

// activation_rule restricted to x >= 0 (doubled weights) for a smooth odd activation at mean 0.
void half_activation_rule(const Activation& g, double sd, std::vector<double>& x, std::vector<double>& w) {
    const double s = activation_scale(g);
    if (sd <= 0.3 * s) {
        const QuadRule& r = gauss_hermite_rule(64);  // symmetric nodes, none at 0
        x.clear();
        w.clear();
        for (size_t i = 0; i < r.x.size(); ++i) {
            if (r.x[i] > 0.0) {
                x.push_back(sd * r.x[i]);
                w.push_back(2.0 * r.w[i]);
            }
        }
        return;
    }
    thread_local std::vector<double> bp;
    bp.clear();
    for (double f : smooth_features()) bp.push_back(f * s);
    half_rule(sd, bp, panel_settings(), x, w);
}
}  // namespace gaussian_detail

using namespace gaussian_detail;

namespace {

// Smooth activations: a Gaussian narrower than 0.3 x the activation's scale sees an integrand
// analytic in a strip > 3 standard deviations wide: 64-node Gauss–Hermite.
constexpr double kHermiteMaxSd = 0.3;
const double kFeatures[] = {0.0, -1.0, 1.0, -2.0, 2.0, -4.0, 4.0, -8.0, 8.0, -16.0, 16.0};
const double kGraded[] = {-8.0, -4.0, -2.0, -1.0, -0.5, 0.5, 1.0, 2.0, 4.0, 8.0};

// E f(x), x ~ N(mean, sd^2) for the activation's integrands, on the one rule builder
// (gaussian.hpp's normal_rule): `hard` edges are kinks of the integrand, `soft` edges points where it
// changes shape; with smooth_scale > 0, 64-node Gauss–Hermite when the Gaussian is narrower than
// 0.3 x smooth_scale and no kink lies within z_max sd; otherwise composite Gauss–Legendre panels
// (20 nodes, <= 3 sd wide) on [-9, 9] sd split at every edge.
void gaussian_rule(double mean, double sd, const std::vector<double>& hard, const std::vector<double>& soft,
                   double smooth_scale, std::vector<double>& x, std::vector<double>& w) {
    QuadratureSettings qs = panel_settings();
    qs.hermite_nodes = 64;
    qs.hermite_max_sd = smooth_scale > 0.0 ? kHermiteMaxSd * smooth_scale : -1.0;
    normal_rule(mean, sd, hard, qs, x, w, &soft);
}

// Edges of phi itself: its kinks (hard) and, for smooth phi, its feature points (soft).
void activation_edges(const Activation& g, std::vector<double>& hard, std::vector<double>& soft, double& scale) {
    hard = g.kinks();
    soft.clear();
    scale = 0.0;
    if (g.kind == ActivationKind::Linear || g.piecewise()) return;
    scale = activation_scale(g);
    for (double f : kFeatures) soft.push_back(f * scale);
}

}  // namespace

void activation_rule(const Activation& g, double mean, double sd, std::vector<double>& x, std::vector<double>& w) {
    if (g.kind == ActivationKind::Linear && sd > 0.0) {
        const QuadRule& r = gauss_hermite_rule(8);  // exact for the polynomials we integrate
        x.resize(r.x.size());
        w = r.w;
        for (size_t i = 0; i < r.x.size(); ++i) x[i] = mean + sd * r.x[i];
        return;
    }
    thread_local std::vector<double> hard, soft;
    double scale;
    activation_edges(g, hard, soft, scale);
    gaussian_rule(mean, sd, hard, soft, scale, x, w);
}

LayerMoments layer_moments(const Activation& g, double q) {
    LayerMoments m;
    if (!(q >= 0.0)) throw std::invalid_argument("q: must be >= 0");
    if (std::isinf(q)) throw std::invalid_argument("q: must be finite");
    switch (g.kind) {
        case ActivationKind::Linear: m.phi2 = q; m.dphi2 = 1.0; m.slope = 1.0; return m;
        case ActivationKind::Relu: m.phi2 = 0.5 * q; m.dphi2 = 0.5; m.slope = 0.5; return m;
        case ActivationKind::LeakyRelu: {
            const double a2 = g.slope * g.slope;
            m.phi2 = 0.5 * q * (1.0 + a2); m.dphi2 = 0.5 * (1.0 + a2); m.slope = m.dphi2;
            return m;
        }
        case ActivationKind::Erf:
            m.phi2 = 2.0 / kPi * std::asin(q / (1.0 + q));
            m.dphi2 = 2.0 / kPi / std::sqrt(1.0 + 2.0 * q);
            m.slope = 2.0 / kPi / ((1.0 + q) * std::sqrt(1.0 + 2.0 * q));
            return m;
        case ActivationKind::ErfSigmoid: {
            // the pair closed forms at c12 = c11 = c22 = q: r = q/(1 + q), D = 1 + 2q
            const double sD = std::sqrt(1.0 + 2.0 * q);
            m.phi2 = std::acos(-q / (1.0 + q)) / (2.0 * kPi);
            m.dphi2 = 1.0 / (2.0 * kPi * sD);
            m.slope = 1.0 / (2.0 * kPi * (1.0 + q) * sD);
            return m;
        }
        case ActivationKind::Gelu: {
            // E phi^2 = q P + q^2 / (pi (1 + q) sqrt(1 + 2q)), P = acos(-q/(1+q)) / (2 pi), and its
            // q-derivative P + q / (2 pi (1 + q) sqrt(1 + 2q)) + q (2 + 4q + q^2) / (pi (1 + q)^2 (1 + 2q)^{3/2});
            // E phi'^2 = P + q / (pi (1 + q) sqrt(1 + 2q)) + q / (2 pi (1 + 2q)^{3/2}). All terms >= 0.
            const double e = 1.0 + q, D = 1.0 + 2.0 * q, sD = std::sqrt(D);
            const double P = std::acos(-q / e) / (2.0 * kPi);
            m.phi2 = q * P + q * q / (kPi * e * sD);
            m.dphi2 = P + q / (kPi * e * sD) + q / (2.0 * kPi * D * sD);
            m.slope = P + q / (2.0 * kPi * e * sD) + q * (2.0 + 4.0 * q + q * q) / (kPi * e * e * D * sD);
            return m;
        }
        case ActivationKind::Abs: m.phi2 = q; m.dphi2 = 1.0; m.slope = 1.0; return m;
        case ActivationKind::Sin:
        case ActivationKind::Cos: {
            // E sin^2 = (1 - e^{-2q})/2, E cos^2 = (1 + e^{-2q})/2; sin' = cos, cos' = -sin
            const double s2 = -0.5 * std::expm1(-2.0 * q), c2 = 0.5 * (1.0 + std::exp(-2.0 * q));
            const bool sn = g.kind == ActivationKind::Sin;
            m.phi2 = sn ? s2 : c2;
            m.dphi2 = sn ? c2 : s2;
            m.slope = (sn ? 1.0 : -1.0) * std::exp(-2.0 * q);
            return m;
        }
        case ActivationKind::Rbf: m.phi2 = 1.0; m.dphi2 = 2.0; m.slope = 0.0; return m;
        case ActivationKind::Step:
            // P(x > 0) = 1/2; at q = 0 every x is 0 and step(0) = 1/2. phi' = 0 almost everywhere.
            m.phi2 = q > 0.0 ? 0.5 : 0.25;
            m.dphi2 = 0.0;
            m.slope = 0.0;
            return m;
        default: break;
    }
    if (q == 0.0) {
        const double v = g.value(0.0), d = g.deriv(0.0);
        m.phi2 = v * v;
        m.dphi2 = d * d;
        m.slope = g.piecewise() ? d * d : d * d + v * g.deriv2(0.0);
        return m;
    }
    thread_local std::vector<double> x, w;
    if (is_smooth_odd(g)) half_activation_rule(g, std::sqrt(q), x, w);  // even integrands
    else activation_rule(g, 0.0, std::sqrt(q), x, w);
    double s0 = 0.0, s1 = 0.0, s2 = 0.0;
    const bool piece = g.piecewise();
    for (size_t i = 0; i < x.size(); ++i) {
        double v, d;
        value_deriv(g, x[i], v, d);
        s0 += w[i] * v * v;
        s1 += w[i] * d * d;
        // Smooth: Stein's lemma, d/dq E[phi^2] = E[phi'^2 + phi phi''] (no cancellation at small q).
        const double d2 = g.kind == ActivationKind::Tanh ? -2.0 * v * d : (piece ? 0.0 : g.deriv2(x[i]));
        s2 += w[i] * (piece ? x[i] * v * d : d * d + v * d2);
    }
    m.phi2 = s0;
    m.dphi2 = s1;
    m.slope = piece ? s2 / q : s2;
    return m;
}

PairMoments pair_quadrature(const Activation& g, double q11, double q12, double q22) {
    // Both factors are the same function: condition on the variable of larger variance, so that
    // the inner conditional mean beta x1 has |beta| <= 1 and the outer integrand is no narrower
    // than phi itself.
    if (q22 > q11) std::swap(q11, q22);
    PairMoments pm;
    double v0, d0;
    if (!(q11 > 0.0)) {
        value_deriv(g, 0.0, v0, d0);
        pm.phiphi = v0 * v0;
        pm.dphidphi = d0 * d0;
        return pm;
    }
    const double sd1 = std::sqrt(q11);
    double beta = 0.0, sd2 = 0.0;
    if (q22 > 0.0) {
        const double rho = std::max(-1.0, std::min(1.0, q12 / std::sqrt(q11 * q22)));
        beta = rho * std::sqrt(q22 / q11);
        sd2 = std::sqrt(q22 * std::max(0.0, (1.0 - rho) * (1.0 + rho)));
    }
    thread_local std::vector<double> hard, soft, outer_hard, outer_soft, x1, w1, x2, w2;
    double scale;
    activation_edges(g, hard, soft, scale);
    outer_hard = hard;
    outer_soft = soft;
    if (beta != 0.0) {
        // The inner average G(m) = E phi(m + sd2 z) at m = beta x1 changes shape where m crosses
        // phi's kinks (a transition of width sd2: graded edges) and feature points (and, for a wide
        // inner Gaussian, on the scale sd2).
        for (double k : hard) {
            outer_hard.push_back(k / beta);
            if (sd2 > 0.0)
                for (double t : kGraded) outer_soft.push_back((k + t * sd2) / beta);
        }
        if (scale > 0.0) {
            for (double f : kFeatures) outer_soft.push_back(f * scale / beta);
            if (sd2 > scale)
                for (double f : kFeatures) outer_soft.push_back(f * sd2 / beta);
        } else if (!hard.empty() && sd2 > 0.0) {
            for (double f : kFeatures) outer_soft.push_back(f * sd2 / beta);
        }
    }
    gaussian_rule(0.0, sd1, outer_hard, outer_soft, scale, x1, w1);
    double a = 0.0, b = 0.0;
    if (sd2 == 0.0) {
        for (size_t i = 0; i < x1.size(); ++i) {
            double v1, d1, v2, d2;
            value_deriv(g, x1[i], v1, d1);
            value_deriv(g, beta * x1[i], v2, d2);
            a += w1[i] * v1 * v2;
            b += w1[i] * d1 * d2;
        }
    } else {
        for (size_t i = 0; i < x1.size(); ++i) {
            double v1, d1;
            value_deriv(g, x1[i], v1, d1);
            gaussian_rule(beta * x1[i], sd2, hard, soft, scale, x2, w2);
            double sa = 0.0, sb = 0.0;
            for (size_t j = 0; j < x2.size(); ++j) {
                double v2, d2;
                value_deriv(g, x2[j], v2, d2);
                sa += w2[j] * v2;
                sb += w2[j] * d2;
            }
            a += w1[i] * v1 * sa;
            b += w1[i] * d1 * sb;
        }
    }
    pm.phiphi = a;
    pm.dphidphi = b;
    return pm;
}

PairMoments pair_moments(const Activation& g, double q11, double q12, double q22) {
    PairMoments pm;
    if (pair_closed_form(g, q11, q12, q22, pm)) return pm;
    return pair_quadrature(g, q11, q12, q22);
}

void arccos_kernel(double alpha, const double* c, std::int64_t n, double* out) {
    for (std::int64_t i = 0; i < n; ++i) {
        if ((i & 1023) == 0) check_interrupt();
        out[i] = arccos_kernel(alpha, c[i]);
    }
}

}  // namespace statmech_nn
