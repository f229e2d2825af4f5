// Internal: the body of the wide row closed forms, included by gaussian_closed_forms_avx2.cpp and
// gaussian_closed_forms_avx512.cpp after each has defined, inside its own anonymous namespace and
// under its own target pragma:
//   constexpr int W;              lanes (4 or 8)
//   V  (W doubles), M (the comparison mask of V);
//   V vsqrt(V); bool any(M); V loadv(const double*); void storev(double*, V).
// The formulas are the templates of closed_form_pair_formulas.hpp, shared with the scalar and
// two-lane code of gaussian_closed_forms.cpp: the same IEEE operations in the same order, without
// fused multiply-add, so every lane gives bitwise the value of the scalar code
// (tests/test_ntk_closed_forms.py compares them bitwise).

constexpr double kPi = 3.14159265358979323846;
constexpr double kHalfPi = 0.5 * kPi;
constexpr double kInvTwoPi = 0.15915494309189533577;

inline V sel(M m, V a, V b) { return (V)((m & (M)a) | (~m & (M)b)); }
inline V max0(V x) { return sel(x > 0.0, x, V{}); }  // also maps NaN to 0, as the scalar code
inline V clamp_pm(V x, V b) { return sel(x > b, b, sel(x < -b, -b, x)); }

#include "closed_form_pair_formulas.hpp"

template <class F>
inline void wide_loop(const statmech_nn::gaussian_detail::WideRow& r, F&& f) {
    std::int64_t k = 0;
    // two independent groups per step: their long dependency chains (the arcsine polynomial) overlap
    for (; k + 2 * W <= r.n; k += 2 * W) {
        V pp0, dd0, pp1, dd1;
        f(loadv(r.c12 + k), loadv(r.c22 + k), loadv(r.s22 + k), loadv(r.ie22 + k), loadv(r.ie2 + k), pp0, dd0);
        f(loadv(r.c12 + k + W), loadv(r.c22 + k + W), loadv(r.s22 + k + W), loadv(r.ie22 + k + W),
          loadv(r.ie2 + k + W), pp1, dd1);
        storev(r.phiphi + k, pp0);
        storev(r.dphidphi + k, dd0);
        storev(r.phiphi + k + W, pp1);
        storev(r.dphidphi + k + W, dd1);
    }
    for (; k + W <= r.n; k += W) {
        V pp, dd;
        f(loadv(r.c12 + k), loadv(r.c22 + k), loadv(r.s22 + k), loadv(r.ie22 + k), loadv(r.ie2 + k), pp, dd);
        storev(r.phiphi + k, pp);
        storev(r.dphidphi + k, dd);
    }
    const std::int64_t rest = r.n - k;
    if (rest <= 0) return;
    double buf[5][W], out[2][W];
    const double fill[5] = {0.0, 1.0, 1.0, 0.70710678118654752440, 0.5};
    const double* src[5] = {r.c12, r.c22, r.s22, r.ie22, r.ie2};
    for (int a = 0; a < 5; ++a)
        for (int l = 0; l < W; ++l) buf[a][l] = l < rest ? src[a][k + l] : fill[a];
    V pp, dd;
    f(loadv(buf[0]), loadv(buf[1]), loadv(buf[2]), loadv(buf[3]), loadv(buf[4]), pp, dd);
    storev(out[0], pp);
    storev(out[1], dd);
    for (std::int64_t l = 0; l < rest; ++l) {
        r.phiphi[k + l] = out[0][l];
        r.dphidphi[k + l] = out[1][l];
    }
}

inline void wide_rows(const statmech_nn::gaussian_detail::WideRow& r) {
    using statmech_nn::ActivationKind;
    const double c11 = r.c11, s11 = r.s11, ie11 = r.ie11;
    if (r.kind == ActivationKind::Relu || r.kind == ActivationKind::LeakyRelu) {
        const double a = r.a, b = r.b, ab2 = a * a + b * b, ab = a * b, zero_dd = 0.25 * (a + b) * (a + b);
        if (ab != 0.0)
            wide_loop(r, [&](V c12, V c22, V, V, V, V& pp, V& dd) {
                homogeneous_pair<true>(c11, c12, c22, ab2, ab, zero_dd, pp, dd);
            });
        else
            wide_loop(r, [&](V c12, V c22, V, V, V, V& pp, V& dd) {
                homogeneous_pair<false>(c11, c12, c22, ab2, ab, zero_dd, pp, dd);
            });
        return;
    }
    if (r.kind == ActivationKind::Erf)
        wide_loop(r, [&](V c12, V c22, V s22, V ie22, V ie2, V& pp, V& dd) {
            erf_family_pair<0>(c11, s11, ie11, c12, c22, s22, ie22, ie2, pp, dd);
        });
    else if (r.kind == ActivationKind::ErfSigmoid)
        wide_loop(r, [&](V c12, V c22, V s22, V ie22, V ie2, V& pp, V& dd) {
            erf_family_pair<1>(c11, s11, ie11, c12, c22, s22, ie22, ie2, pp, dd);
        });
    else
        wide_loop(r, [&](V c12, V c22, V s22, V ie22, V ie2, V& pp, V& dd) {
            erf_family_pair<2>(c11, s11, ie11, c12, c22, s22, ie22, ie2, pp, dd);
        });
}
