// Quadrature rules and nested Gaussian expectations.
#include <Eigen/Eigenvalues>
#include <algorithm>
#include <limits>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>

#include "statmech_nn/gaussian.hpp"
#include "statmech_nn/parallel.hpp"

namespace statmech_nn {

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;

QuadRule compute_hermite(int n) {
    // Golub–Welsch for the probabilists' Hermite polynomials (recurrence coefficient sqrt(k)).
    Eigen::MatrixXd J = Eigen::MatrixXd::Zero(n, n);
    for (int k = 1; k < n; ++k) J(k, k - 1) = J(k - 1, k) = std::sqrt(static_cast<double>(k));
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(J);
    QuadRule r;
    r.x.resize(n);
    r.w.resize(n);
    for (int i = 0; i < n; ++i) {
        r.x[i] = es.eigenvalues()[i];
        const double v = es.eigenvectors()(0, i);
        r.w[i] = v * v;
    }
    // Symmetrise (removes eigen-solver noise) and renormalise.
    for (int i = 0; i < n / 2; ++i) {
        const double x = 0.5 * (r.x[n - 1 - i] - r.x[i]);
        const double w = 0.5 * (r.w[n - 1 - i] + r.w[i]);
        r.x[i] = -x;
        r.x[n - 1 - i] = x;
        r.w[i] = r.w[n - 1 - i] = w;
    }
    if (n % 2 == 1) r.x[n / 2] = 0.0;
    double s = 0.0;
    for (double w : r.w) s += w;
    for (double& w : r.w) w /= s;
    return r;
}

QuadRule compute_legendre(int n) {
    QuadRule r;
    r.x.resize(n);
    r.w.resize(n);
    for (int i = 0; i < n; ++i) {
        double x = std::cos(kPi * (i + 0.75) / (n + 0.5));
        double dp = 0.0;
        for (int it = 0; it < 100; ++it) {
            double p0 = 1.0, p1 = x;
            for (int k = 2; k <= n; ++k) {
                const double p2 = ((2.0 * k - 1.0) * x * p1 - (k - 1.0) * p0) / k;
                p0 = p1;
                p1 = p2;
            }
            if (n == 1) { p1 = x; p0 = 1.0; }
            dp = n * (x * p1 - p0) / (x * x - 1.0);
            const double dx = p1 / dp;
            x -= dx;
            if (std::abs(dx) < 1e-16) break;
        }
        double p0 = 1.0, p1 = x;
        for (int k = 2; k <= n; ++k) {
            const double p2 = ((2.0 * k - 1.0) * x * p1 - (k - 1.0) * p0) / k;
            p0 = p1;
            p1 = p2;
        }
        dp = n * (x * p1 - p0) / (x * x - 1.0);
        r.x[n - 1 - i] = x;
        r.w[n - 1 - i] = 2.0 / ((1.0 - x * x) * dp * dp);
    }
    return r;
}

template <class Compute>
const QuadRule& cached_rule(std::map<int, std::unique_ptr<QuadRule>>& cache, std::mutex& mu, int n, Compute compute) {
    if (n < 1 || n > 2000) throw std::invalid_argument("quadrature: node count must be in [1, 2000]");
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(n);
    if (it != cache.end()) return *it->second;
    auto rule = std::make_unique<QuadRule>(compute(n));
    const QuadRule& ref = *rule;
    cache.emplace(n, std::move(rule));
    return ref;
}

}  // namespace

const QuadRule& gauss_hermite_rule(int n) {
    static std::map<int, std::unique_ptr<QuadRule>> cache;
    static std::mutex mu;
    return cached_rule(cache, mu, n, compute_hermite);
}

const QuadRule& gauss_legendre_rule(int n) {
    static std::map<int, std::unique_ptr<QuadRule>> cache;
    static std::mutex mu;
    return cached_rule(cache, mu, n, compute_legendre);
}

