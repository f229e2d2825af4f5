// Layer recursion of deep random networks: forward pair maps, backward chains, Fisher order
// parameters (see deep_recursion.hpp).
#include "statmech_nn/deep_recursion.hpp"

#include "statmech_nn/parallel.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace statmech_nn {
namespace deep {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

void check_params(const LayerParams& p, int depth, double divergence_bound) {
    if (depth < 0) throw std::invalid_argument("depth: must be >= 0");
    if (!(p.sigma_w2 > 0.0) || !std::isfinite(p.sigma_w2)) throw std::invalid_argument("sigma_w2: must be finite and > 0");
    if (!(p.sigma_b2 >= 0.0) || !std::isfinite(p.sigma_b2)) throw std::invalid_argument("sigma_b2: must be finite and >= 0");
    if (!(divergence_bound > 1.0)) throw std::invalid_argument("divergence_bound: must be > 1 (inf allowed)");
}
}  // namespace

PairLayer pair_layer(const Activation& g, double qa, double qab, double qb) {
    PairLayer r;
    const LayerMoments ma = layer_moments(g, qa);
    r.phi2_a = ma.phi2;
    r.dphi2_a = ma.dphi2;
    if (qb == qa) {
        r.phi2_b = ma.phi2;
        r.dphi2_b = ma.dphi2;
    } else {
        const LayerMoments mb = layer_moments(g, qb);
        r.phi2_b = mb.phi2;
        r.dphi2_b = mb.dphi2;
    }
    if (qb == qa && qab >= qa) {
        // identical inputs (or round-off above the parallel bound): the diagonal exactly
        r.phiphi = r.phi2_a;
        r.dphidphi = r.dphi2_a;
        return r;
    }
    const double bound = std::sqrt(qa * qb);
    const PairMoments pm = pair_moments(g, qa, std::clamp(qab, -bound, bound), qb);
    r.phiphi = pm.phiphi;
    r.dphidphi = pm.dphidphi;
    return r;
}

PairTrajectory forward_pair(const LayerParams& p, int depth, double q1_a, double q1_ab, double q1_b,
                            double divergence_bound) {
    check_params(p, depth, divergence_bound);
    if (!(q1_a >= 0.0) || !(q1_b >= 0.0) || !std::isfinite(q1_a) || !std::isfinite(q1_b))
        throw std::invalid_argument("q_in: the first layer's second moments must be finite and >= 0");
    if (!std::isfinite(q1_ab) || q1_ab * q1_ab > q1_a * q1_b * (1.0 + 1e-12))
        throw std::invalid_argument("c_in: the first layer's covariance must satisfy |q_ab| <= sqrt(q_a q_b)");
    PairTrajectory t;
    t.depth = depth;
    for (auto* v : {&t.q_a, &t.q_b, &t.q_ab, &t.c, &t.phi2_a, &t.phi2_b, &t.phiphi, &t.dphi2_a, &t.dphi2_b,
                    &t.dphidphi})
        v->assign(depth, kNaN);
    const double scale = std::max(q1_a, q1_b);
    const double limit = (scale > 0.0 ? scale : 1.0) * divergence_bound;
    double qa = q1_a, qb = q1_b, qab = q1_ab;
    const double w = p.sigma_w2, b = p.sigma_b2;
    for (int l = 1; l <= depth; ++l) {
        const int i = l - 1;
        t.q_a[i] = qa;
        t.q_b[i] = qb;
        t.q_ab[i] = qab;
        if (!(std::isfinite(qa) && std::isfinite(qb) && std::isfinite(qab)) || qa > limit || qb > limit) {
            t.status = RunStatus::Diverged;
            t.stop_layer = l;
            return t;
        }
        if (qa == qb && qab == qa) t.c[i] = 1.0;
        else if (qa > 0.0 && qb > 0.0) t.c[i] = std::clamp(qab / std::sqrt(qa * qb), -1.0, 1.0);
        check_interrupt();  // throttled; long runs (deep tanh nets) stop on Ctrl-C
        const PairLayer m = pair_layer(p.act, qa, qab, qb);
        t.phi2_a[i] = m.phi2_a;
        t.phi2_b[i] = m.phi2_b;
        t.phiphi[i] = m.phiphi;
        t.dphi2_a[i] = m.dphi2_a;
        t.dphi2_b[i] = m.dphi2_b;
        t.dphidphi[i] = m.dphidphi;
        const double na = w * m.phi2_a + b;
        const double nb = (qb == qa) ? na : w * m.phi2_b + b;
        // identical inputs stay identical (c = 1 exactly, never 1 - ulp or nan)
        qab = (qab == qa && qb == qa) ? na : w * m.phiphi + b;
        qa = na;
        qb = nb;
    }
    return t;
}

