// Training twins: the matrix product compiled for AVX-512 (F, DQ, VL) + FMA (chosen at run time by
// training_gemm.cpp when the processor has them). Eigen lives in a namespace of its own here, so
// that none of its AVX-512 instantiations can replace the plain ones of the rest of the core.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__AVX512F__)
#define STATMECH_NN_TRAINING_AVX512 1
#pragma GCC target("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma")
// #pragma GCC target does not define the instruction-set macros Eigen selects its packets by.
#ifndef __SSE3__
#define __SSE3__ 1
#endif
#ifndef __SSSE3__
#define __SSSE3__ 1
#endif
#ifndef __SSE4_1__
#define __SSE4_1__ 1
#endif
#ifndef __SSE4_2__
#define __SSE4_2__ 1
#endif
#ifndef __AVX__
#define __AVX__ 1
#endif
#ifndef __AVX2__
#define __AVX2__ 1
#endif
#ifndef __FMA__
#define __FMA__ 1
#endif
#ifndef __AVX512F__
#define __AVX512F__ 1
#endif
#ifndef __AVX512DQ__
#define __AVX512DQ__ 1
#endif
#ifndef __AVX512VL__
#define __AVX512VL__ 1
#endif
#ifndef __AVX512BW__
#define __AVX512BW__ 1
#endif
#define Eigen statmech_nn_eigen_avx512
#include "training_gemm_impl.hpp"
#undef Eigen
#endif

#include <cstdint>

namespace statmech_nn::training {

bool gemm_avx512_available() {
#ifdef STATMECH_NN_TRAINING_AVX512
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("fma");
#else
    return false;
#endif
}

void gemm_avx512(double* C, std::int64_t m, std::int64_t n, std::int64_t ldc, bool c_row, double alpha, const double* A,
               std::int64_t lda, bool a_row, const double* B, std::int64_t ldb, bool b_row, std::int64_t k,
               bool accumulate) {
#ifdef STATMECH_NN_TRAINING_AVX512
    product_any(C, m, n, ldc, c_row, alpha, A, lda, a_row, B, ldb, b_row, k, accumulate);
#else
    (void)C, (void)m, (void)n, (void)ldc, (void)c_row, (void)alpha, (void)A, (void)lda, (void)a_row, (void)B, (void)ldb,
        (void)b_row, (void)k, (void)accumulate;
#endif
}

}  // namespace statmech_nn::training
