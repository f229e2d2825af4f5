// NormalLanes (random.hpp) built for AVX2: lanes 0-3 and 4-7 in two registers per state word, the
// ziggurat's fast path by gathers from the layer tables, the rare rejection through the scalar lane
// code. Bitwise the scalar build's values.
#include <cstddef>
#include <cstdint>

#include "statmech_nn/random.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#pragma GCC push_options
#pragma GCC target("avx2")
namespace statmech_nn::detail {

namespace {

inline __m256i rotl(__m256i x, int k) { return _mm256_or_si256(_mm256_slli_epi64(x, k), _mm256_srli_epi64(x, 64 - k)); }

struct Half {  // four lanes
    __m256i s0, s1, s2, s3;
    __m256i next() {
        const __m256i bits = _mm256_add_epi64(rotl(_mm256_add_epi64(s0, s3), 23), s0);
        const __m256i t = _mm256_slli_epi64(s1, 17);
        s2 = _mm256_xor_si256(s2, s0);
        s3 = _mm256_xor_si256(s3, s1);
        s1 = _mm256_xor_si256(s1, s2);
        s0 = _mm256_xor_si256(s0, s3);
        s2 = _mm256_xor_si256(s2, t);
        s3 = rotl(s3, 45);
        return bits;
    }
    void load(std::uint64_t (&s)[4][NormalLanes::kLanes], int L0) {
        s0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s[0] + L0));
        s1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s[1] + L0));
        s2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s[2] + L0));
        s3 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s[3] + L0));
    }
    void store(std::uint64_t (&s)[4][NormalLanes::kLanes], int L0) const {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(s[0] + L0), s0);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(s[1] + L0), s1);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(s[2] + L0), s2);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(s[3] + L0), s3);
    }
};

// The fast-path values of four draws (sign applied, not scaled) and the mask of lanes that took it.
inline __m256d fast_values(__m256i bits, const ZigguratTables& z, int& fast) {
    const __m256i layer = _mm256_and_si256(bits, _mm256_set1_epi64x(0xFF));
    const __m256i j = _mm256_srli_epi64(bits, 12);
    const __m256i k = _mm256_i64gather_epi64(reinterpret_cast<const long long*>(z.k), layer, 8);
    fast = _mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(k, j)));  // both < 2^63
    const __m256d w = _mm256_i64gather_pd(z.w, layer, 8);
    // j < 2^52 to double exactly: its bits under the exponent of 2^52, minus 2^52
    const __m256d two52 = _mm256_set1_pd(4503599627370496.0);
    const __m256d jd = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(j, _mm256_castpd_si256(two52))), two52);
    const __m256d x = _mm256_mul_pd(jd, w);
    const __m256i sign = _mm256_slli_epi64(_mm256_and_si256(bits, _mm256_set1_epi64x(0x100)), 55);
    return _mm256_castsi256_pd(_mm256_xor_si256(_mm256_castpd_si256(x), sign));
}

}  // namespace

void fill_lanes_avx2(NormalLanes& g, double* out, std::size_t n, double scale) {
    auto& s = g.words();
    const ZigguratTables& z = ziggurat_tables();
    Half lo, hi;
    lo.load(s, 0);
    hi.load(s, 4);
    const __m256d sc = _mm256_set1_pd(scale);
    alignas(32) std::uint64_t bits_out[NormalLanes::kLanes];
    for (std::size_t i = 0; i < n; i += NormalLanes::kLanes) {
        const __m256i b_lo = lo.next(), b_hi = hi.next();
        int f_lo, f_hi;
        const __m256d x_lo = fast_values(b_lo, z, f_lo), x_hi = fast_values(b_hi, z, f_hi);
        _mm256_storeu_pd(out + i, _mm256_mul_pd(x_lo, sc));
        _mm256_storeu_pd(out + i + 4, _mm256_mul_pd(x_hi, sc));
        const int fast = f_lo | (f_hi << 4);
        if (fast != 0xFF) {  // a lane rejected: finish it with the scalar code on its words
            lo.store(s, 0);
            hi.store(s, 4);
            _mm256_store_si256(reinterpret_cast<__m256i*>(bits_out), b_lo);
            _mm256_store_si256(reinterpret_cast<__m256i*>(bits_out + 4), b_hi);
            for (int L = 0; L < NormalLanes::kLanes; ++L)
                if (!((fast >> L) & 1)) out[i + L] = scale * lane_normal(s, L, bits_out[L]);
            lo.load(s, 0);
            hi.load(s, 4);
        }
    }
    lo.store(s, 0);
    hi.store(s, 4);
}

}  // namespace statmech_nn::detail
#pragma GCC pop_options
#else
namespace statmech_nn::detail {
void fill_lanes_avx2(NormalLanes& g, double* out, std::size_t n, double scale) { fill_lanes_scalar(g, out, n, scale); }
}  // namespace statmech_nn::detail
#endif
