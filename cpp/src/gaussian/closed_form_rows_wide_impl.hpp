// Internal: the body of the wide row closed forms, included by gaussian_closed_forms_avx2.cpp and
// gaussian_closed_forms_avx512.cpp after each has defined, inside its own anonymous namespace and
// under its own target pragma:
//   constexpr int W;              lanes (4 or 8)
//   V  (W doubles), M (the comparison mask of V);
//   V vsqrt(V); bool any(M); V loadv(const double*); void storev(double*, V).
// The formulas mirror, operation for operation, the templates of gaussian_closed_forms.cpp (see
// the derivations there): the same IEEE operations in the same order, without fused multiply-add,
// so every lane gives bitwise the value of the two-lane and scalar code. Change both together
// (tests/test_ntk_closed_forms.py compares them bitwise).

constexpr double kPi = 3.14159265358979323846;
constexpr double kHalfPi = 0.5 * kPi;
constexpr double kInvTwoPi = 0.15915494309189533577;

inline V sel(M m, V a, V b) { return (V)((m & (M)a) | (~m & (M)b)); }
inline V max0(V x) { return sel(x > 0.0, x, V{}); }  // also maps NaN to 0, as the scalar code
inline V clamp_pm(V x, V b) { return sel(x > b, b, sel(x < -b, -b, x)); }

inline V asin_small(V x) {
    const V z = x * x;
    V p = z * 0.0287578513674215647081 - 0.0148518870712472032242;
    p = p * z + 0.017400879442694022443;
    p = p * z + 0.00545750671864035830042;
    p = p * z + 0.0103228143501857792869;
    p = p * z + 0.0114791774151849058958;
    p = p * z + 0.0139712129735529333042;
    p = p * z + 0.0173523927208699729415;
    p = p * z + 0.022372172942149887875;
    p = p * z + 0.0303819441385312472866;
    p = p * z + 0.0446428571463554297826;
    p = p * z + 0.0749999999999843293317;
    p = p * z + 0.166666666666666678265;
    return x + x * (z * p);
}

inline void acos_both(V c, V u, V v, V& t, V& tm) {
    const M lo = c < -0.5, hi = c > 0.5;
    const V A = asin_small(sel(lo, u, sel(hi, v, c)));
    const V A2 = 2.0 * A;
    t = sel(lo, A2, sel(hi, kPi - A2, kHalfPi + A));
    tm = sel(lo, kPi - A2, sel(hi, A2, kHalfPi - A));
}

inline V acos_minus(V r) {
    const V sq = vsqrt(max0(sel(r < 0.0, 0.5 * (1.0 + r), 0.5 * (1.0 - r))));
    const M lo = r < -0.5, hi = r > 0.5;
    const V A = asin_small(sel(lo, sq, sel(hi, sq, r)));
    return sel(lo, 2.0 * A, sel(hi, kPi - 2.0 * A, kHalfPi + A));
}

inline V asin_full(V r) {
    const V a = sel(r < 0.0, -r, r);
    const V sq = vsqrt(max0(0.5 * (1.0 - a)));
    const M big = a > 0.5;
    const V A = asin_small(sel(big, sq, a));
    const V s = sel(big, kHalfPi - 2.0 * A, A);
    return sel(r < 0.0, -s, s);
}

inline V k1_numerator(V c, V t, V sn) {
    const M near_minus_one = (c <= 0.0) & (t < 0.5);
    if (!any(near_minus_one)) return sn + t * c;
    const V t2 = t * t;
    V p = t2 * (18.0 / 121645100408832000.0) - 16.0 / 355687428096000.0;
    p = p * t2 + 14.0 / 1307674368000.0;
    p = p * t2 - 12.0 / 6227020800.0;
    p = p * t2 + 10.0 / 39916800.0;
    p = p * t2 - 8.0 / 362880.0;
    p = p * t2 + 6.0 / 5040.0;
    p = p * t2 - 4.0 / 120.0;
    p = p * t2 + 2.0 / 6.0;
    const V series = t2 * t * p;
    return sel(near_minus_one, series, sn + t * c);
}

template <bool WithB>
inline void homogeneous_pair(double c11, V c12, V c22, double ab2, double ab, double zero_dd, V& pp, V& dd) {
    const V s = vsqrt(c11 * c22);
    const V one = s * 0.0 + 1.0;
    const V rho = clamp_pm(c12 / s, one);
    const V u = vsqrt(max0(0.5 * (1.0 + rho))), v = vsqrt(max0(0.5 * (1.0 - rho)));
    const V sn = 2.0 * u * v;
    V t, tm;
    acos_both(rho, u, v, t, tm);
    V p = ab2 * k1_numerator(rho, t, sn), d = ab2 * t;
    if (WithB) {
        p = p - 2.0 * ab * k1_numerator(-rho, tm, sn);
        d = d + 2.0 * ab * tm;
    }
    const M ok = c11 * c22 > 0.0;
    pp = sel(ok, s * p * kInvTwoPi, one * 0.0);
    dd = sel(ok, d * kInvTwoPi, one * zero_dd);
}

template <int K>
inline void erf_family_pair(double c11, double s11, double ie11, V c12, V c22, V s22, V ie22, V ie2, V& pp, V& dd) {
    const V x = clamp_pm(c12, s11 * s22);
    const V r = clamp_pm(x * (ie11 * ie22), s22 * 0.0 + 1.0);
    const V D = 1.0 + c11 + c22 + max0(c11 * c22 - x * x);
    const V isD = 1.0 / vsqrt(D);
    if (K == 0) {
        pp = (2.0 / kPi) * asin_full(r);
        dd = (2.0 / kPi) * isD;
    } else if (K == 1) {
        pp = acos_minus(r) * kInvTwoPi;
        dd = kInvTwoPi * isD;
    } else {
        const double e1 = 1.0 + c11, ie1 = 1.0 / e1;
        const V P = acos_minus(r) * kInvTwoPi;
        const V e2 = 1.0 + c22, iq = kInvTwoPi * isD;
        pp = x * P + (c11 * c22 * e1 * e2 + x * x * (1.0 - c11 * c22)) * (ie1 * ie2) * iq;
        dd = P + x * iq * (ie1 + ie2) + x * iq * isD * isD;
    }
}

// Runs f(k, c12, c22, s22, ie22, ie2, pp, dd) over the row, W pairs at a time; the last partial
// group is padded with a harmless pair (c12 = 0, c22 = 1) whose values are not stored.
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
