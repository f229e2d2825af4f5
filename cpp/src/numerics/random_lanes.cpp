// NormalLanes (random.hpp): the scalar build of the interleaved lanes, the run-time choice of the
// AVX2 / AVX-512 builds, and the tail of a fill that is not a multiple of eight.
#include <cstddef>
#include <cstdint>

#include "statmech_nn/closed_form_rows_isa.hpp"
#include "statmech_nn/random.hpp"

namespace statmech_nn {

namespace detail {

void fill_lanes_scalar(NormalLanes& g, double* out, std::size_t n, double scale) {
    // One lane at a time (its generator in registers), into every eighth entry.
    auto& s = g.words();
    for (int L = 0; L < NormalLanes::kLanes; ++L) {
        Rng r;
        const std::uint64_t w[4] = {s[0][L], s[1][L], s[2][L], s[3][L]};
        r.set_state(w);
        for (std::size_t i = static_cast<std::size_t>(L); i < n; i += NormalLanes::kLanes) out[i] = scale * r.normal();
        std::uint64_t after[4];
        r.get_state(after);
        for (int k = 0; k < 4; ++k) s[k][L] = after[k];
    }
}

}  // namespace detail

void NormalLanes::fill(double* out, std::size_t n, double scale) {
    const std::size_t n8 = n - n % kLanes;
    const int level = closed_form_rows_isa();  // capped at what the processor has
    if (level == 2) detail::fill_lanes_avx512(*this, out, n8, scale);
    else if (level == 1) detail::fill_lanes_avx2(*this, out, n8, scale);
    else detail::fill_lanes_scalar(*this, out, n8, scale);
    for (std::size_t i = n8; i < n; ++i) {
        const int L = static_cast<int>(i - n8);
        out[i] = scale * detail::lane_normal(s_, L, detail::lane_next(s_, L));
    }
}

}  // namespace statmech_nn