void append_gauss_panels(const std::vector<double>& z_edges, double mean, double sd, double weight_scale,
                         const QuadratureSettings& qs, std::vector<double>& x, std::vector<double>& w) {
    const QuadRule& gl = gauss_legendre_rule(qs.legendre_nodes);
    const double c = weight_scale * kInvSqrt2Pi;
    for (size_t p = 0; p + 1 < z_edges.size(); ++p) {
        const double a = z_edges[p], b = z_edges[p + 1];
        const int pieces = std::max(1, static_cast<int>(std::ceil((b - a) / qs.max_panel)));
        const double len = (b - a) / pieces;
        for (int q = 0; q < pieces; ++q) {
            const double half = 0.5 * len, mid = a + q * len + half;
            for (size_t i = 0; i < gl.x.size(); ++i) {
                const double z = mid + half * gl.x[i];
                x.push_back(mean + sd * z);
                w.push_back(half * gl.w[i] * c * std::exp(-0.5 * z * z));
            }
        }
    }
}

void normal_rule(double mean, double sd, const std::vector<double>& breakpoints, const QuadratureSettings& qs,
                 std::vector<double>& x, std::vector<double>& w, const std::vector<double>* scale_points) {
    x.clear();
    w.clear();
    if (!(sd > 0.0)) {
        x.push_back(mean);
        w.push_back(1.0);
        return;
    }
    thread_local std::vector<double> z;
    z.clear();
    for (double e : breakpoints) {
        const double t = (e - mean) / sd;
        if (t > -qs.z_max && t < qs.z_max) z.push_back(t);
    }
    const bool have_scale = scale_points && !scale_points->empty();
    if (z.empty() && (!have_scale || sd <= qs.hermite_max_sd)) {
        // No kink within z_max sd and a Gaussian narrow at the integrand's scale: Gauss–Hermite.
        const QuadRule& r = gauss_hermite_rule(qs.hermite_nodes);
        x.resize(r.x.size());
        w = r.w;
        for (size_t i = 0; i < r.x.size(); ++i) x[i] = mean + sd * r.x[i];
        return;
    }
    if (have_scale)
        for (double e : *scale_points) {
            const double t = (e - mean) / sd;
            if (t > -qs.z_max && t < qs.z_max) z.push_back(t);
        }
    z.push_back(-qs.z_max);
    z.push_back(qs.z_max);
    std::sort(z.begin(), z.end());
    size_t m = 1;
    for (size_t i = 1; i < z.size(); ++i)
        if (z[i] - z[m - 1] > 1e-10) z[m++] = z[i];
    z.resize(m);
    z.back() = qs.z_max;
    append_gauss_panels(z, mean, sd, 1.0, qs, x, w);
}


void weighted_composite_rule(double lo, double hi, std::vector<double> breaks, double max_width, int nodes,
                             const std::function<double(double)>& logw, std::vector<double>& xs,
                             std::vector<double>& ws, bool graded) {
    xs.clear();
    ws.clear();
    breaks.push_back(lo);
    breaks.push_back(hi);
    std::sort(breaks.begin(), breaks.end());
    const QuadRule& gl = gauss_legendre_rule(nodes);
    std::vector<double> lw;
    double lmax = -std::numeric_limits<double>::infinity();
    for (std::size_t p = 0; p + 1 < breaks.size(); ++p) {
        const double a = std::max(lo, breaks[p]), b = std::min(hi, breaks[p + 1]);
        if (!(b > a)) continue;
        const int n_sub = std::max(1, static_cast<int>(std::ceil((b - a) / max_width)));
        const double width = (b - a) / n_sub;
        for (int s = 0; s < n_sub; ++s) {
            const double a_s = a + s * width, half = 0.5 * width, mid = a_s + half;
            for (std::size_t k = 0; k < gl.x.size(); ++k) {
                double x = mid + half * gl.x[k], jac = half;
                if (graded) {
                    // x = a + width s(xi), s = xi^3 / (xi^3 + (1 - xi)^3): smooths algebraic endpoint
                    // singularities (sqrt-type, where a kink meets the end of an inner range).
                    const double xi = 0.5 * (gl.x[k] + 1.0);
                    const double u = xi * xi * xi, v = (1 - xi) * (1 - xi) * (1 - xi), den = u + v;
                    x = a_s + width * u / den;
                    jac = 0.5 * width * 3 * xi * xi * (1 - xi) * (1 - xi) / (den * den);
                }
                const double l = logw(x);
                xs.push_back(x);
                ws.push_back(jac * gl.w[k]);
                lw.push_back(l);
                lmax = std::max(lmax, l);
            }
        }
    }
    double total = 0;
    for (std::size_t k = 0; k < ws.size(); ++k) {
        ws[k] *= std::isfinite(lw[k]) ? std::exp(lw[k] - lmax) : 0.0;
        total += ws[k];
    }
    for (double& w : ws) w /= total;  // normalised weights: E[1] = 1 exactly
}

