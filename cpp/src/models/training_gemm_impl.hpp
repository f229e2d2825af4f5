// Training twins: the body of the one matrix product of the training loop, compiled twice (plain
// and with AVX2/FMA, each with Eigen in a namespace of its own); see training_gemm.cpp.
// Included only by training_gemm*.cpp, after `Eigen` may have been renamed by a macro.
#include <Eigen/Core>

#include <cstdint>

namespace {

using Stride = Eigen::OuterStride<>;
template <int Order>
using MatrixT = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Order>;

template <int OA, int OB, int OC>
void product(double* C, std::int64_t m, std::int64_t n, std::int64_t ldc, double alpha, const double* A, std::int64_t lda,
             const double* B, std::int64_t ldb, std::int64_t k, bool accumulate) {
    Eigen::Map<MatrixT<OC>, 0, Stride> c(C, m, n, Stride(ldc));
    Eigen::Map<const MatrixT<OA>, 0, Stride> a(A, m, k, Stride(lda));
    Eigen::Map<const MatrixT<OB>, 0, Stride> b(B, k, n, Stride(ldb));
    if (accumulate)
        c.noalias() += alpha * (a * b);
    else
        c.noalias() = a * b;
}

// C (m x n) = A B (accumulate false) or C += alpha A B; each matrix row- or column-major with its
// leading dimension.
void product_any(double* C, std::int64_t m, std::int64_t n, std::int64_t ldc, bool c_row, double alpha,
                 const double* A, std::int64_t lda, bool a_row, const double* B, std::int64_t ldb, bool b_row,
                 std::int64_t k, bool accumulate) {
    constexpr int R = Eigen::RowMajor, Cm = Eigen::ColMajor;
    const int code = (a_row ? 4 : 0) + (b_row ? 2 : 0) + (c_row ? 1 : 0);
    switch (code) {
        case 0: return product<Cm, Cm, Cm>(C, m, n, ldc, alpha, A, lda, B, ldb, k, accumulate);
        case 1: return product<Cm, Cm, R>(C, m, n, ldc, alpha, A, lda, B, ldb, k, accumulate);
        case 2: return product<Cm, R, Cm>(C, m, n, ldc, alpha, A, lda, B, ldb, k, accumulate);
        case 3: return product<Cm, R, R>(C, m, n, ldc, alpha, A, lda, B, ldb, k, accumulate);
        case 4: return product<R, Cm, Cm>(C, m, n, ldc, alpha, A, lda, B, ldb, k, accumulate);
        case 5: return product<R, Cm, R>(C, m, n, ldc, alpha, A, lda, B, ldb, k, accumulate);
        case 6: return product<R, R, Cm>(C, m, n, ldc, alpha, A, lda, B, ldb, k, accumulate);
        default: return product<R, R, R>(C, m, n, ldc, alpha, A, lda, B, ldb, k, accumulate);
    }
}

}  // namespace
