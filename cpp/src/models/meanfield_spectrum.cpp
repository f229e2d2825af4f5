// Spectrum of J J^T for deep random networks (Pennington, Schoenholz & Ganguli 2017, 2018) by free
// multiplicative convolution.
//
// With psi_A(w) = sum_k m_k(A) w^k = E[A w / (1 - A w)] and chi_A its inverse, the S-transform is
// S_A(y) = (1 + y) / y * chi_A(y), and S_{JJ^T} = (S_{D^2} S_{WW^T})^L for L free layers, with
// S_{WW^T}(y) = 1 / (sigma_w2 (1 + y)) (Gaussian, Marchenko–Pastur with ratio 1) or 1/sigma_w2
// (orthogonal). The Stieltjes transform G(z) = (1 + psi(1/z)) / z of J J^T then solves
// chi_{JJ^T}(psi) = 1/z. We parametrise the unknown by w = chi_{D^2}(psi), i.e. psi = psi_D(w)
// explicitly, which removes the inner inversion:
//   Gaussian:   (1-L) log psi - log(1+psi)          + L log w - L log sigma_w2 + log z = 0
//   orthogonal: (1-L) (log psi - log(1+psi))         + L log w - L log sigma_w2 + log z = 0
// (mod 2 pi i), solved by Newton in w. Each point is reached by continuation down the vertical line
// z = x + iY from Y far above the support to Y = 1e-12 x, which keeps the physical branch.
#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>
#include <stdexcept>

#include "statmech_nn/meanfield.hpp"
#include "statmech_nn/parallel.hpp"

namespace statmech_nn {
namespace meanfield {

using cd = std::complex<double>;

namespace {
constexpr double kPi = 3.14159265358979323846;
}

WeightKind weight_kind_from_name(const std::string& name) {
    if (name == "gaussian") return WeightKind::Gaussian;
    if (name == "orthogonal") return WeightKind::Orthogonal;
    throw std::invalid_argument("weights: unknown kind '" + name + "' (gaussian, orthogonal)");
}

void derivative_law(const Activation& g, double q, std::vector<double>& value, std::vector<double>& prob) {
    if (!(q >= 0.0) || !std::isfinite(q)) throw std::invalid_argument("q: must be finite and >= 0");
    value.clear();
    prob.clear();
    switch (g.kind) {
        case ActivationKind::Linear: value = {1.0}; prob = {1.0}; return;
        case ActivationKind::Relu: value = {1.0, 0.0}; prob = {0.5, 0.5}; return;
        case ActivationKind::LeakyRelu: value = {1.0, g.slope * g.slope}; prob = {0.5, 0.5}; return;
        case ActivationKind::HardTanh: {
            const double p = q > 0.0 ? std::erf(1.0 / std::sqrt(2.0 * q)) : 1.0;
            value = {1.0, 0.0};
            prob = {p, 1.0 - p};
            return;
        }
        default: break;
    }
    std::vector<double> x, w;
    activation_rule(g, 0.0, std::sqrt(q), x, w);
    // phi'^2 even (phi odd, or sigmoid-like: phi - 1/2 odd) and the rule symmetric about 0 (its panel
    // edges and Hermite nodes are): the atoms at x and -x coincide, so keep x >= 0 with the mass
    // of both (half the atoms, the same law).
    const bool even = g.kind == ActivationKind::Tanh || g.kind == ActivationKind::Erf ||
                      g.kind == ActivationKind::Sigmoid || g.kind == ActivationKind::ErfSigmoid;
    for (size_t i = 0; i < x.size(); ++i) {
        if (w[i] <= 0.0) continue;
        if (even) {
            if (x[i] < 0.0) continue;
            if (x[i] > 0.0) {
                const double d = g.deriv(x[i]);
                value.push_back(d * d);
                prob.push_back(2.0 * w[i]);
                continue;
            }
        }
        const double d = g.deriv(x[i]);
        value.push_back(d * d);
        prob.push_back(w[i]);
    }
}

namespace {

struct Law {
    std::vector<double> d, p;  // atoms with d > 0
    double m1 = 0.0, m2 = 0.0, zero_mass = 0.0, dmax = 0.0;
};

Law make_law(const std::vector<double>& value, const std::vector<double>& prob) {
    if (value.size() != prob.size() || value.empty()) throw std::invalid_argument("law: value/prob size mismatch");
    Law law;
    double total = 0.0;
    for (size_t i = 0; i < value.size(); ++i) {
        if (!(prob[i] >= 0.0) || !(value[i] >= 0.0) || !std::isfinite(value[i]))
            throw std::invalid_argument("law: values and probabilities must be finite and >= 0");
        total += prob[i];
    }
    if (!(total > 0.0)) throw std::invalid_argument("law: probabilities must not all be zero");
    for (size_t i = 0; i < value.size(); ++i) {
        const double pi = prob[i] / total;
        if (value[i] > 0.0) {
            law.d.push_back(value[i]);
            law.p.push_back(pi);
            law.m1 += pi * value[i];
            law.m2 += pi * value[i] * value[i];
            law.dmax = std::max(law.dmax, value[i]);
        } else {
            law.zero_mass += pi;
        }
    }
    if (!(law.m1 > 0.0)) throw std::invalid_argument("law: phi'^2 vanishes almost surely (J = 0)");
    return law;
}

struct Solver {
    const Law& law;
    double log_sw2;
    int L;
    bool gaussian;

