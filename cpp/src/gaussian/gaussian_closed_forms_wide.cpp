// Run-time choice of the wide row closed forms (closed_form_rows_wide.hpp): AVX-512 where the
// processor has F and DQ, else AVX2, else none (the two-lane SSE2 code of gaussian_closed_forms.cpp
// runs). Every path gives bitwise the same values, so the choice only changes the speed.
#include <atomic>

#include "closed_form_rows_wide.hpp"

namespace statmech_nn::gaussian_detail {

namespace {

int detected_level() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();  // runs during static initialisation
    if (closed_form_rows_avx512_built() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq"))
        return 2;
    if (closed_form_rows_avx2_built() && __builtin_cpu_supports("avx2")) return 1;
#endif
    return 0;
}

const int g_detected = detected_level();
std::atomic<int> g_level{g_detected};

}  // namespace

}  // namespace statmech_nn::gaussian_detail

namespace statmech_nn {

using gaussian_detail::g_detected;
using gaussian_detail::g_level;

int set_closed_form_rows_isa(int max_level) {
    const int level = max_level < 0 ? 0 : (max_level < g_detected ? max_level : g_detected);
    g_level.store(level, std::memory_order_relaxed);
    return level;
}

int closed_form_rows_isa() { return g_level.load(std::memory_order_relaxed); }

}  // namespace statmech_nn

namespace statmech_nn::gaussian_detail {

bool closed_form_rows_wide(const WideRow& row) {
    switch (row.kind) {
        case ActivationKind::Relu:
        case ActivationKind::LeakyRelu:
        case ActivationKind::Erf:
        case ActivationKind::ErfSigmoid:
        case ActivationKind::Gelu:
            break;
        default:
            return false;
    }
    const int level = g_level.load(std::memory_order_relaxed);
    if (level == 2) {
        closed_form_rows_avx512(row);
        return true;
    }
    if (level == 1) {
        closed_form_rows_avx2(row);
        return true;
    }
    return false;
}

}  // namespace statmech_nn::gaussian_detail
