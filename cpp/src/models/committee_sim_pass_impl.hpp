// The loops of committee_sim_pass.hpp, included by each instruction-set build inside an anonymous
// namespace. Plain loops over 16 independent accumulators, which the compiler vectorises at the
// width of the build; the files are compiled without contraction into fused multiply-adds.
// (The including file provides <algorithm> and <cstdint>.)

constexpr std::int64_t kAcc = 16;     // accumulators per sum: element n goes to n mod 16 (single_pass_work)
constexpr std::int64_t kBlock = 2048;  // columns per block (a multiple of kAcc): x and x' stay in L1

inline double tree_sum(const double* a) {
    double s8[8], s4[4];
    for (int k = 0; k < 8; ++k) s8[k] = a[k] + a[k + 8];
    for (int k = 0; k < 4; ++k) s4[k] = s8[k] + s8[k + 4];
    return (s4[0] + s4[2]) + (s4[1] + s4[3]);
}

inline void dot_block(const double* __restrict w, const double* __restrict x, std::int64_t len,
                      double* __restrict acc) {
    std::int64_t n = 0;
    for (; n + kAcc <= len; n += kAcc)
        for (std::int64_t k = 0; k < kAcc; ++k) acc[k] = acc[k] + w[n + k] * x[n + k];
    for (std::int64_t k = 0; n + k < len; ++k) acc[k] = acc[k] + w[n + k] * x[n + k];
}

// J <- s J + a x over one block, with |J|^2 (and, when Dot, J . x1) summed into the accumulators.
template <bool Dot>
inline void update_block(double* __restrict J, const double* __restrict x, const double* __restrict x1,
                         std::int64_t len, double s, double a, double* __restrict qacc, double* __restrict lacc) {
    std::int64_t n = 0;
    for (; n + kAcc <= len; n += kAcc)
        for (std::int64_t k = 0; k < kAcc; ++k) {
            const double j = s * J[n + k] + a * x[n + k];
            J[n + k] = j;
            qacc[k] = qacc[k] + j * j;
            if (Dot) lacc[k] = lacc[k] + j * x1[n + k];
        }
    for (std::int64_t k = 0; n + k < len; ++k) {  // the tail, into the same accumulators
        const double j = s * J[n + k] + a * x[n + k];
        J[n + k] = j;
        qacc[k] = qacc[k] + j * j;
        if (Dot) lacc[k] = lacc[k] + j * x1[n + k];
    }
}

// acc: single_pass_work(K, M) = (2K + M) x kAcc doubles
inline void single_pass_loops(const statmech_nn::committee_detail::SinglePass& p, double* acc) {
    const std::int64_t K = p.K, M = p.M, N = p.N;
    double* qacc = acc;
    double* lacc = acc + K * kAcc;
    double* nacc = acc + 2 * K * kAcc;
    std::fill(acc, acc + (2 * K + M) * kAcc, 0.0);
    for (std::int64_t n0 = 0; n0 < N; n0 += kBlock) {
        const std::int64_t len = std::min(kBlock, N - n0);
        for (std::int64_t i = 0; i < K; ++i) {
            double* Ji = p.J + i * N + n0;
            if (p.x_next)
                update_block<true>(Ji, p.x + n0, p.x_next + n0, len, p.scale[i], p.add[i], qacc + i * kAcc,
                                   lacc + i * kAcc);
            else
                update_block<false>(Ji, p.x + n0, nullptr, len, p.scale[i], p.add[i], qacc + i * kAcc, nullptr);
        }
        if (p.x_next)
            for (std::int64_t m = 0; m < M; ++m) dot_block(p.B + m * N + n0, p.x_next + n0, len, nacc + m * kAcc);
    }
    for (std::int64_t i = 0; i < K; ++i) {
        p.q[i] = tree_sum(qacc + i * kAcc);
        if (p.x_next) p.lam[i] = tree_sum(lacc + i * kAcc);
    }
    if (p.x_next)
        for (std::int64_t m = 0; m < M; ++m) p.nu[m] = tree_sum(nacc + m * kAcc);
}
