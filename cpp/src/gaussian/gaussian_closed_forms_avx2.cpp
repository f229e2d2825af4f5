// The row closed forms (closed_form_rows_wide_impl.hpp) four pairs at a time with AVX2, chosen at
// run time by gaussian_closed_forms_wide.cpp; the rest of the library stays baseline x86-64. Only
// "avx2" is enabled (no FMA), so that the values are bitwise those of the two-lane code.
#include <cstdint>
#include <cstring>

#include "closed_form_rows_wide.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define STATMECH_NN_ROWS_AVX2 1
#include <immintrin.h>
#pragma GCC push_options
#pragma GCC target("avx2")
namespace {
constexpr int W = 4;
typedef double V __attribute__((vector_size(32)));
typedef decltype(V{} < V{}) M;  // the comparison mask type
inline V vsqrt(V x) { return (V)_mm256_sqrt_pd((__m256d)x); }
inline bool any(M m) { return _mm256_movemask_pd((__m256d)m) != 0; }
inline V loadv(const double* p) { return (V)_mm256_loadu_pd(p); }
inline void storev(double* p, V v) { _mm256_storeu_pd(p, (__m256d)v); }
#include "closed_form_rows_wide_impl.hpp"
}  // namespace
namespace statmech_nn::gaussian_detail {
void closed_form_rows_avx2(const WideRow& row) { wide_rows(row); }
}  // namespace statmech_nn::gaussian_detail
#pragma GCC pop_options
#endif

namespace statmech_nn::gaussian_detail {
bool closed_form_rows_avx2_built() {
#ifdef STATMECH_NN_ROWS_AVX2
    return true;
#else
    return false;
#endif
}
#ifndef STATMECH_NN_ROWS_AVX2
void closed_form_rows_avx2(const WideRow&) {}
#endif
}  // namespace statmech_nn::gaussian_detail
