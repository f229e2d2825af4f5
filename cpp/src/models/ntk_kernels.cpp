// Infinite-width NNGP / NTK kernels on the deep-network layer recursion (see ntk_kernels.hpp).
#include "statmech_nn/ntk_kernels.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>
#include <vector>

#include "statmech_nn/gaussian_moments.hpp"
#include "statmech_nn/parallel.hpp"

namespace statmech_nn {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
using RowMat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Diagonal recursion of one set of inputs: Sigma^l(x, x), Theta^l(x, x) for l = 1..depth+1 and
// the moments of phi at l = 1..depth (all n x (depth+1), row = input).
struct Diagonal {
    int layers = 0;  // depth + 1
    std::vector<double> v, t, phi2, dphi2;
    std::vector<int> stop;      // per input: first diverged layer (0: none)
    std::vector<int> series;    // per input and hidden layer: index of its Mehler series (-1: none)
};

void propagate_diagonal(const Activation& g, const NtkKernelSpec& s, const std::vector<double>& sq, double d,
                        const std::vector<double>& widths, int num_threads, Diagonal& D) {
    const std::int64_t n = static_cast<std::int64_t>(sq.size());
    const int L = s.depth + 1;
    D.layers = L;
    D.v.assign(n * L, kNaN);
    D.t.assign(n * L, kNaN);
    D.phi2.assign(n * L, kNaN);
    D.dphi2.assign(n * L, kNaN);
    D.stop.assign(n, 0);
    const deep::LayerParams p{g, s.sigma_w2, s.sigma_b2};
    parallel_for(n, num_threads, [&](std::int64_t i) {
        const double v1 = s.sigma_w2 * sq[i] / d + s.sigma_b2;
        const deep::PairTrajectory tr = deep::forward_pair(p, L, v1, v1, v1, s.divergence_bound);
        double* v = &D.v[i * L];
        double* t = &D.t[i * L];
        int stop = tr.stop_layer;
        t[0] = s.standard ? sq[i] + 1.0 : v1;
        for (int l = 0; l < L; ++l) {
            if (stop > 0 && l + 1 >= stop) break;
            v[l] = tr.q_a[l];
            D.phi2[i * L + l] = tr.phi2_a[l];
            D.dphi2[i * L + l] = tr.dphi2_a[l];
            if (l > 0) {
                const double phi2 = tr.phi2_a[l - 1];
                const double w = s.standard ? widths[l - 1] * phi2 + 1.0 : v[l];
                t[l] = w + s.sigma_w2 * tr.dphi2_a[l - 1] * t[l - 1];
                if (!std::isfinite(t[l])) {
                    stop = l + 1;
                    t[l] = kNaN;
                    v[l] = kNaN;
                    break;
                }
            }
        }
        D.stop[i] = stop;
    });
}

}  // namespace

