// Internal: the tile Gram loops of ntk_gram.hpp, included by ntk_gram.cpp (two-lane SSE2),
// ntk_gram_avx2.cpp and ntk_gram_avx512.cpp after each has defined, in its own anonymous namespace
// and under its own target pragma, W (lanes), V (W doubles), V loadv(const double*),
// void storev(double*, V). Four rows by two vectors of columns per step, each entry accumulated
// over k in order with a multiply and an add.

inline void gram_rows(const statmech_nn::ntk_detail::GramTile& t) {
    using statmech_nn::ntk_detail::kGramCols;
    constexpr int C = 2 * W;  // columns per step
    const std::int64_t d = t.kd, lda = t.lda;
    std::int64_t r = 0;
    for (; r + 4 <= t.ni; r += 4) {
        const double* a0 = t.x1 + r * lda;
        const double* a1 = a0 + lda;
        const double* a2 = a1 + lda;
        const double* a3 = a2 + lda;
        for (std::int64_t c = 0; c < t.nc; c += C) {
            double* g = t.G + r * kGramCols + c;
            V s00 = V{}, s01 = V{}, s10 = V{}, s11 = V{}, s20 = V{}, s21 = V{}, s30 = V{}, s31 = V{};
            if (t.accumulate) {
                s00 = loadv(g), s01 = loadv(g + W), s10 = loadv(g + kGramCols), s11 = loadv(g + kGramCols + W);
                s20 = loadv(g + 2 * kGramCols), s21 = loadv(g + 2 * kGramCols + W);
                s30 = loadv(g + 3 * kGramCols), s31 = loadv(g + 3 * kGramCols + W);
            }
            const double* b = t.x2t + c;
            for (std::int64_t k = 0; k < d; ++k, b += kGramCols) {
                const V b0 = loadv(b), b1 = loadv(b + W);
                s00 = s00 + a0[k] * b0;
                s01 = s01 + a0[k] * b1;
                s10 = s10 + a1[k] * b0;
                s11 = s11 + a1[k] * b1;
                s20 = s20 + a2[k] * b0;
                s21 = s21 + a2[k] * b1;
                s30 = s30 + a3[k] * b0;
                s31 = s31 + a3[k] * b1;
            }
            storev(g, s00);
            storev(g + W, s01);
            storev(g + kGramCols, s10);
            storev(g + kGramCols + W, s11);
            storev(g + 2 * kGramCols, s20);
            storev(g + 2 * kGramCols + W, s21);
            storev(g + 3 * kGramCols, s30);
            storev(g + 3 * kGramCols + W, s31);
        }
    }
    for (; r < t.ni; ++r) {
        const double* a0 = t.x1 + r * lda;
        for (std::int64_t c = 0; c < t.nc; c += C) {
            double* g = t.G + r * kGramCols + c;
            V s00 = t.accumulate ? loadv(g) : V{}, s01 = t.accumulate ? loadv(g + W) : V{};
            const double* b = t.x2t + c;
            for (std::int64_t k = 0; k < d; ++k, b += kGramCols) {
                s00 = s00 + a0[k] * loadv(b);
                s01 = s01 + a0[k] * loadv(b + W);
            }
            storev(g, s00);
            storev(g + W, s01);
        }
    }
}
