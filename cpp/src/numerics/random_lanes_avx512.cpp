// NormalLanes (random.hpp) built for AVX-512 (F and DQ): the eight lanes' xoshiro256++ steps in one
// register per state word, the ziggurat's fast path by two gathers from the layer tables, and the
// rare rejection (~1.2% of draws) through the scalar lane code. Bitwise the scalar build's values.
#include <cstddef>
#include <cstdint>

#include "statmech_nn/random.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
// GCC 12 reports its own intrinsics' undefined-register idiom as maybe-uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq")
namespace statmech_nn::detail {

void fill_lanes_avx512(NormalLanes& g, double* out, std::size_t n, double scale) {
    auto& s = g.words();
    const ZigguratTables& z = ziggurat_tables();
    __m512i s0 = _mm512_load_si512(s[0]), s1 = _mm512_load_si512(s[1]);
    __m512i s2 = _mm512_load_si512(s[2]), s3 = _mm512_load_si512(s[3]);
    const __m512i layer_mask = _mm512_set1_epi64(0xFF), sign_bit = _mm512_set1_epi64(0x100);
    const __m512d sc = _mm512_set1_pd(scale);
    alignas(64) std::uint64_t bits_out[NormalLanes::kLanes];
    for (std::size_t i = 0; i < n; i += NormalLanes::kLanes) {
        const __m512i bits = _mm512_add_epi64(_mm512_rol_epi64(_mm512_add_epi64(s0, s3), 23), s0);
        const __m512i t = _mm512_slli_epi64(s1, 17);
        s2 = _mm512_xor_si512(s2, s0);
        s3 = _mm512_xor_si512(s3, s1);
        s1 = _mm512_xor_si512(s1, s2);
        s0 = _mm512_xor_si512(s0, s3);
        s2 = _mm512_xor_si512(s2, t);
        s3 = _mm512_rol_epi64(s3, 45);
        const __m512i layer = _mm512_and_si512(bits, layer_mask);
        const __m512i j = _mm512_srli_epi64(bits, 12);
        const __m512i k = _mm512_i64gather_epi64(layer, reinterpret_cast<const long long*>(z.k), 8);
        const __mmask8 fast = _mm512_cmplt_epu64_mask(j, k);
        const __m512d w = _mm512_i64gather_pd(layer, z.w, 8);
        __m512d x = _mm512_mul_pd(_mm512_cvtepi64_pd(j), w);  // j < 2^52: exact conversion
        x = _mm512_castsi512_pd(
            _mm512_xor_si512(_mm512_castpd_si512(x), _mm512_slli_epi64(_mm512_and_si512(bits, sign_bit), 55)));
        _mm512_storeu_pd(out + i, _mm512_mul_pd(x, sc));
        if (fast != 0xFF) {  // a lane rejected: finish it with the scalar code on its words
            _mm512_store_si512(s[0], s0);
            _mm512_store_si512(s[1], s1);
            _mm512_store_si512(s[2], s2);
            _mm512_store_si512(s[3], s3);
            _mm512_store_si512(bits_out, bits);
            for (int L = 0; L < NormalLanes::kLanes; ++L)
                if (!((fast >> L) & 1)) out[i + L] = scale * lane_normal(s, L, bits_out[L]);
            s0 = _mm512_load_si512(s[0]);
            s1 = _mm512_load_si512(s[1]);
            s2 = _mm512_load_si512(s[2]);
            s3 = _mm512_load_si512(s[3]);
        }
    }
    _mm512_store_si512(s[0], s0);
    _mm512_store_si512(s[1], s1);
    _mm512_store_si512(s[2], s2);
    _mm512_store_si512(s[3], s3);
}

}  // namespace statmech_nn::detail
#pragma GCC pop_options
#else
namespace statmech_nn::detail {
void fill_lanes_avx512(NormalLanes& g, double* out, std::size_t n, double scale) { fill_lanes_scalar(g, out, n, scale); }
}  // namespace statmech_nn::detail
#endif
