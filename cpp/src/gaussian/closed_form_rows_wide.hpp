// Internal to the Gaussian layer: PairClosedFormRows::evaluate with 4 (AVX2) or 8 (AVX-512) pairs
// per instruction, chosen at run time (the library itself stays baseline x86-64). The wide code runs
// the same IEEE operations in the same order as the two-lane SSE2 / scalar code of
// gaussian_closed_forms.cpp (no fused multiply-add), so a pair's values are bitwise the same on
// every path and every processor (tested: tests/test_ntk_closed_forms.py).
#pragma once

#include <cstdint>

#include "statmech_nn/activation.hpp"
#include "statmech_nn/closed_form_rows_isa.hpp"

namespace statmech_nn::gaussian_detail {

// One row of pairs (c11, c12[k], c22[k]), k < n, with the per-column constants of
// PairClosedFormRows (s22 = sqrt c22, ie22 = 1/sqrt(1 + c22), ie2 = 1/(1 + c22)) and the row's
// s11 = sqrt c11, ie11 = 1/sqrt(1 + c11); a, b: the homogeneous activations' slopes.
struct WideRow {
    ActivationKind kind;
    double a, b, c11, s11, ie11;
    std::int64_t n;
    const double *c12, *c22, *s22, *ie22, *ie2;
    double *phiphi, *dphidphi;
};

// Evaluates the row with the widest instruction set available (and allowed); false when none is
// (or the kind has no wide code: then the caller's two-lane loop runs).
bool closed_form_rows_wide(const WideRow& row);

// The per-width kernels (gaussian_closed_forms_avx2.cpp / _avx512.cpp); only called when the
// processor has the instructions.
void closed_form_rows_avx2(const WideRow& row);
void closed_form_rows_avx512(const WideRow& row);
bool closed_form_rows_avx2_built();
bool closed_form_rows_avx512_built();

}  // namespace statmech_nn::gaussian_detail