namespace {
// A generic integrand is assumed to have its features at unit scale in x (like every activation).
const std::vector<double> kGenericScalePoints{-4.0, -1.5, 0.0, 1.5, 4.0};
}  // namespace

double normal_mean(const std::function<double(double)>& f, double mean, double sd, const std::vector<double>& breakpoints,
                   const QuadratureSettings& qs) {
    std::vector<double> x, w;
    normal_rule(mean, sd, breakpoints, qs, x, w, &kGenericScalePoints);
    double s = 0.0;
    for (size_t i = 0; i < x.size(); ++i) s += w[i] * f(x[i]);
    return s;
}

GaussFactor factor_value(const Activation& g) {
    return {[g](double x) { return g.value(x); }, g.kinks(), g.scale_points()};
}
GaussFactor factor_deriv(const Activation& g) {
    return {[g](double x) { return g.deriv(x); }, g.kinks(), g.scale_points()};
}
GaussFactor factor_identity() { return {[](double x) { return x; }, {}, {}}; }

namespace {

// Lower-triangular L with C = L L^T; a (numerically) zero pivot marks a variable that is fixed by
// the previous ones (its column is zeroed). Throws if C is not PSD.
Eigen::MatrixXd tolerant_cholesky(const Eigen::MatrixXd& C) {
    const Eigen::Index d = C.rows();
    Eigen::MatrixXd L = Eigen::MatrixXd::Zero(d, d);
    double scale = 0.0;
    for (Eigen::Index i = 0; i < d; ++i) scale = std::max(scale, std::abs(C(i, i)));
    for (Eigen::Index k = 0; k < d; ++k) {
        double dk = C(k, k);
        for (Eigen::Index j = 0; j < k; ++j) dk -= L(k, j) * L(k, j);
        const double tol = 1e-12 * std::max(std::abs(C(k, k)), 1e-300);
        if (dk < -1e-9 * std::max(scale, 1e-300)) throw std::invalid_argument("C: not positive semidefinite");
        if (dk <= tol) continue;  // degenerate direction
        L(k, k) = std::sqrt(dk);
        for (Eigen::Index i = k + 1; i < d; ++i) {
            double v = C(i, k);
            for (Eigen::Index j = 0; j < k; ++j) v -= L(i, j) * L(k, j);
            L(i, k) = v / L(k, k);
        }
    }
    return L;
}

struct Nested {
    const std::vector<GaussFactor>& fs;
    const Eigen::MatrixXd& L;
    const QuadratureSettings& qs;
    int d;
    std::vector<std::vector<double>> xs, ws;  // the rule of each level (each level owns its own)
    std::vector<std::vector<double>> means;   // means[k][r]: conditional means of x_r at level k

    Nested(const std::vector<GaussFactor>& f, const Eigen::MatrixXd& l, const QuadratureSettings& q)
        : fs(f), L(l), qs(q), d(static_cast<int>(f.size())), xs(d), ws(d), means(d + 1, std::vector<double>(d, 0.0)) {}

    double level(int k) {
        if (k == d) return 1.0;
        // A single 4-D average can take seconds: poll for Ctrl-C once per innermost 1-D rule
        // (~100 integrand evaluations; a relaxed atomic load, a clock read on the master).
        if (k + 1 == d) check_interrupt();
        const std::vector<double>& m = means[k];
        std::vector<double>& next = means[k + 1];
        const double sd = L(k, k);
        normal_rule(m[k], sd, fs[k].kinks, qs, xs[k], ws[k], &fs[k].scale_points);
        const std::vector<double>& xk = xs[k];
        const std::vector<double>& wk = ws[k];
        const bool last = k + 1 == d;
        double total = 0.0;
        for (size_t i = 0; i < xk.size(); ++i) {
            const double fv = fs[k].f(xk[i]);
            if (fv == 0.0 || wk[i] == 0.0) continue;
            if (last) {
                total += wk[i] * fv;
                continue;
            }
            const double z = sd > 0.0 ? (xk[i] - m[k]) / sd : 0.0;
            for (int r = k + 1; r < d; ++r) next[r] = m[r] + L(r, k) * z;
            total += wk[i] * fv * level(k + 1);
        }
        return total;
    }
};

}  // namespace