NtkKernelInfo ntk_kernels(const Activation& g, const double* x1, std::int64_t n1, const double* x2, std::int64_t n2,
                          std::int64_t d, const NtkKernelSpec& spec, int num_threads, double* nngp, double* ntk) {
    if (spec.depth < 0) throw std::invalid_argument("depth: must be >= 0");
    if (!(spec.sigma_w2 > 0) || !std::isfinite(spec.sigma_w2)) throw std::invalid_argument("sigma_w2: must be > 0");
    if (!(spec.sigma_b2 >= 0) || !std::isfinite(spec.sigma_b2)) throw std::invalid_argument("sigma_b2: must be >= 0");
    if (spec.standard && !(spec.width >= 1)) throw std::invalid_argument("width: must be >= 1");
    if (!spec.width_ratios.empty() && static_cast<int>(spec.width_ratios.size()) != spec.depth)
        throw std::invalid_argument("width_ratios: needs one entry per hidden layer (depth)");
    for (double r : spec.width_ratios)
        if (!(r > 0.0) || !std::isfinite(r)) throw std::invalid_argument("width_ratios: must be finite and > 0");
    if (!(spec.divergence_bound > 1.0)) throw std::invalid_argument("divergence_bound: must be > 1");
    if (n1 < 1 || d < 1) throw std::invalid_argument("x1: must be a non-empty (n, d) array");
    const bool same = (x2 == nullptr);
    if (same) {
        x2 = x1;
        n2 = n1;
    }
    const int depth = spec.depth, L = depth + 1;
    const double sw2 = spec.sigma_w2, sb2 = spec.sigma_b2;
    std::vector<double> widths(std::max(depth, 0), spec.width);
    for (int l = 0; l < depth && !spec.width_ratios.empty(); ++l) widths[l] = spec.width * spec.width_ratios[l];

    // Layer 1: one Gram matrix.
    const Eigen::Map<const RowMat> X1(x1, n1, d), X2(x2, n2, d);
    RowMat G(n1, n2);
    G.noalias() = X1 * X2.transpose();
    std::vector<double> sq1(n1), sq2(same ? 0 : n2);
    for (std::int64_t i = 0; i < n1; ++i) sq1[i] = same ? G(i, i) : X1.row(i).squaredNorm();
    for (std::int64_t j = 0; j < (same ? 0 : n2); ++j) sq2[j] = X2.row(j).squaredNorm();

    Diagonal A, B;
    propagate_diagonal(g, spec, sq1, double(d), widths, num_threads, A);
    if (!same) propagate_diagonal(g, spec, sq2, double(d), widths, num_threads, B);
    const Diagonal& Bd = same ? A : B;
    NtkKernelInfo info;
    int stop = 0;
    for (int s : A.stop) if (s > 0) stop = stop == 0 ? s : std::min(stop, s);
    for (int s : Bd.stop) if (s > 0) stop = stop == 0 ? s : std::min(stop, s);
    if (stop > 0) {
        info.status = deep::RunStatus::Diverged;
        info.stop_layer = stop;
    }
    const int valid = stop > 0 ? stop - 1 : L;  // layers 1..valid are computed

    // Mehler series for pairs of equal variance: one per distinct Sigma^l(x, x) value and hidden
    // layer (when few), extended once so that evaluation is read-only (shared by the threads).
    std::vector<PairSeries> series;
    A.series.assign(n1 * L, -1);
    if (!same) B.series.assign(n2 * L, -1);
    if (!gaussian_detail::is_closed_form(g)) {
        for (int l = 0; l < std::min(depth, valid); ++l) {
            std::map<double, int> index;
            auto collect = [&](const Diagonal& D, std::int64_t n) {
                for (std::int64_t i = 0; i < n; ++i) index.emplace(D.v[i * L + l], -1);
            };
            collect(A, n1);
            if (!same) collect(B, n2);
            if (index.size() > 16 || index.size() * 4 > static_cast<size_t>(n1 * n2)) continue;
            for (auto& kv : index) {
                if (!(kv.first > 0.0)) continue;
                PairSeries ps;
                if (!ps.build(g, kv.first)) continue;
                ps.extend(ps.k_max);
                kv.second = static_cast<int>(series.size());
                series.push_back(std::move(ps));
            }
            auto assign = [&](Diagonal& D, std::int64_t n) {
                for (std::int64_t i = 0; i < n; ++i) D.series[i * L + l] = index[D.v[i * L + l]];
            };
            assign(A, n1);
            if (!same) assign(B, n2);
        }
    }

    const std::int64_t nn = n1 * n2;
    // One layer of one pair: (S, T) = (Sigma^l, Theta^l) -> layer l+1, with m = l-1 the hidden
    // layer whose moments feed it (l = 1..depth).
    auto step = [&](std::int64_t i, std::int64_t j, int m, double& S, double& T) {
        const double qa = A.v[i * L + m], qb = Bd.v[j * L + m];
        double pp, dd;
        if (qa == qb && S >= qa) {
            pp = A.phi2[i * L + m];  // identical inputs: the diagonal exactly
            dd = A.dphi2[i * L + m];
        } else {
            const double bound = std::sqrt(qa * qb);
            const double qab = std::clamp(S, -bound, bound);
            const int sa = A.series[i * L + m], sb = Bd.series[j * L + m];
            PairMoments pm;
            bool done = false;
            if (sa >= 0 && sa == sb) done = series[sa].evaluate(qab / qa, pm);
            if (!done) pm = pair_moments(g, qa, qab, qb);
            pp = pm.phiphi;
            dd = pm.dphidphi;
        }
        const double Sn = sw2 * pp + sb2;
        const double w = spec.standard ? widths[m] * pp + 1.0 : Sn;
        T = w + sw2 * dd * T;
        S = Sn;
    };
    auto first = [&](std::int64_t i, std::int64_t j, double& S, double& T) {
        S = sw2 * G(i, j) / double(d) + sb2;
        T = spec.standard ? G(i, j) + 1.0 : S;
    };
    auto put = [&](double* out, std::int64_t k, std::int64_t, std::int64_t, double v) { out[k] = v; };
    // x2 = x1: only the upper triangle is computed; the lower one is filled by blocked transposes.
    auto mirror = [&](double* out) {
        if (!same) return;
        constexpr std::int64_t B = 64;
        const std::int64_t nb = (n1 + B - 1) / B;
        parallel_for(nb, num_threads, [&](std::int64_t bi) {
            for (std::int64_t bj = 0; bj <= bi; ++bj)
                for (std::int64_t i = bi * B; i < std::min(n1, (bi + 1) * B); ++i)
                    for (std::int64_t j = bj * B; j < std::min(i, (bj + 1) * B); ++j) out[i * n2 + j] = out[j * n2 + i];
        });
    };
    if (spec.store_layers) {
        // Layer-major: each layer reads the previous one from the output (contiguous rows).
        for (int l = 0; l < L; ++l) {
            double* Sl = nngp + l * nn;
            double* Tl = ntk + l * nn;
            const double* Sp = nngp + (l - 1) * nn;
            const double* Tp = ntk + (l - 1) * nn;
            parallel_for(n1, num_threads, [&](std::int64_t i) {
                for (std::int64_t j = same ? i : 0; j < n2; ++j) {
                    const std::int64_t k = i * n2 + j;
                    double S, T;
                    if (l >= valid) {
                        S = T = kNaN;
                    } else if (same && i == j) {
                        S = A.v[i * L + l];
                        T = A.t[i * L + l];
                    } else if (l == 0) {
                        first(i, j, S, T);
                    } else {
                        S = Sp[k];
                        T = Tp[k];
                        step(i, j, l - 1, S, T);
                    }
                    put(Sl, k, i, j, S);
                    put(Tl, k, i, j, T);
                }
            });
            mirror(Sl);
            mirror(Tl);
        }
    } else {
        // Pair-major: each pair runs through the layers in registers; only the read-out is written.
        parallel_for(n1, num_threads, [&](std::int64_t i) {
            for (std::int64_t j = same ? i : 0; j < n2; ++j) {
                const std::int64_t k = i * n2 + j;
                double S, T;
                if (valid < L) {
                    S = T = kNaN;
                } else if (same && i == j) {
                    S = A.v[i * L + L - 1];
                    T = A.t[i * L + L - 1];
                } else {
                    first(i, j, S, T);
                    for (int l = 1; l < L; ++l) step(i, j, l - 1, S, T);
                }
                put(nngp, k, i, j, S);
                put(ntk, k, i, j, T);
            }
        });
        mirror(nngp);
        mirror(ntk);
    }
    return info;
}

}  // namespace statmech_nn
