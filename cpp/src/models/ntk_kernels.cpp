// Infinite-width NNGP / NTK kernels on the deep-network layer recursion (see ntk_kernels.hpp).
//
// The kernel matrices are computed tile by tile (kTile x kTile blocks of input pairs; for x2 = x1
// only the tiles on and above the diagonal, each also written to its mirror image). A tile is one
// task of parallel_for: the first layer's Gram block (ntk_gram.hpp: AVX2 / AVX-512 where available), then every layer as a pass
// over contiguous rows of pairs (the Gaussian layer's PairClosedFormRows for the closed-form
// activations, the Mehler series or the 2-D rule per pair otherwise), with the tile's Sigma and
// Theta kept in the task's workspace. Only the read-out is written unless every layer is asked for.
// A tile's numbers depend on the tile's position alone, so results do not depend on the thread count.
#include "statmech_nn/ntk_kernels.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "ntk_gram.hpp"
#include "statmech_nn/closed_form_rows_isa.hpp"
#include "statmech_nn/gaussian_moments.hpp"
#include "statmech_nn/parallel.hpp"

namespace statmech_nn {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr std::int64_t kTile = 64;
static_assert(kTile == ntk_detail::kGramCols, "a tile's Gram block has kTile columns");
// The tile's Gram block sums this many input components per pass (its packed columns then take
// 128 KiB, within the L2 cache).
constexpr std::int64_t kGramDepth = 256;

// Diagonal recursion of one set of inputs: Sigma^l(x, x), Theta^l(x, x) for l = 1..depth+1 and
// the moments of phi at l = 1..depth, layer-major ([l * n + i]) so that a layer's values of
// consecutive inputs are contiguous.
struct Diagonal {
    int layers = 0;  // depth + 1
    std::int64_t n = 0;
    std::vector<double> v, t, phi2, dphi2;
    std::vector<int> stop;      // per input: first diverged layer (0: none)
    std::vector<int> series;    // per hidden layer and input: index of its Mehler series (-1: none)
    double at(const std::vector<double>& a, int l, std::int64_t i) const { return a[l * n + i]; }
};

void propagate_diagonal(const Activation& g, const NtkKernelSpec& s, const std::vector<double>& sw2,
                        const std::vector<double>& sb2, const std::vector<double>& sq, double d,
                        const std::vector<double>& widths, int num_threads, Diagonal& D) {
    const std::int64_t n = static_cast<std::int64_t>(sq.size());
    const int L = s.depth + 1;
    D.layers = L;
    D.n = n;
    D.v.assign(n * L, kNaN);
    D.t.assign(n * L, kNaN);
    D.phi2.assign(n * L, kNaN);
    D.dphi2.assign(n * L, kNaN);
    D.stop.assign(n, 0);
    const bool closed = gaussian_detail::is_closed_form(g);
    parallel_for(n, num_threads, [&](std::int64_t i) {
        const double v1 = sw2[0] * sq[i] / d + sb2[0];
        // deep::forward_pair's recursion for one input (same stop rule and per-layer moments), with
        // each layer's own variances, and E phi^2, E phi'^2 from the Gaussian layer's pair closed
        // form at correlation 1 where there is one (the same values as its per-layer moments)
        deep::PairTrajectory tr;
        tr.q_a.assign(L, kNaN);
        tr.phi2_a.assign(L, kNaN);
        tr.dphi2_a.assign(L, kNaN);
        const double limit = (v1 > 0.0 ? v1 : 1.0) * s.divergence_bound;
        double q = v1;
        for (int l = 1; l <= L; ++l) {
            if (!std::isfinite(q) || q > limit) {
                tr.stop_layer = l;
                break;
            }
            double phi2, dphi2;
            if (closed) {
                PairMoments pm;
                pair_closed_form(g, q, q, q, pm);
                phi2 = pm.phiphi;
                dphi2 = pm.dphidphi;
            } else {
                check_interrupt();
                const deep::PairLayer m = deep::pair_layer(g, q, q, q);
                phi2 = m.phi2_a;
                dphi2 = m.dphi2_a;
            }
            tr.q_a[l - 1] = q;
            tr.phi2_a[l - 1] = phi2;
            tr.dphi2_a[l - 1] = dphi2;
            if (l < L) q = sw2[l] * phi2 + sb2[l];
        }
        int stop = tr.stop_layer;
        D.t[i] = s.standard ? sq[i] + 1.0 : v1;
        for (int l = 0; l < L; ++l) {
            if (stop > 0 && l + 1 >= stop) break;
            const std::int64_t k = l * n + i;
            D.v[k] = tr.q_a[l];
            D.phi2[k] = tr.phi2_a[l];
            D.dphi2[k] = tr.dphi2_a[l];
            if (l > 0) {
                const double phi2 = tr.phi2_a[l - 1];
                const double w = s.standard ? widths[l - 1] * phi2 + 1.0 : D.v[k];
                D.t[k] = w + sw2[l] * tr.dphi2_a[l - 1] * D.t[k - n];
                if (!std::isfinite(D.t[k])) {
                    stop = l + 1;
                    D.t[k] = kNaN;
                    D.v[k] = kNaN;
                    break;
                }
            }
        }
        D.stop[i] = stop;
    });
}

// Mehler series per distinct Sigma^l(x, x) value and hidden layer (built in parallel, extended once
// and compacted, so that evaluation is read-only and shared by the threads): a pair sums
// a_k(q1) a_k(q2) c^k (evaluate_cross; q1 = q2 included). Not built when there
// are more distinct values than a quarter of the pairs (the 2-D quadrature per pair is cheaper).
void build_series(const Activation& g, int depth, int valid, Diagonal& A, Diagonal* B, std::int64_t n1n2,
                  int num_threads, std::vector<PairSeries>& series) {
    A.series.assign(A.n * A.layers, -1);
    if (B) B->series.assign(B->n * B->layers, -1);
    for (int l = 0; l < std::min(depth, valid); ++l) {
        std::map<double, int> index;
        auto collect = [&](const Diagonal& D) {
            for (std::int64_t i = 0; i < D.n; ++i) index.emplace(D.at(D.v, l, i), -1);
        };
        collect(A);
        if (B) collect(*B);
        if (static_cast<std::int64_t>(index.size()) * 4 > n1n2) continue;
        std::vector<double> qs;
        for (auto& kv : index)
            if (kv.first > 0.0 && std::isfinite(kv.first)) qs.push_back(kv.first);
        std::vector<PairSeries> built(qs.size());
        std::vector<char> ok(qs.size(), 0);
        parallel_for(static_cast<std::int64_t>(qs.size()), num_threads, [&](std::int64_t k) {
            if (!built[k].build(g, qs[k])) return;
            built[k].extend(built[k].k_max);
            built[k].compact();
            ok[k] = 1;
        });
        for (std::size_t k = 0; k < qs.size(); ++k) {
            if (!ok[k]) continue;
            index[qs[k]] = static_cast<int>(series.size());
            series.push_back(std::move(built[k]));
        }
        auto assign = [&](Diagonal& D) {
            for (std::int64_t i = 0; i < D.n; ++i) D.series[l * D.n + i] = index[D.at(D.v, l, i)];
        };
        assign(A);
        if (B) assign(*B);
    }
}

}  // namespace