    // F(w) (imaginary part wrapped to (-pi, pi]) and F'(w), for the given log z.
    void eval(cd w, cd logz, cd& F, cd& dF) const {
        cd psi = 0.0, dpsi = 0.0;
        for (size_t i = 0; i < law.d.size(); ++i) {
            const cd inv = 1.0 / (1.0 - law.d[i] * w);
            const cd t = (law.p[i] * law.d[i]) * inv;
            psi += t * w;
            dpsi += t * inv;
        }
        const double Ld = static_cast<double>(L);
        if (gaussian) {
            F = (1.0 - Ld) * std::log(psi) - std::log(1.0 + psi) + Ld * std::log(w) - Ld * log_sw2 + logz;
            dF = ((1.0 - Ld) / psi - 1.0 / (1.0 + psi)) * dpsi + Ld / w;
        } else {
            F = (1.0 - Ld) * (std::log(psi) - std::log(1.0 + psi)) + Ld * std::log(w) - Ld * log_sw2 + logz;
            dF = (1.0 - Ld) * (1.0 / psi - 1.0 / (1.0 + psi)) * dpsi + Ld / w;
        }
        const double im = std::remainder(F.imag(), 2.0 * kPi);
        F = cd(F.real(), im);
    }

    cd psi_of(cd w) const {
        cd psi = 0.0;
        for (size_t i = 0; i < law.d.size(); ++i) psi += law.p[i] * law.d[i] * w / (1.0 - law.d[i] * w);
        return psi;
    }

    // Newton from w at fixed z; returns true on convergence (iterations used in *iters).
    bool newton(cd& w, cd logz, int* iters = nullptr) const {
        double prev_step = std::numeric_limits<double>::infinity();
        for (int it = 0; it < 60; ++it) {
            cd F, dF;
            eval(w, logz, F, dF);
            if (!std::isfinite(F.real()) || !std::isfinite(F.imag()) || dF == 0.0) return false;
            cd step = F / dF;
            // Damp steps that would change w by more than half its size.
            const double lim = 0.5 * std::abs(w);
            if (std::abs(step) > lim) step *= lim / std::abs(step);
            w -= step;
            const double as = std::abs(step), aw = std::abs(w);
            // Converged: a negligible step, or (F carries rounding ~ L eps |log w|) steps that have
            // stopped shrinking quadratically at the rounding floor.
            if ((as <= 1e-14 * aw || (as <= 1e-11 * aw && as > 0.25 * prev_step)) && std::abs(F) < 1e-10) {
                if (iters) *iters = it + 1;
                return true;
            }
            prev_step = as;
        }
        if (iters) *iters = 60;
        cd F, dF;
        eval(w, logz, F, dF);
        return std::abs(F) < 1e-9;
    }