double product_mean(const std::vector<GaussFactor>& factors, const Eigen::MatrixXd& C, const QuadratureSettings& qs) {
    const Eigen::Index d = static_cast<Eigen::Index>(factors.size());
    if (C.rows() != d || C.cols() != d) throw std::invalid_argument("C: shape does not match the number of factors");
    if (d > 6) throw std::invalid_argument("product_mean: at most 6 factors");
    const Eigen::MatrixXd L = tolerant_cholesky(C);
    // n^d work: in 3 and 4 dimensions use lighter rules (documented accuracy ~1e-9 for the smooth
    // activations at unit-order variances, see tests/test_gaussian.py).
    QuadratureSettings q = qs;
    if (d >= 3) {
        q.hermite_nodes = std::min(q.hermite_nodes, 40);
        q.legendre_nodes = std::min(q.legendre_nodes, 16);
        q.hermite_max_sd = std::max(q.hermite_max_sd, 1.25);
        q.max_panel = std::max(q.max_panel, 4.5);
    }
    Nested nested(factors, L, q);
    return nested.level(0);
}

void mean2_vector(const std::function<void(double, double, double*)>& f, int n_out, double c11, double c12,
                  double c22, const std::vector<double>& kinks1, const std::vector<double>& kinks2,
                  const QuadratureSettings& qs, double* out) {
    if (c11 < 0.0 || c22 < 0.0 || c12 * c12 > c11 * c22 * (1.0 + 1e-9) + 1e-300)
        throw std::invalid_argument("C: not positive semidefinite");
    if (n_out < 1 || n_out > 16) throw std::invalid_argument("mean2_vector: 1 to 16 components");
    std::vector<double> x1, w1, x2, w2;
    const double sd1 = std::sqrt(c11);
    const double slope = c11 > 0.0 ? c12 / c11 : 0.0;
    const double var2 = std::max(0.0, c22 - slope * c12);
    double sd2 = std::sqrt(var2);
    if (var2 <= 1e-12 * c22) sd2 = 0.0;
    std::vector<double> outer_kinks = kinks1;
    if (sd2 == 0.0 && slope != 0.0)
        for (double k : kinks2) outer_kinks.push_back(k / slope);
    std::vector<double> outer_scale = kGenericScalePoints;
    if (slope != 0.0 && sd2 < qs.hermite_max_sd)
        for (double k : kGenericScalePoints) outer_scale.push_back(k / slope);
    normal_rule(0.0, sd1, outer_kinks, qs, x1, w1, &outer_scale);
    double total[16] = {0.0}, inner[16], val[16];
    for (size_t i = 0; i < x1.size(); ++i) {
        check_interrupt();  // once per inner rule: long panel rules (large scales) stay interruptible
        normal_rule(slope * x1[i], sd2, kinks2, qs, x2, w2, &kGenericScalePoints);
        std::fill(inner, inner + n_out, 0.0);
        for (size_t j = 0; j < x2.size(); ++j) {
            f(x1[i], x2[j], val);
            for (int k = 0; k < n_out; ++k) inner[k] += w2[j] * val[k];
        }
        for (int k = 0; k < n_out; ++k) total[k] += w1[i] * inner[k];
    }
    std::copy(total, total + n_out, out);
}

double mean2(const std::function<double(double, double)>& f, double c11, double c12, double c22,
             const std::vector<double>& kinks1, const std::vector<double>& kinks2, const QuadratureSettings& qs) {
    double out = 0.0;
    mean2_vector([&](double x1, double x2, double* v) { v[0] = f(x1, x2); }, 1, c11, c12, c22, kinks1, kinks2, qs,
                 &out);
    return out;
}

}  // namespace statmech_nn
