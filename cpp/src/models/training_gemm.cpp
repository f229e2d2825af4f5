// Training twins: the one matrix product of the training loop, dispatched at run time to an
// AVX-512 or AVX2/FMA build of it (training_gemm_avx512.cpp, training_gemm_avx2.cpp) when the
// processor has those instructions and the core itself was compiled without them; the plain Eigen
// product otherwise. Results can differ in the last bits between processors. Every block of every
// run takes the same path on a given machine, so results stay independent of the thread count.
#include <cstdint>

#include "statmech_nn/training.hpp"
#include "training_gemm_impl.hpp"

namespace statmech_nn::training {

bool gemm_avx2_available();
bool gemm_avx512_available();
void gemm_avx512(double* C, std::int64_t m, std::int64_t n, std::int64_t ldc, bool c_row, double alpha, const double* A,
                 std::int64_t lda, bool a_row, const double* B, std::int64_t ldb, bool b_row, std::int64_t k,
                 bool accumulate);
void gemm_avx2(double* C, std::int64_t m, std::int64_t n, std::int64_t ldc, bool c_row, double alpha, const double* A,
               std::int64_t lda, bool a_row, const double* B, std::int64_t ldb, bool b_row, std::int64_t k,
               bool accumulate);

void gemm(double* C, std::int64_t m, std::int64_t n, std::int64_t ldc, bool c_row, double alpha, const double* A,
          std::int64_t lda, bool a_row, const double* B, std::int64_t ldb, bool b_row, std::int64_t k,
          bool accumulate) {
    static const int isa = gemm_avx512_available() ? 2 : gemm_avx2_available() ? 1 : 0;
    if (isa == 2)
        gemm_avx512(C, m, n, ldc, c_row, alpha, A, lda, a_row, B, ldb, b_row, k, accumulate);
    else if (isa == 1)
        gemm_avx2(C, m, n, ldc, c_row, alpha, A, lda, a_row, B, ldb, b_row, k, accumulate);
    else
        product_any(C, m, n, ldc, c_row, alpha, A, lda, a_row, B, ldb, b_row, k, accumulate);
}

}  // namespace statmech_nn::training