    // x(w) = 1 / chi_{JJ^T}(psi(w)) for real w in (0, 1/dmax).
    double x_of_real(double w) const {
        cd F, dF;
        eval(cd(w, 0.0), 0.0, F, dF);
        return std::exp(-F.real());
    }
};

}  // namespace

SpectrumResult jacobian_spectrum(const std::vector<double>& value, const std::vector<double>& prob, double sigma_w2,
                                 int depth, WeightKind weights, const std::vector<double>& xs, int n_points,
                                 int num_threads) {
    if (!(sigma_w2 > 0.0) || !std::isfinite(sigma_w2)) throw std::invalid_argument("sigma_w2: must be finite and > 0");
    if (depth < 1) throw std::invalid_argument("depth: must be >= 1");
    const Law law = make_law(value, prob);
    const bool gaussian = weights == WeightKind::Gaussian;
    Solver solver{law, std::log(sigma_w2), depth, gaussian};

    SpectrumResult r;
    const double L = depth;
    const double vD = law.m2 / (law.m1 * law.m1) - 1.0;
    // law.m1, m2 are moments of D^2 over the full law (zero atoms contribute 0 to both).
    const double vW = gaussian ? 1.0 : 0.0;
    r.log_mean = L * std::log(sigma_w2 * law.m1);
    r.log_variance = 2.0 * r.log_mean + std::log(L * (vD + vW));
    r.mean = std::exp(r.log_mean);
    r.variance = std::exp(r.log_variance);
    r.atom_at_zero = law.zero_mass;

    // Upper edge of the support: min over real w in (0, 1/dmax) of x(w).
    {
        const double wmax = 1.0 / law.dmax;
        double best = std::numeric_limits<double>::infinity(), best_t = 0.5;
        const int ns = 400;
        auto xt = [&](double t) { return solver.x_of_real(wmax * t); };
        for (int i = 1; i < ns; ++i) {
            const double s = static_cast<double>(i) / ns;
            const double t = 1.0 - (1.0 - s) * (1.0 - s) * (1.0 - s);
            const double v = xt(t);
            if (v < best) { best = v; best_t = t; }
        }
        // Golden-section refinement around the best grid point.
        double a = std::max(1e-12, best_t - 0.02), b = std::min(1.0 - 1e-15, best_t + 0.02);
        const double gr = 0.5 * (std::sqrt(5.0) - 1.0);
        double c1 = b - gr * (b - a), c2 = a + gr * (b - a), f1 = xt(c1), f2 = xt(c2);
        for (int it = 0; it < 80; ++it) {
            if (f1 < f2) { b = c2; c2 = c1; f2 = f1; c1 = b - gr * (b - a); f1 = xt(c1); }
            else { a = c1; c1 = c2; f1 = f2; c2 = a + gr * (b - a); f2 = xt(c2); }
        }
        r.edge = std::min(best, std::min(f1, f2));
        if (!std::isfinite(r.edge) || !(r.edge > 0.0)) r.edge = r.mean * (1.0 + L * (vD + vW)) * 3.0;
    }

    if (!(std::isfinite(r.mean) && std::isfinite(r.variance) && std::isfinite(r.edge))) {
        // The spectrum's scale is not representable in float64 (chi1^depth overflows): moments in
        // log space only, no density.
        r.overflow = true;
        r.x = xs;
        if (xs.empty()) r.x.assign(std::max(n_points, 0), std::numeric_limits<double>::quiet_NaN());
        r.density.assign(r.x.size(), std::numeric_limits<double>::quiet_NaN());
        return r;
    }
    if (!xs.empty()) {
        r.x = xs;
    } else {
        if (n_points < 1) throw std::invalid_argument("n_points: must be >= 1");
        r.x.resize(n_points);
        const double top = 1.02 * r.edge;
        for (int i = 0; i < n_points; ++i) r.x[i] = top * (i + 0.5) / n_points;
    }
    for (double x : r.x)
        if (!(x > 0.0) || !std::isfinite(x)) throw std::invalid_argument("x: evaluation points must be finite and > 0");
    r.density.assign(r.x.size(), 0.0);
    std::vector<int> failed(r.x.size(), 0);
    const double scale = std::max(r.edge, r.mean);
    parallel_for(static_cast<std::int64_t>(r.x.size()), num_threads, [&](std::int64_t i) {
        const double x = r.x[i];
        double Y = 20.0 * std::max(scale, x);
        const double eta = 1e-12 * x;
        cd z(x, Y);
        // Far from the support psi ~ mean / z and psi_D(w) ~ m1_D w.
        cd psi0 = r.mean / z;
        cd w = psi0 / law.m1;
        int iters = 0;
        bool ok = solver.newton(w, std::log(z), &iters);
        // Smoothed densities at the last two converged heights: outside the support the smoothed
        // density decays linearly in Y, inside it tends to rho(x) > 0.
        double dens_prev = -1.0, dens_prev2 = -1.0, y_prev = Y, y_prev2 = Y;
        // Continuation down the line: Y shrinks by `factor` per step, 1.6 at first; the factor
        // grows while Newton converges in a few iterations (w then moves little per step) and
        // falls back towards 1.6 when it does not; a failed step is retried from the last
        // converged w with the smallest factor before the continuation gives up.
        double factor = 1.6;
        while (ok && Y > eta) {
            const cd Gk = (1.0 + solver.psi_of(w)) / z;
            dens_prev2 = dens_prev;
            y_prev2 = y_prev;
            dens_prev = -Gk.imag() / kPi;
            y_prev = Y;
            const cd w_ok = w;
            for (;;) {
                Y = std::max(eta, y_prev / factor);
                z = cd(x, Y);
                w = w_ok;
                ok = solver.newton(w, std::log(z), &iters);
                if (ok || factor <= 1.6) break;
                factor = std::max(1.6, std::sqrt(factor));
            }
            if (ok) factor = iters <= 4 ? std::min(factor * 2.0, 1e4) : std::max(1.6, std::sqrt(factor));
        }
        if (!ok) {
            // Far outside the support (e.g. below the lower edge of an orthogonal network's
            // spectrum) the continuation can stall; the density there is exactly zero. Accept
            // that only if the smoothed density was already vanishing linearly with the height.
            const double ratio = dens_prev2 > 0.0 ? dens_prev / dens_prev2 : 0.0;
            if (y_prev < 1e-3 * x && dens_prev2 > 0.0 && std::abs(ratio * (y_prev2 / y_prev) - 1.0) < 0.05) {
                r.density[i] = 0.0;
                return;
            }
            failed[i] = 1;
            r.density[i] = std::numeric_limits<double>::quiet_NaN();
            return;
        }
        const cd G = (1.0 + solver.psi_of(w)) / z;
        r.density[i] = std::max(0.0, -G.imag() / kPi);
    });
    for (int f : failed) r.failed += f;
    return r;
}

}  // namespace meanfield
}  // namespace statmech_nn
