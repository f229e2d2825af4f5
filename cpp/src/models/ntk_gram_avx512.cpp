// The tile Gram loops (ntk_gram_impl.hpp) with AVX-512, eight lanes; "avx512f" only (no FMA), so the
// block is bitwise the baseline one.
#include <cstdint>

#include "ntk_gram.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#pragma GCC push_options
#pragma GCC target("avx512f")
namespace {
constexpr int W = 8;
typedef double V __attribute__((vector_size(64)));
inline V loadv(const double* p) { return (V)_mm512_loadu_pd(p); }
inline void storev(double* p, V v) { _mm512_storeu_pd(p, (__m512d)v); }
#include "ntk_gram_impl.hpp"
}  // namespace
namespace statmech_nn::ntk_detail {
void gram_tile_avx512(const GramTile& t) { gram_rows(t); }
}  // namespace statmech_nn::ntk_detail
#pragma GCC pop_options
#else
namespace statmech_nn::ntk_detail {
void gram_tile_avx512(const GramTile& t) { gram_tile_sse2(t); }
}  // namespace statmech_nn::ntk_detail
#endif
