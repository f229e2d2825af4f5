// The tile Gram loops (ntk_gram_impl.hpp) with AVX2, four lanes; "avx2" only (no FMA), so the
// block is bitwise the baseline one.
#include <cstdint>

#include "ntk_gram.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#pragma GCC push_options
#pragma GCC target("avx2")
namespace {
constexpr int W = 4;
typedef double V __attribute__((vector_size(32)));
inline V loadv(const double* p) { return (V)_mm256_loadu_pd(p); }
inline void storev(double* p, V v) { _mm256_storeu_pd(p, (__m256d)v); }
#include "ntk_gram_impl.hpp"
}  // namespace
namespace statmech_nn::ntk_detail {
void gram_tile_avx2(const GramTile& t) { gram_rows(t); }
}  // namespace statmech_nn::ntk_detail
#pragma GCC pop_options
#else
namespace statmech_nn::ntk_detail {
void gram_tile_avx2(const GramTile& t) { gram_tile_sse2(t); }
}  // namespace statmech_nn::ntk_detail
#endif
