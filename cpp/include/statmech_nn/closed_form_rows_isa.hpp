// The instruction set of the Gaussian layer's row closed forms (PairClosedFormRows): the two-lane
// SSE2 code of every x86-64 processor, or four (AVX2) / eight (AVX-512) pairs per instruction,
// chosen at run time. Every level gives bitwise the same values; the setting is for tests and
// benchmarks.
#pragma once

namespace statmech_nn {

// 0 = two-lane SSE2 (or scalar), 1 = AVX2, 2 = AVX-512 (F and DQ). Caps the level at max_level
// (the processor's best by default) and returns the level now in use.
int set_closed_form_rows_isa(int max_level);
int closed_form_rows_isa();

}  // namespace statmech_nn
