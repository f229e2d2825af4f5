// Internal to the NTK kernels: the Gram block G[r][c] = x1_{i0+r} . x2_{j0+c} of one tile, every
// entry summed over the input dimension in input order with a separate multiply and add (no
// reassociation, no fused multiply-add), so that G(x, x) equals the squared norm summed the same
// way and G(x, -x) = -|x|^2 exactly. The same loops are compiled for two-lane SSE2 (baseline),
// AVX2 and AVX-512 (ntk_gram_avx2.cpp, ntk_gram_avx512.cpp), chosen at run time with the row closed
// forms' level (closed_form_rows_isa.hpp); all give bitwise the same block.
#pragma once

#include <cstdint>

namespace statmech_nn::ntk_detail {

constexpr std::int64_t kGramCols = 64;  // columns of a tile (at most)

// G[r][c] (+)= sum_{k < kd} x1[r * lda + k] x2t[k * kGramCols + c], r < ni, c < nc: x1 points
// at the tile's first row and a chunk of kd input components (row stride lda), x2t holds the same
// components of the tile's columns packed transposed and zero-padded; G is ni x kGramCols,
// row-major. With accumulate, the sums continue from G (a long input dimension in chunks keeps
// the order of the sum).
struct GramTile {
    const double* x1;
    std::int64_t lda, ni, kd;
    std::int64_t nc;  // columns computed: the tile's, rounded up to a multiple of 16 (<= kGramCols)
    const double* x2t;
    double* G;
    bool accumulate;
};

void gram_tile(const GramTile& t);
void gram_tile_sse2(const GramTile& t);
void gram_tile_avx2(const GramTile& t);
void gram_tile_avx512(const GramTile& t);

}  // namespace statmech_nn::ntk_detail
