// The row closed forms (closed_form_rows_wide_impl.hpp) eight pairs at a time with AVX-512 (F and DQ), chosen at
// run time by gaussian_closed_forms_wide.cpp; the rest of the library stays baseline x86-64. Only
// "avx512f,avx512dq" are enabled (no FMA), so that the values are bitwise those of the two-lane code.
#include <cstdint>
#include <cstring>

#include "closed_form_rows_wide.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define STATMECH_NN_ROWS_AVX512 1
#include <immintrin.h>
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq")
namespace {
constexpr int W = 8;
typedef double V __attribute__((vector_size(64)));
typedef decltype(V{} < V{}) M;  // the comparison mask type
inline V vsqrt(V x) { return (V)_mm512_mask_sqrt_pd((__m512d)x, (__mmask8)0xFF, (__m512d)x); }
inline bool any(M m) { return _mm512_test_epi64_mask((__m512i)m, (__m512i)m) != 0; }
inline V loadv(const double* p) { return (V)_mm512_loadu_pd(p); }
inline void storev(double* p, V v) { _mm512_storeu_pd(p, (__m512d)v); }
#include "closed_form_rows_wide_impl.hpp"
}  // namespace
namespace statmech_nn::gaussian_detail {
void closed_form_rows_avx512(const WideRow& row) { wide_rows(row); }
}  // namespace statmech_nn::gaussian_detail
#pragma GCC pop_options
#endif

namespace statmech_nn::gaussian_detail {
bool closed_form_rows_avx512_built() {
#ifdef STATMECH_NN_ROWS_AVX512
    return true;
#else
    return false;
#endif
}
#ifndef STATMECH_NN_ROWS_AVX512
void closed_form_rows_avx512(const WideRow&) {}
#endif
}  // namespace statmech_nn::gaussian_detail