BackwardChain backward_chain(const LayerParams& p, const PairTrajectory& fwd) {
    BackwardChain r;
    const int L = fwd.depth;
    r.chi.assign(L, kNaN);
    r.q_grad.assign(L, kNaN);
    if (L == 0) return r;
    const int valid = fwd.stop_layer > 0 ? fwd.stop_layer - 1 : L;  // layers with moments
    for (int i = 0; i < valid; ++i) r.chi[i] = p.sigma_w2 * fwd.dphi2_a[i];
    if (valid < L) {
        // the forward pass diverged: the gradient chain from the read-out is not defined
        r.status = RunStatus::Diverged;
        r.stop_layer = fwd.stop_layer;
        return r;
    }
    const double log_max = std::log(std::numeric_limits<double>::max());
    double lg = 0.0;
    r.q_grad[L - 1] = 1.0;
    for (int i = L - 2; i >= 0; --i) {
        lg += std::log(r.chi[i + 1]);
        if (lg > log_max) {
            r.q_grad[i] = kInf;
            if (r.status == RunStatus::Ok) {
                r.status = RunStatus::Diverged;
                r.stop_layer = i + 1;
            }
        } else {
            r.q_grad[i] = std::exp(lg);
        }
    }
    return r;
}

FisherOrder fisher_order_parameters(const LayerParams& p, int depth, const std::vector<double>& alphas,
                                    double divergence_bound) {
    if (depth < 1) throw std::invalid_argument("depth: must be >= 1");
    const int L = depth + 1;
    if (static_cast<int>(alphas.size()) != L)
        throw std::invalid_argument("alphas: needs depth + 1 entries (alpha_0, ..., alpha_depth)");
    for (double a : alphas)
        if (!(a > 0.0) || !std::isfinite(a)) throw std::invalid_argument("alphas: must be finite and > 0");
    // qhat^0 = 1, qhat^0_st = 0: q^1 = sigma_w2 + sigma_b2, q^1_st = sigma_b2
    const PairTrajectory t = forward_pair(p, depth, p.sigma_w2 + p.sigma_b2, p.sigma_b2, p.sigma_w2 + p.sigma_b2,
                                          divergence_bound);
    FisherOrder f;
    f.q = t.q_a;
    f.q_st = t.q_ab;
    f.q_hat.assign(L, kNaN);
    f.q_hat_st.assign(L, kNaN);
    f.q_tilde.assign(L, kNaN);
    f.q_tilde_st.assign(L, kNaN);
    f.q_hat[0] = 1.0;
    f.q_hat_st[0] = 0.0;
    for (int l = 1; l < L; ++l) {
        f.q_hat[l] = t.phi2_a[l - 1];
        f.q_hat_st[l] = t.phiphi[l - 1];
    }
    f.alpha = 0.0;
    for (int l = 1; l < L; ++l) f.alpha += alphas[l] * alphas[l - 1];
    if (t.status != RunStatus::Ok) {
        f.status = t.status;
        f.stop_layer = t.stop_layer;
        f.kappa1 = f.kappa2 = kNaN;
        return f;
    }
    // Backward in log space (signed for the st chain: E phi' phi' may be negative).
    const double log_max = std::log(std::numeric_limits<double>::max());
    f.q_tilde[L - 1] = f.q_tilde_st[L - 1] = 1.0;
    double lg = 0.0, lgs = 0.0, sgn = 1.0;
    for (int l = L - 1; l >= 1; --l) {  // q_tilde index l-1 <-> layer l, factor at hidden layer l
        const double chi = p.sigma_w2 * t.dphi2_a[l - 1];
        const double chis = p.sigma_w2 * t.dphidphi[l - 1];
        lg += std::log(chi);
        if (chis == 0.0) lgs = -kInf;
        else lgs += std::log(std::abs(chis));
        if (chis < 0.0) sgn = -sgn;
        f.q_tilde[l - 1] = lg > log_max ? kInf : std::exp(lg);
        f.q_tilde_st[l - 1] = lgs > log_max ? sgn * kInf : sgn * std::exp(lgs);
        if (lg > log_max && f.status == RunStatus::Ok) {
            f.status = RunStatus::Diverged;
            f.stop_layer = l;
        }
    }
    double k1 = 0.0, k2 = 0.0;
    for (int l = 1; l <= L; ++l) {
        k1 += alphas[l - 1] * f.q_tilde[l - 1] * f.q_hat[l - 1];
        if (f.q_hat_st[l - 1] != 0.0) k2 += alphas[l - 1] * f.q_tilde_st[l - 1] * f.q_hat_st[l - 1];
    }
    f.kappa1 = k1 / f.alpha;
    f.kappa2 = k2 / f.alpha;
    if (!(std::isfinite(f.kappa1) && std::isfinite(f.kappa2)) && f.status == RunStatus::Ok) {
        f.status = RunStatus::Diverged;
        f.stop_layer = 1;
    }
    return f;
}

}  // namespace deep
}  // namespace statmech_nn
