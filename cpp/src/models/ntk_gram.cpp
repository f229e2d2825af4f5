// The tile Gram block of the NTK kernels (ntk_gram.hpp): the two-lane SSE2 loops of every x86-64
// processor, and the run-time choice of the AVX2 / AVX-512 builds of the same loops.
#include "ntk_gram.hpp"

#include <cstdint>

#include "statmech_nn/closed_form_rows_isa.hpp"

#if defined(__SSE2__) && (defined(__GNUC__) || defined(__clang__))
#include <emmintrin.h>
#define STATMECH_NN_GRAM_SSE2 1
#endif

namespace {
#ifdef STATMECH_NN_GRAM_SSE2
constexpr int W = 2;
typedef double V __attribute__((vector_size(16)));
inline V loadv(const double* p) { return (V)_mm_loadu_pd(p); }
inline void storev(double* p, V v) { _mm_storeu_pd(p, (__m128d)v); }
#include "ntk_gram_impl.hpp"
#else
// portable fallback: the same order of operations one entry at a time
inline void gram_rows(const statmech_nn::ntk_detail::GramTile& t) {
    using statmech_nn::ntk_detail::kGramCols;
    for (std::int64_t r = 0; r < t.ni; ++r)
        for (std::int64_t c = 0; c < t.nc; ++c) {
            double s = t.accumulate ? t.G[r * kGramCols + c] : 0.0;
            for (std::int64_t k = 0; k < t.kd; ++k) s = s + t.x1[r * t.lda + k] * t.x2t[k * kGramCols + c];
            t.G[r * kGramCols + c] = s;
        }
}
#endif
}  // namespace

namespace statmech_nn::ntk_detail {

void gram_tile_sse2(const GramTile& t) { gram_rows(t); }

void gram_tile(const GramTile& t) {
    // the level of the row closed forms: it is capped at what the processor has
    const int level = closed_form_rows_isa();
    if (level == 2) gram_tile_avx512(t);
    else if (level == 1) gram_tile_avx2(t);
    else gram_tile_sse2(t);
}

}  // namespace statmech_nn::ntk_detail
