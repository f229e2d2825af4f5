// The committee simulator's b = 1 pass (committee_sim_pass_impl.hpp) built for AVX512 (eight lanes), without
// fused multiply-adds, so that it gives bitwise the numbers of the baseline build.
#include <algorithm>
#include <cstdint>

#include "committee_sim_pass.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq")
namespace {
#include "committee_sim_pass_impl.hpp"
}  // namespace
namespace statmech_nn::committee_detail {
void single_pass_avx512(const SinglePass& p) { single_pass_loops(p, p.work); }
}  // namespace statmech_nn::committee_detail
#pragma GCC pop_options
#else
namespace statmech_nn::committee_detail {
void single_pass_avx512(const SinglePass& p) { single_pass_sse2(p); }
}  // namespace statmech_nn::committee_detail
#endif