NtkKernelInfo ntk_kernels(const Activation& g, const double* x1, std::int64_t n1, const double* x2, std::int64_t n2,
                          std::int64_t d, const NtkKernelSpec& spec, int num_threads, double* nngp, double* ntk) {
    if (spec.depth < 0) throw std::invalid_argument("depth: must be >= 0");
    // per weight layer l = 1..depth+1 (index l - 1): the layers' variances or the scalars
    const std::size_t nl = static_cast<std::size_t>(spec.depth) + 1;
    auto per_layer = [&](const std::vector<double>& layers, double scalar, const char* name) {
        if (!layers.empty() && layers.size() != nl)
            throw std::invalid_argument(std::string(name) + ": needs one entry per weight layer (depth + 1)");
        return layers.empty() ? std::vector<double>(nl, scalar) : layers;
    };
    const std::vector<double> sw2 = per_layer(spec.sigma_w2_layers, spec.sigma_w2, "sigma_w2");
    const std::vector<double> sb2 = per_layer(spec.sigma_b2_layers, spec.sigma_b2, "sigma_b2");
    for (double w : sw2)
        if (!(w > 0) || !std::isfinite(w)) throw std::invalid_argument("sigma_w2: must be finite and > 0");
    for (double b : sb2)
        if (!(b >= 0) || !std::isfinite(b)) throw std::invalid_argument("sigma_b2: must be finite and >= 0");
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
    if (n2 < 1) throw std::invalid_argument("x2: must be a non-empty (n, d) array");
    const int depth = spec.depth, L = depth + 1;
    const double dd_in = static_cast<double>(d);
    std::vector<double> widths(std::max(depth, 0), spec.width);
    for (int l = 0; l < depth && !spec.width_ratios.empty(); ++l) widths[l] = spec.width * spec.width_ratios[l];

    // Squared norms summed in input order, as the GEMM sums each entry (no reassociation), so that
    // x.(-x) = -|x|^2 exactly and antiparallel inputs have correlation -1 exactly.
    auto squared_norms = [&](const double* x, std::int64_t n) {
        std::vector<double> sq(n);
        for (std::int64_t i = 0; i < n; ++i) {
            double acc = 0.0;
            for (std::int64_t k = 0; k < d; ++k) acc += x[i * d + k] * x[i * d + k];
            sq[i] = acc;
        }
        return sq;
    };
    const std::vector<double> sq1 = squared_norms(x1, n1), sq2 = same ? std::vector<double>() : squared_norms(x2, n2);

    // Threads only for work worth a team (estimated at ~5 ms on one thread): starting one costs
    // ~0.1 ms on an idle machine but up to 10-20 ms on a busy one (measured: n = 200, depth 3 took
    // 1.8 ms on one thread and 10-30 ms on two with other processes on the cores).
    // Per pair and layer (one thread, measured on a 2.6 GHz AMD EPYC): ~4.5 ns with the AVX-512 or
    // AVX2 rows, ~9 ns with SSE2; the Gram block ~0.07 ns per pair and input component.
    const bool closed = gaussian_detail::is_closed_form(g);
    const double pair_ns = closed ? (closed_form_rows_isa() >= 1 ? 5.0 : 9.0) : 20000.0;
    const double diag_ns = closed ? 300.0 : 50000.0;
    const double n_pairs = same ? 0.5 * double(n1) * double(n1 + 1) : double(n1) * double(n2);
    const double tile_work_ns = n_pairs * (double(depth) * pair_ns + 0.07 * double(d) + 4.0);
    const double diag_work_ns = double(n1 + (same ? 0 : n2)) * double(L) * diag_ns;
    constexpr double kTeamWorthNs = 5e6;
    const int tile_threads = tile_work_ns < kTeamWorthNs ? 1 : num_threads;
    const int diag_threads = diag_work_ns < kTeamWorthNs ? 1 : num_threads;

    Diagonal A, B;
    propagate_diagonal(g, spec, sw2, sb2, sq1, dd_in, widths, diag_threads, A);
    if (!same) propagate_diagonal(g, spec, sw2, sb2, sq2, dd_in, widths, diag_threads, B);
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

    // Per hidden layer: the closed forms prepared for the columns' variances, or the Mehler series.
    std::vector<PairClosedFormRows> rows(closed ? std::min(depth, valid) : 0);
    for (std::size_t m = 0; m < rows.size(); ++m) rows[m].prepare(g, n2, &Bd.v[m * n2]);
    std::vector<PairSeries> series;
    if (!closed) build_series(g, depth, valid, A, same ? nullptr : &B, n1 * n2, num_threads, series);

    // Tiles: all blocks (x1 != x2) or those on and above the diagonal (x2 = x1).
    const std::int64_t nb1 = (n1 + kTile - 1) / kTile, nb2 = (n2 + kTile - 1) / kTile;
    std::vector<std::pair<std::int64_t, std::int64_t>> tiles;
    for (std::int64_t bi = 0; bi < nb1; ++bi)
        for (std::int64_t bj = same ? bi : 0; bj < nb2; ++bj) tiles.emplace_back(bi, bj);
    const std::int64_t nn = n1 * n2;
    const bool layers_out = spec.store_layers;

    parallel_for(static_cast<std::int64_t>(tiles.size()), tile_threads, [&](std::int64_t task) {
        const std::int64_t i0 = tiles[task].first * kTile, j0 = tiles[task].second * kTile;
        const std::int64_t ni = std::min(kTile, n1 - i0), nj = std::min(kTile, n2 - j0);
        const bool diag_tile = same && i0 == j0;
        std::vector<double> S(ni * nj), T(ni * nj), pp(nj), dd(nj);
        {
            // the Gram block, over the input dimension in chunks of kGramDepth components
            std::vector<double> G(ni * kTile), xt(std::min(d, kGramDepth) * kTile, 0.0);
            for (std::int64_t k0 = 0; k0 < d; k0 += kGramDepth) {
                const std::int64_t kd = std::min(kGramDepth, d - k0);
                for (std::int64_t c = 0; c < nj; ++c)
                    for (std::int64_t k = 0; k < kd; ++k) xt[k * kTile + c] = x2[(j0 + c) * d + k0 + k];
                ntk_detail::gram_tile({x1 + i0 * d + k0, d, ni, kd, (nj + 15) / 16 * 16, xt.data(), G.data(), k0 > 0});
            }
            for (std::int64_t r = 0; r < ni; ++r)
                for (std::int64_t c = 0; c < nj; ++c) {
                    const double gij = G[r * kTile + c];
                    const std::int64_t k = r * nj + c;
                    S[k] = sw2[0] * gij / dd_in + sb2[0];
                    T[k] = spec.standard ? gij + 1.0 : S[k];
                }
        }
        // Writes the tile (and, for x2 = x1, its mirror image) into out; a diagonal tile's
        // entries on and above the diagonal only, and its own inputs' entries from the diagonal
        // recursion exactly.
        auto emit = [&](double* out, const std::vector<double>& W, bool nan) {
            for (std::int64_t r = 0; r < ni; ++r) {
                const std::int64_t c0 = diag_tile ? r : 0;
                double* row = out + (i0 + r) * n2 + j0;
                for (std::int64_t c = c0; c < nj; ++c) row[c] = nan ? kNaN : W[r * nj + c];
            }
            if (!same) return;
            for (std::int64_t c = 0; c < nj; ++c) {
                const std::int64_t r1 = diag_tile ? c : ni;
                double* col = out + (j0 + c) * n2 + i0;
                for (std::int64_t r = 0; r < r1; ++r) col[r] = nan ? kNaN : W[r * nj + c];
            }
        };
        auto fix_diagonal = [&](int l) {
            if (!diag_tile) return;
            for (std::int64_t r = 0; r < ni; ++r) {
                S[r * nj + r] = A.at(A.v, l, i0 + r);
                T[r * nj + r] = A.at(A.t, l, i0 + r);
            }
        };
        if (valid >= 1) fix_diagonal(0);
        if (layers_out) {
            emit(nngp, S, valid < 1);
            emit(ntk, T, valid < 1);
        }
        for (int l = 1; l < valid; ++l) {
            const int m = l - 1;  // the hidden layer whose moments feed layer l + 1
            const double* qb = &Bd.v[m * n2 + j0];
            const double w = spec.standard ? widths[m] : 0.0;
            const double sw2l = sw2[l], sb2l = sb2[l];
            for (std::int64_t r = 0; r < ni; ++r) {
                const std::int64_t i = i0 + r;
                const double qa = A.at(A.v, m, i);
                double* Sr = &S[r * nj];
                double* Tr = &T[r * nj];
                if (closed) {
                    rows[m].evaluate(qa, j0, nj, Sr, pp.data(), dd.data());
                    // identical inputs (in x1 and x2, or repeated): the diagonal's moments exactly
                    const double pa = A.at(A.phi2, m, i), da = A.at(A.dphi2, m, i);
                    for (std::int64_t c = 0; c < nj; ++c) {
                        const bool equal = qa == qb[c] && Sr[c] >= qa;
                        pp[c] = equal ? pa : pp[c];
                        dd[c] = equal ? da : dd[c];
                    }
                } else {
                    check_interrupt();
                    const int sa = A.series[m * n1 + i];
                    for (std::int64_t c = 0; c < nj; ++c) {
                        const std::int64_t j = j0 + c;
                        if (qa == qb[c] && Sr[c] >= qa) {
                            pp[c] = A.at(A.phi2, m, i);
                            dd[c] = A.at(A.dphi2, m, i);
                            continue;
                        }
                        const double bound = std::sqrt(qa * qb[c]);
                        const double qab = std::clamp(Sr[c], -bound, bound);
                        PairMoments pm;
                        bool done = false;
                        const int sb = Bd.series[m * n2 + j];
                        if (sa >= 0 && sb >= 0) done = evaluate_cross(series[sa], series[sb], qab / bound, pm);
                        if (!done) pm = pair_moments(g, qa, qab, qb[c]);
                        pp[c] = pm.phiphi;
                        dd[c] = pm.dphidphi;
                    }
                }
                for (std::int64_t c = 0; c < nj; ++c) {
                    const double Sn = sw2l * pp[c] + sb2l;
                    const double wt = spec.standard ? w * pp[c] + 1.0 : Sn;
                    Tr[c] = wt + sw2l * dd[c] * Tr[c];
                    Sr[c] = Sn;
                }
            }
            fix_diagonal(l);
            if (layers_out) {
                emit(nngp + l * nn, S, false);
                emit(ntk + l * nn, T, false);
            }
        }
        if (layers_out) {
            for (int l = std::max(valid, 1); l < L; ++l) {
                emit(nngp + l * nn, S, true);
                emit(ntk + l * nn, T, true);
            }
        } else {
            emit(nngp, S, valid < L);
            emit(ntk, T, valid < L);
        }
    });
    return info;
}

}  // namespace statmech_nn
