// Mean-field maps, fixed points, susceptibilities and depth scales (see meanfield.hpp).
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <Eigen/Dense>

#include "statmech_nn/gaussian.hpp"
#include "statmech_nn/deep_recursion.hpp"
#include "statmech_nn/gaussian_moments.hpp"
#include "statmech_nn/meanfield.hpp"
#include "statmech_nn/parallel.hpp"

namespace statmech_nn {
namespace meanfield {

using namespace gaussian_detail;

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kPi = 3.14159265358979323846;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}  // namespace



double q_map(const Params& p, double q) { return p.sigma_w2 * layer_moments(p.act, q).phi2 + p.sigma_b2; }
double q_map_slope(const Params& p, double q) { return p.sigma_w2 * layer_moments(p.act, q).slope; }
double chi1(const Params& p, double q) { return p.sigma_w2 * layer_moments(p.act, q).dphi2; }

void cov_map(const Params& p, double q11, double q12, double q22, double& n11, double& n12, double& n22) {
    // one layer of the deep-network recursion (identical inputs stay identical exactly)
    const deep::PairLayer m = deep::pair_layer(p.act, q11, q12, q22);
    n11 = p.sigma_w2 * m.phi2_a + p.sigma_b2;
    n22 = (q22 == q11) ? n11 : p.sigma_w2 * m.phi2_b + p.sigma_b2;
    n12 = (q12 == q11 && q22 == q11) ? n11 : p.sigma_w2 * m.phiphi + p.sigma_b2;
}

double c_map(const Params& p, double q, double c) {
    if (!(q > 0.0)) throw std::invalid_argument("q: the correlation map needs q > 0");
    const double qn = q_map(p, q);
    const double cq = std::max(-1.0, std::min(1.0, c)) * q;
    return (p.sigma_w2 * pair_moments(p.act, q, cq, q).phiphi + p.sigma_b2) / qn;
}

double chi1_limit(const Params& p) {
    const Activation& g = p.act;
    switch (g.kind) {
        case ActivationKind::Linear: return p.sigma_w2;
        case ActivationKind::Relu: return 0.5 * p.sigma_w2;
        case ActivationKind::LeakyRelu: return 0.5 * p.sigma_w2 * (1.0 + g.slope * g.slope);
        case ActivationKind::Gelu:
        case ActivationKind::Swish: return 0.5 * p.sigma_w2;
        case ActivationKind::Abs: return p.sigma_w2;          // phi'^2 = 1
        case ActivationKind::Sin:
        case ActivationKind::Cos: return 0.5 * p.sigma_w2;    // E cos^2(sqrt(q) z) -> 1/2
        case ActivationKind::Rbf: return 2.0 * p.sigma_w2;    // phi'^2 = 2 (1 - sin(2 sqrt(2) x))
        default: return 0.0;  // bounded derivative that vanishes at infinity
    }
}

namespace {

// g(q) = q_map(q) - q and its derivative.
struct QEval {
    double g, dg, chi1;
};
QEval q_eval(const Params& p, double q) {
    const LayerMoments m = layer_moments(p.act, q);
    return {p.sigma_w2 * m.phi2 + p.sigma_b2 - q, p.sigma_w2 * m.slope - 1.0, p.sigma_w2 * m.dphi2};
}

// Bounded, odd-or-monotone activations whose length map has a single stable fixed point at q > 0
// (or q = 0), so a converged stable Newton root is the one the iteration reaches from any q_init.
bool single_attractor(const Activation& g) {
    switch (g.kind) {
        case ActivationKind::Tanh:
        case ActivationKind::Erf:
        case ActivationKind::HardTanh:
        case ActivationKind::Sigmoid:
        case ActivationKind::ErfSigmoid: return true;
        default: return false;
    }
}

}  // namespace

QStar q_star(const Params& p, double q_init, double guess) {
    if (!(q_init > 0.0) || !std::isfinite(q_init)) throw std::invalid_argument("q_init: must be finite and > 0");
    QStar r;
    int evals = 0;
    auto ev = [&](double q) {
        ++evals;
        return q_eval(p, q);
    };
    const double kHuge = 1e30;
    // 0. Warm start (phase diagrams, critical line): plain Newton from a nearby fixed point. The
    //    result is accepted only if it converged to a stable root (slope < 1) on the same side of
    //    q_init as the iteration would move, i.e. the fixed point the iteration from q_init reaches.
    if (guess > 0.0 && std::isfinite(guess)) {
        double q = guess, prev_step = -1.0;
        QEval e = ev(q);
        for (int it = 0; it < 40; ++it) {
            if (!(e.dg < 0.0)) break;
            const double qn = q - e.g / e.dg;
            if (!(qn > 0.0) || !std::isfinite(qn)) break;
            const double step = std::abs(qn - q);
            q = qn;
            e = ev(q);
            // Done when the step is negligible, or when quadratic convergence is established
            // (step_n ~ C step_{n-1}^2 with C measured) and predicts a next step below 1e-15 q: q
            // is then already accurate to that, and e was evaluated at it (saves one quadrature).
            bool done = step <= 1e-14 * q;
            if (!done && prev_step > 0.0 && step <= 1e-6 * q && step < 0.1 * prev_step) {
                const double C = step / (prev_step * prev_step);
                done = C * step * step <= 1e-15 * q;
            }
            prev_step = step;
            if (done) {
                const double slope = e.dg + 1.0;
                bool same_side = true;
                if (!single_attractor(p.act)) {
                    const QEval ei = ev(q_init);
                    same_side = (ei.g > 0.0 && q >= q_init) || (ei.g < 0.0 && q <= q_init) || ei.g == 0.0;
                }
                if (slope < 1.0 - 1e-6 && same_side) {
                    r.q = q;
                    r.q_map_derivative = slope;
                    r.chi1 = e.chi1;
                    r.status = Status::Ok;
                    r.evaluations = evals;
                    return r;
                }
                break;
            }
        }
    }
    // 1. Bracket the fixed point the iteration from q_init reaches (q-map is increasing, so the
    //    iterates move monotonically towards the nearest root in the direction of g's sign).
    double lo, hi;
    QEval e0 = ev(q_init);
    if (e0.g == 0.0) {
        lo = hi = q_init;
    } else if (e0.g > 0.0) {
        lo = q_init;
        double start = (guess > q_init && std::isfinite(guess)) ? guess : 2.0 * q_init;
        hi = start;
        QEval eh = ev(hi);
        while (eh.g > 0.0) {
            lo = hi;
            hi *= 4.0;
            if (hi > kHuge) {
                r.q = kInf;
                r.q_map_derivative = p.sigma_w2 > 0 ? chi1_limit(p) : 0.0;
                r.status = Status::Diverged;
                r.evaluations = evals;
                return r;
            }
            eh = ev(hi);
        }
    } else {
        hi = q_init;
        double start = (guess > 0.0 && guess < q_init) ? guess : 0.5 * q_init;
        lo = start;
        QEval el = ev(lo);
        while (el.g < 0.0) {
            hi = lo;
            lo *= 0.25;
            if (lo < 1e-300) {
                lo = 0.0;
                el = ev(0.0);
                break;
            }
            el = ev(lo);
        }
        if (lo == 0.0 && el.g <= 0.0) {
            // Root at q = 0 (phi(0) = 0 and sigma_b2 = 0); approached algebraically if slope == 1.
            r.q = 0.0;
            r.q_map_derivative = el.dg + 1.0;
            r.status = std::abs(r.q_map_derivative - 1.0) < 1e-9 ? Status::Marginal : Status::Ok;
            r.evaluations = evals;
            return r;
        }
    }
    // 2. Safeguarded Newton inside [lo, hi] with g(lo) >= 0 >= g(hi).
    double q = (lo == hi) ? lo : ((guess > lo && guess < hi) ? guess : 0.5 * (lo + hi));
    QEval e = ev(q);
    for (int it = 0; it < 200 && lo != hi; ++it) {
        if (e.g == 0.0) break;
        if (e.g > 0.0) lo = q; else hi = q;
        double qn = (e.dg != 0.0) ? q - e.g / e.dg : 0.5 * (lo + hi);
        if (!(qn > lo && qn < hi)) qn = 0.5 * (lo + hi);
        const double step = std::abs(qn - q);
        q = qn;
        e = ev(q);
        if (step <= 1e-14 * std::max(q, 1e-300) || (hi - lo) <= 1e-15 * hi) break;
    }
    r.q = q;
    r.q_map_derivative = e.dg + 1.0;
    r.chi1 = e.chi1;
    r.status = std::abs(r.q_map_derivative - 1.0) < 1e-6 ? Status::Marginal : Status::Ok;
    r.evaluations = evals;
    return r;
}


CStar c_star(const Params& p, double q, double guess, double q_next, double chi1_q) {
    CStar r;
    if (!(q > 0.0) && p.sigma_b2 == 0.0 &&
        (p.act.kind == ActivationKind::Relu || p.act.kind == ActivationKind::LeakyRelu ||
         p.act.kind == ActivationKind::Abs)) {
        // Positively homogeneous phi without bias: the correlation map does not depend on q, so
        // its fixed point is the one at any q (c* = 1, approached algebraically: "marginal").
        CStar h = c_star(p, 1.0, guess);
        h.status = Status::Marginal;
        return h;
    }
    if (!(q > 0.0)) {
        // q* = 0 (phi(0) = 0, no bias, ordered): the signal itself vanishes and phi acts linearly,
        // so the correlation map tends to the identity; every c is (marginally) fixed and the
        // limit of c^l depends on the inputs. No c* is defined: nan with status "marginal".
        r.c = std::numeric_limits<double>::quiet_NaN();
        r.chi_c = chi1(p, 0.0);
        r.status = Status::Marginal;
        return r;
    }
    if (!std::isfinite(q)) {
        // q* diverged (unbounded phi): the bias becomes negligible and, for the positively
        // homogeneous activations, c^l -> 1.
        r.c = 1.0;
        r.chi_c = chi1_limit(p);
        r.status = Status::Diverged;
        return r;
    }
    const double qn = q_next > 0.0 ? q_next : q_map(p, q);
    if (p.act.traits().delta_derivative) {
        // phi jumps (step): the c-map's slope at c = 1 is infinite (E[phi' phi'] holds a delta), not
        // chi1 = 0, so with sigma_w2 > 0 the fixed point is c* < 1. g(c) = c_map(c) - c >= 0 at
        // c = 0 (E[phi phi] >= 0) and < 0 just below 1: bisection. chi_c is the c-map's slope at c*,
        // sigma_w2 q / qn times the density of the pair at the origin, 1 / (2 pi q sqrt(1 - c*^2)).
        auto g = [&](double c) { return c_map(p, q, c) - c; };
        double lo = 0.0, hi = 1.0 - 1e-15;
        int evals = 0;
        if (p.sigma_w2 > 0.0 && g(hi) < 0.0) {
            for (; evals < 200 && hi - lo > 1e-15; ++evals) {
                const double mid = 0.5 * (lo + hi);
                (g(mid) > 0.0 ? lo : hi) = mid;
            }
            r.c = 0.5 * (lo + hi);
            r.chi_c = p.sigma_w2 / (2.0 * kPi * qn * std::sqrt((1.0 - r.c) * (1.0 + r.c)));
        } else {
            r.c = 1.0;  // no weights (the map is constant) or c* within 1e-15 of 1
            r.chi_c = p.sigma_w2 > 0.0 ? kInf : 0.0;
        }
        r.status = Status::Ok;
        r.evaluations = evals;
        return r;
    }
    const double chi1_at_q = chi1_q >= 0.0 ? chi1_q : chi1(p, q);
    int evals = 0;
    PairSeries hs;
    bool series = false;
    // g(c) = c_map(c) - c, g'(c) = sigma_w2 E[phi' phi'] q / qn - 1.
    auto moments = [&](double c) {
        PairMoments pm;
        if (series && hs.evaluate(c, pm)) return pm;
        return pair_moments(p.act, q, c * q, q);
    };
    auto ev = [&](double c, double& gv, double& dg) {
        ++evals;
        const PairMoments pm = moments(c);
        gv = (p.sigma_w2 * pm.phiphi + p.sigma_b2) / qn - c;
        dg = p.sigma_w2 * pm.dphidphi * q / qn - 1.0;
        return pm;
    };
    const double x1 = chi1_at_q * q / qn;  // slope of the c-map at c = 1
    if (x1 <= 1.0 + 1e-12) {
        r.c = 1.0;
        r.chi_c = chi1_at_q;
        r.status = x1 > 1.0 - 1e-6 ? Status::Marginal : Status::Ok;
        r.evaluations = 0;
        return r;
    }
    if (!is_closed_form(p.act)) series = hs.build(p.act, q);
    // Chaotic side: g >= 0 at c = 0 (E[phi phi] >= (E phi)^2 >= 0), g < 0 just below 1 (convex).
    double lo = 0.0, hi = 1.0, gv, dg, c = -1.0;
    bool have_hi = false;
    if (guess > 0.0 && guess < 1.0) {
        ev(guess, gv, dg);
        c = guess;
        if (gv < 0.0) {
            hi = guess;
            have_hi = true;
        } else {
            lo = guess;
            // g is convex on [0, 1] (a power series in c with coefficients >= 0) and g(1) = 0: from
            // a point left of c* where g decreases, Newton moves monotonically up to c* and never
            // past it, so [guess, 1) brackets the root the search needs.
            have_hi = dg < 0.0;
        }
    }
    if (!have_hi) {
        c = -1.0;
        ev(lo, gv, dg);
        if (gv <= 0.0 && lo == 0.0) {
            r.c = 0.0;
            r.chi_c = p.sigma_w2 * moments(0.0).dphidphi;
            r.evaluations = evals;
            return r;
        }
        for (int k = 1; k <= 60; ++k) {
            const double ck = 1.0 - std::ldexp(1.0 - lo, -k) ;
            ev(ck, gv, dg);
            if (gv < 0.0) { hi = ck; have_hi = true; break; }
            lo = ck;
        }
        if (!have_hi) {
            r.c = 1.0;
            r.chi_c = chi1_at_q;
            r.status = Status::Marginal;
            r.evaluations = evals;
            return r;
        }
    }
    if (c < 0.0) c = hi;  // the last evaluation (gv, dg) was at hi
    for (int it = 0; it < 100; ++it) {
        if (gv == 0.0) break;
        if (gv > 0.0) lo = c; else hi = c;
        double cn = dg != 0.0 ? c - gv / dg : 0.5 * (lo + hi);
        if (!(cn > lo && cn < hi)) cn = 0.5 * (lo + hi);
        const double step = std::abs(cn - c);
        c = cn;
        ev(c, gv, dg);
        if (step < 1e-13 || hi - lo < 1e-14) break;
    }
    r.c = c;
    r.chi_c = p.sigma_w2 * moments(c).dphidphi;
    r.status = std::abs(r.chi_c - 1.0) < 1e-6 ? Status::Marginal : Status::Ok;
    r.evaluations = evals;
    return r;
}

namespace {

double chi1_at_fixed_point(const Activation& g, double sw2, double sb2, double q_init, double* q_out,
                           double guess = -1.0) {
    Params p{g, sw2, sb2};
    const QStar qs = q_star(p, q_init, guess);
    if (q_out) *q_out = qs.q;
    if (!std::isfinite(qs.q)) return chi1_limit(p);
    return qs.chi1 >= 0.0 ? qs.chi1 : chi1(p, qs.q);
}

}  // namespace

bool critical_point(const Activation& g, double sigma_b2, double lo, double hi, double q_init, double& sigma_w2,
                    double& q_crit) {
    if (g.kind == ActivationKind::Linear || g.kind == ActivationKind::Relu || g.kind == ActivationKind::LeakyRelu ||
        g.kind == ActivationKind::Abs) {
        // chi1 = sigma_w2 E[phi'^2] does not depend on q: the line is vertical. On it q* = inf with a
        // bias (the length map is q -> q + sigma_b2) and every q is fixed without one.
        sigma_w2 = 1.0 / layer_moments(g, 1.0).dphi2;
        q_crit = sigma_b2 > 0.0 ? kInf : q_init;
        return true;
    }
    double q_last = -1.0;
    auto h = [&](double sw2) {
        double qv;
        const double v = chi1_at_fixed_point(g, sw2, sigma_b2, q_init, &qv, q_last) - 1.0;
        q_last = (std::isfinite(qv) && qv > 0.0) ? qv : -1.0;
        return v;
    };
    lo = std::max(lo, 1e-6);
    hi = std::max(hi, lo * 1.5);
    double hl = h(lo), hh = h(hi);
    // chi1 grows with sigma_w2: expand the bracket outwards until the sign changes.
    while (hl > 0.0 && lo > 1e-6) { hi = lo; hh = hl; lo = std::max(1e-6, lo * 0.25); hl = h(lo); }
    while (hh < 0.0 && hi < 1e6) { lo = hi; hl = hh; hi = std::min(1e6, hi * 4.0); hh = h(hi); }
    if (!(hl <= 0.0 && hh >= 0.0)) {
        sigma_w2 = kNaN;
        q_crit = kNaN;
        return false;
    }
    // Brent's method on h(sigma_w2).
    double a = lo, b = hi, fa = hl, fb = hh, c = a, fc = fa, d = b - a, e = d;
    for (int it = 0; it < 200; ++it) {
        if ((fb > 0 && fc > 0) || (fb < 0 && fc < 0)) { c = a; fc = fa; d = e = b - a; }
        if (std::abs(fc) < std::abs(fb)) { a = b; b = c; c = a; fa = fb; fb = fc; fc = fa; }
        const double tol = 2e-16 * std::abs(b) + 1e-15;
        const double m = 0.5 * (c - b);
        if (std::abs(m) <= tol || fb == 0.0) break;
        if (std::abs(e) >= tol && std::abs(fa) > std::abs(fb)) {
            double s = fb / fa, pp, qq;
            if (a == c) { pp = 2 * m * s; qq = 1 - s; }
            else {
                const double r1 = fa / fc, r2 = fb / fc;
                pp = s * (2 * m * r1 * (r1 - r2) - (b - a) * (r2 - 1));
                qq = (r1 - 1) * (r2 - 1) * (s - 1);
            }
            if (pp > 0) qq = -qq; else pp = -pp;
            if (2 * pp < std::min(3 * m * qq - std::abs(tol * qq), std::abs(e * qq))) { e = d; d = pp / qq; }
            else { d = m; e = m; }
        } else { d = m; e = m; }
        a = b; fa = fb;
        b += std::abs(d) > tol ? d : (m > 0 ? tol : -tol);
        fb = h(b);
    }
    sigma_w2 = b;
    chi1_at_fixed_point(g, b, sigma_b2, q_init, &q_crit);
    return true;
}

PhaseDiagram phase_diagram(const Activation& g, const std::vector<double>& sw2, const std::vector<double>& sb2,
                           double q_init, bool with_correlation, int num_threads) {
    PhaseDiagram pd;
    pd.n_w = static_cast<int>(sw2.size());
    pd.n_b = static_cast<int>(sb2.size());
    const size_t n = sw2.size() * sb2.size();
    pd.q_star.assign(n, kNaN); pd.c_star.assign(n, kNaN); pd.chi1.assign(n, kNaN);
    pd.chi_c.assign(n, kNaN); pd.xi_q.assign(n, kNaN); pd.xi_c.assign(n, kNaN);
    pd.status.assign(n, 0);
    pd.critical_sigma_w2.assign(sb2.size(), kNaN);
    pd.critical_q_star.assign(sb2.size(), kNaN);
    pd.critical_found.assign(sb2.size(), 0);
    const int nw = pd.n_w, nb = pd.n_b;
    // One task per sigma_b2 column; inside it sigma_w2 increases and warm-starts the solvers.
    parallel_for(nb, num_threads, [&](std::int64_t jb) {
        double q_prev = -1.0, q_prev2 = -1.0, c_prev = -2.0, c_prev2 = -2.0;
        for (int iw = 0; iw < nw; ++iw) {
            const size_t k = static_cast<size_t>(iw) * nb + jb;
            Params p{g, sw2[iw], sb2[jb]};
            // warm start: linear extrapolation from the two previous points of the column
            double q_guess = q_prev;
            if (q_prev > 0.0 && q_prev2 > 0.0 && iw >= 2) {
                const double t = (sw2[iw] - sw2[iw - 1]) / (sw2[iw - 1] - sw2[iw - 2]);
                const double e = q_prev + t * (q_prev - q_prev2);
                if (std::isfinite(e) && e > 0.5 * q_prev && e < 2.0 * q_prev) q_guess = e;
            }
            q_prev2 = q_prev;
            const QStar qs = q_star(p, q_init, q_guess);
            pd.q_star[k] = qs.q;
            pd.status[k] = static_cast<int>(qs.status);
            if (std::isfinite(qs.q)) {
                q_prev = qs.q > 0 ? qs.q : -1.0;
                pd.chi1[k] = qs.chi1 >= 0.0 ? qs.chi1 : chi1(p, qs.q);
                pd.xi_q[k] = qs.q_map_derivative < 1.0 ? -1.0 / std::log(qs.q_map_derivative) : kInf;
                if (with_correlation) {
                    // q* is a fixed point (q-map(q*) = q* to the solver's 1e-14) and chi1 is known
                    double c_guess = c_prev;
                    if (c_prev > 0.0 && c_prev2 > 0.0 && iw >= 2) {
                        const double t = (sw2[iw] - sw2[iw - 1]) / (sw2[iw - 1] - sw2[iw - 2]);
                        const double e = c_prev + t * (c_prev - c_prev2);
                        if (e > 0.0 && e < 1.0) c_guess = e;
                    }
                    const CStar cs = c_star(p, qs.q, c_guess, qs.q, pd.chi1[k]);
                    pd.c_star[k] = cs.c;
                    pd.chi_c[k] = cs.chi_c;
                    pd.xi_c[k] = cs.chi_c < 1.0 ? -1.0 / std::log(cs.chi_c) : kInf;
                    c_prev2 = c_prev;
                    c_prev = cs.c < 1.0 ? cs.c : -2.0;
                }
            } else {
                q_prev = -1.0;
                pd.chi1[k] = chi1_limit(p);
                if (with_correlation) {
                    const CStar cs = c_star(p, qs.q);
                    pd.c_star[k] = cs.c;
                    pd.chi_c[k] = cs.chi_c;
                }
            }
            check_interrupt();
        }
        // Critical line: bracket from the grid column, then Brent.
        double lo = sw2.empty() ? 1.0 : sw2.front(), hi = sw2.empty() ? 2.0 : sw2.back();
        for (int iw = 0; iw + 1 < nw; ++iw) {
            const size_t k0 = static_cast<size_t>(iw) * nb + jb, k1 = k0 + nb;
            if (pd.chi1[k0] <= 1.0 && pd.chi1[k1] >= 1.0) { lo = sw2[iw]; hi = sw2[iw + 1]; break; }
        }
        double sc, qc;
        if (critical_point(g, sb2[jb], std::min(lo, hi), std::max(lo, hi), q_init, sc, qc)) {
            pd.critical_sigma_w2[jb] = sc;
            pd.critical_q_star[jb] = qc;
            pd.critical_found[jb] = 1;
        }
    });
    return pd;
}

}  // namespace meanfield
}  // namespace statmech_nn
