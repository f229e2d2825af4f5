// Microscopic SGD / weight-normalisation simulation of the perceptron (see the header).
#include "statmech_nn/perceptron_simulation.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

#include "statmech_nn/parallel.hpp"
#include "statmech_nn/random.hpp"

namespace statmech_nn::perceptron {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Teacher B (|B| = sqrt N) and the initial student direction R0 B/|B| + sqrt(1-R0^2) w, w a
// random unit vector orthogonal to B, scaled to length `length`.
void initial_vectors(Rng& rng, std::int64_t N, double R0, double length, std::vector<double>& B,
                     std::vector<double>& W) {
    B.resize(N);
    W.resize(N);
    rng.fill_normal(B.data(), N);
    rng.fill_normal(W.data(), N);
    double bb = 0.0;
    for (std::int64_t i = 0; i < N; ++i) bb += B[i] * B[i];
    const double sb = std::sqrt(static_cast<double>(N) / bb);
    for (std::int64_t i = 0; i < N; ++i) B[i] *= sb;  // |B|^2 = N
    double wb = 0.0;
    for (std::int64_t i = 0; i < N; ++i) wb += W[i] * B[i];
    const double proj = wb / static_cast<double>(N);
    double ww = 0.0;
    for (std::int64_t i = 0; i < N; ++i) {
        W[i] -= proj * B[i];
        ww += W[i] * W[i];
    }
    if (!(ww > 0.0)) throw std::invalid_argument("N: too small to hold a random direction orthogonal to B");
    const double sw = std::sqrt(1.0 - R0 * R0) / std::sqrt(ww);
    const double sB = R0 / std::sqrt(static_cast<double>(N));
    for (std::int64_t i = 0; i < N; ++i) W[i] = length * (sB * B[i] + sw * W[i]);
}

struct Sums {
    double dW = 0.0, dB = 0.0, WW = 0.0, WB = 0.0;
};

// One fused pass over the components: W_i <- scale W_i + add x_i (the pending update, with the
// previous normals x_i), draw the new x_i ~ N(0, 1), and accumulate W.x, B.x, |W|^2 (and W.B
// when recording). The normals are drawn in blocks of kBlock into a small buffer (the generator
// loop stays tight), then the arithmetic runs on pairs (i even, i + 1): two interleaved partial
// sums per dot product, as two-lane vectors where the compiler supports them. The summation
// order is fixed, so results are reproducible and identical with or without the vector path.
constexpr std::int64_t kBlock = 256;  // even, so that the lane of index i is i % 2 throughout

#if defined(__GNUC__) || defined(__clang__)
typedef double v2d __attribute__((vector_size(16)));
inline v2d load2(const double* p) {
    v2d v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
inline void store2(double* p, v2d v) { std::memcpy(p, &v, sizeof v); }
#define STATMECH_NN_V2D 1
#endif

template <bool Scale, bool WithWB>
inline Sums fused_pass(Rng& rng_ref, double* __restrict W, const double* __restrict B, double* __restrict x,
                       std::int64_t N, double scale, double add) {
    Rng rng = rng_ref;  // a local copy keeps the generator state in registers
    alignas(16) double nb[kBlock];
#ifdef STATMECH_NN_V2D
    v2d dW = {0.0, 0.0}, dB = {0.0, 0.0}, WW = {0.0, 0.0}, WB = {0.0, 0.0};
    const v2d vs = {scale, scale}, va = {add, add};
#else
    double dW0 = 0.0, dB0 = 0.0, WW0 = 0.0, WB0 = 0.0;
    double dW1 = 0.0, dB1 = 0.0, WW1 = 0.0, WB1 = 0.0;
#endif
    double tail_dW = 0.0, tail_dB = 0.0, tail_WW = 0.0, tail_WB = 0.0;
    for (std::int64_t i0 = 0; i0 < N; i0 += kBlock) {
        const std::int64_t m = std::min(kBlock, N - i0);
        for (std::int64_t j = 0; j < m; ++j) nb[j] = rng.normal();
        double* __restrict Wb = W + i0;
        double* __restrict xb = x + i0;
        const double* __restrict Bb = B + i0;
        std::int64_t j = 0;
        for (; j + 1 < m; j += 2) {
#ifdef STATMECH_NN_V2D
            const v2d w = (Scale ? load2(Wb + j) * vs : load2(Wb + j)) + va * load2(xb + j);
            const v2d n = load2(nb + j);
            const v2d b = load2(Bb + j);
            store2(Wb + j, w);
            store2(xb + j, n);
            dW += w * n;
            dB += b * n;
            WW += w * w;
            if (WithWB) WB += w * b;
#else
            const double w0 = (Scale ? Wb[j] * scale : Wb[j]) + add * xb[j];
            const double w1 = (Scale ? Wb[j + 1] * scale : Wb[j + 1]) + add * xb[j + 1];
            Wb[j] = w0;
            Wb[j + 1] = w1;
            const double n0 = nb[j], n1 = nb[j + 1];
            xb[j] = n0;
            xb[j + 1] = n1;
            const double b0 = Bb[j], b1 = Bb[j + 1];
            dW0 += w0 * n0;
            dW1 += w1 * n1;
            dB0 += b0 * n0;
            dB1 += b1 * n1;
            WW0 += w0 * w0;
            WW1 += w1 * w1;
            if (WithWB) {
                WB0 += w0 * b0;
                WB1 += w1 * b1;
            }
#endif
        }
        if (j < m) {  // only in the last block, when N is odd
            const double w0 = (Scale ? Wb[j] * scale : Wb[j]) + add * xb[j];
            Wb[j] = w0;
            xb[j] = nb[j];
            tail_dW = w0 * nb[j];
            tail_dB = Bb[j] * nb[j];
            tail_WW = w0 * w0;
            if (WithWB) tail_WB = w0 * Bb[j];
        }
    }
    rng_ref = rng;
    Sums s;
#ifdef STATMECH_NN_V2D
    s.dW = (dW[0] + tail_dW) + dW[1];
    s.dB = (dB[0] + tail_dB) + dB[1];
    s.WW = (WW[0] + tail_WW) + WW[1];
    s.WB = (WB[0] + tail_WB) + WB[1];
#else
    s.dW = (dW0 + tail_dW) + dW1;
    s.dB = (dB0 + tail_dB) + dB1;
    s.WW = (WW0 + tail_WW) + WW1;
    s.WB = (WB0 + tail_WB) + WB1;
#endif
    return s;
}

struct RunOutput {
    double* l;
    double* R;
    double* z;
    std::int8_t* status;
    double* t_stop;
};

// One run. `rule` fixed per call; the inner loop is the fused pass described in the header.
void run_one(const Activation& g, Rule rule, double eta, double l0, double R0, double z0, std::int64_t N,
             const std::vector<std::int64_t>& record_steps, std::uint64_t seed, double bound, const RunOutput& out) {
    Rng rng(seed, 0);
    const double sqrtN = std::sqrt(static_cast<double>(N));
    const double inv_sqrtN = 1.0 / sqrtN;
    std::vector<double> B, W;  // W: J for SGD, V for WN
    initial_vectors(rng, N, R0, sqrtN * (rule == Rule::SGD ? l0 : z0), B, W);
    std::vector<double> xb(N, 0.0);  // the previous step's standard normals (x = xb / sqrt N)
    double* __restrict Wp = W.data();
    const double* __restrict Bp = B.data();
    double* __restrict xp = xb.data();

    const std::int64_t n_rec = static_cast<std::int64_t>(record_steps.size());
    const std::int64_t last = n_rec ? record_steps.back() : 0;
    std::int64_t next_rec = 0;
    double r = sqrtN * l0;  // WN radial parameter
    double add = 0.0;       // coefficient of the previous normals in the pending update
    double scale = 1.0;     // WN: factor on V in the pending update

    for (std::int64_t k = 0; k <= last; ++k) {
        const bool record = (next_rec < n_rec && record_steps[next_rec] == k) || k == last;
        Sums sums;
        if (rule == Rule::SGD) {
            sums = record ? fused_pass<false, true>(rng, Wp, Bp, xp, N, 1.0, add)
                          : fused_pass<false, false>(rng, Wp, Bp, xp, N, 1.0, add);
        } else {
            sums = record ? fused_pass<true, true>(rng, Wp, Bp, xp, N, scale, add)
                          : fused_pass<true, false>(rng, Wp, Bp, xp, N, scale, add);
        }
        const double dW = sums.dW, dB = sums.dB, WW = sums.WW, WB = record ? sums.WB : 0.0;
        // Order parameters after k updates.
        const double normW = std::sqrt(WW);
        double l, R, z;
        if (rule == Rule::SGD) {
            l = normW * inv_sqrtN;
            R = record ? WB / (normW * sqrtN) : 0.0;
            z = kNaN;
        } else {
            l = r * inv_sqrtN;
            z = normW * inv_sqrtN;
            R = record ? WB / (normW * sqrtN) : 0.0;
        }
        // The field variance l^2 beyond bound (relative to the problem's scale, max(1, l0^2)), or
        // a non-finite state. Under WN, |V| growing is the mechanism itself: only finiteness.
        bool diverged = !std::isfinite(l) || !std::isfinite(R) || l * l > bound;
        if (rule == Rule::WN) diverged = diverged || !std::isfinite(z);
        if (diverged) {
            *out.status = static_cast<std::int8_t>(Status::Diverged);
            *out.t_stop = static_cast<double>(k) / static_cast<double>(N);
            for (std::int64_t j = next_rec; j < n_rec; ++j) out.l[j] = out.R[j] = out.z[j] = kNaN;
            return;
        }
        while (next_rec < n_rec && record_steps[next_rec] == k) {
            out.l[next_rec] = l;
            out.R[next_rec] = R;
            out.z[next_rec] = z;
            ++next_rec;
        }
        if (k == last) break;
        // The update of step k (applied in the next pass).
        const double v = dB * inv_sqrtN;
        if (rule == Rule::SGD) {
            const double h = dW * inv_sqrtN;
            const double delta = g.deriv(h) * (g.value(v) - g.value(h));
            add = eta * delta * inv_sqrtN;
        } else {
            const double vx = dW * inv_sqrtN / normW;  // V.x / |V|
            const double h = r * vx;                   // J.x
            const double delta = g.deriv(h) * (g.value(v) - g.value(h));
            add = eta * delta * r / normW * inv_sqrtN;
            scale = 1.0 - eta * delta * h / WW;
            r += eta * delta * vx;
        }
        if ((k & 63) == 0) check_interrupt();  // every thread (master: Python; others: the stop flag)
    }
    *out.status = static_cast<std::int8_t>(Status::Ok);
    *out.t_stop = static_cast<double>(last) / static_cast<double>(N);
}

}  // namespace

SimulationResult simulate(const Activation& g, Rule rule, double eta, double l0, double R0, double z0,
                          std::int64_t N, const std::vector<std::int64_t>& record_steps,
                          const std::vector<std::uint64_t>& seeds, int num_threads, double divergence_bound) {
    if (!(eta > 0.0) || !std::isfinite(eta)) throw std::invalid_argument("eta: must be a finite number > 0");
    if (!(l0 > 0.0) || !std::isfinite(l0)) throw std::invalid_argument("l0: must be a finite number > 0");
    if (!(std::fabs(R0) <= 1.0)) throw std::invalid_argument("R0: must lie in [-1, 1]");
    if (rule == Rule::WN && (!(z0 > 0.0) || !std::isfinite(z0)))
        throw std::invalid_argument("z0: must be a finite number > 0");
    if (N < 2) throw std::invalid_argument("N: must be >= 2");
    if (seeds.empty()) throw std::invalid_argument("seeds: must not be empty");
    for (std::size_t j = 0; j < record_steps.size(); ++j) {
        if (record_steps[j] < 0) throw std::invalid_argument("t: times must be >= 0");
        if (j > 0 && record_steps[j] < record_steps[j - 1])
            throw std::invalid_argument("t: times must be non-decreasing");
    }
    SimulationResult res;
    res.n_seeds = static_cast<std::int64_t>(seeds.size());
    res.n_times = static_cast<std::int64_t>(record_steps.size());
    const std::size_t total = static_cast<std::size_t>(res.n_seeds * res.n_times);
    res.l.assign(total, kNaN);
    res.R.assign(total, kNaN);
    res.z.assign(total, kNaN);
    res.eg.assign(total, kNaN);
    res.status.assign(seeds.size(), static_cast<std::int8_t>(Status::Ok));
    res.t_stop.assign(seeds.size(), 0.0);
    parallel_for(res.n_seeds, num_threads, [&](std::int64_t s) {
        const std::size_t off = static_cast<std::size_t>(s * res.n_times);
        RunOutput out{res.l.data() + off, res.R.data() + off, res.z.data() + off, res.status.data() + s,
                      res.t_stop.data() + s};
        run_one(g, rule, eta, l0, R0, z0, N, record_steps, seeds[s], divergence_bound * std::max(1.0, l0 * l0), out);
        for (std::int64_t j = 0; j < res.n_times; ++j) {
            const double l = out.l[j], R = out.R[j];
            if (std::isfinite(l) && std::isfinite(R)) res.eg[off + j] = generalization_error(g, l, R);
        }
    });
    return res;
}

SimulationResult simulate(const Setup& setup, std::int64_t N, const std::vector<std::int64_t>& record_steps,
                          const std::vector<std::uint64_t>& seeds, int num_threads, double divergence_bound) {
    return simulate(setup.activation, setup.rule, setup.eta, setup.l0, setup.R0, setup.z0, N, record_steps, seeds,
                    num_threads, divergence_bound);
}

}  // namespace statmech_nn::perceptron
