// Internal: the closed forms of one pair of inputs (or of a vector of pairs), written once as
// templates over the number type T. Included by gaussian_closed_forms.cpp (T = double, and two
// doubles with SSE2) and, through closed_form_rows_wide_impl.hpp, by the AVX2 and AVX-512 builds
// (four and eight doubles), each inside its own anonymous namespace after defining, for each of
// its number types,
//   sel(mask, T, T), vsqrt(T), max0(T), clamp_pm(T, T), any(mask)
// and the constants kPi, kHalfPi, kInvTwoPi. Every build runs the same IEEE operations in the same
// order, without fused multiply-adds, so a pair's values are bitwise the same whatever the width
// (tests/test_ntk_closed_forms.py compares them). The derivations are in gaussian_closed_forms.cpp.

// asin(x) for |x| <= 1/2: x + x z P(z), z = x^2, with P the degree-12 polynomial interpolating
// (asin(sqrt z)/sqrt z - 1)/z at the Chebyshev points of [0, 1/4] (relative error 8e-17 on that
// interval, computed in 40-digit arithmetic); x z P(z) <= 0.05 x, so asin is good to ~0.5 ulp.
template <class T>
inline T asin_small(T x) {
    const T z = x * x;
    T p = z * 0.0287578513674215647081 - 0.0148518870712472032242;
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

// t = acos(-c) and tm = acos(c) for c in [-1, 1], with u = sqrt((1 + c)/2), v = sqrt((1 - c)/2):
// one asin_small of an argument <= 1/2 (c itself, or u or v for |c| > 1/2, where acos(y) =
// 2 asin(sqrt((1 - y)/2)) keeps full relative accuracy near y = 1).
template <class T>
inline void acos_both(T c, T u, T v, T& t, T& tm) {
    const auto lo = c < -0.5, hi = c > 0.5;
    const T A = asin_small(sel(lo, u, sel(hi, v, c)));
    const T A2 = 2.0 * A;
    t = sel(lo, A2, sel(hi, kPi - A2, kHalfPi + A));
    tm = sel(lo, kPi - A2, sel(hi, A2, kHalfPi - A));
}

// acos(-r) alone (one square root).
template <class T>
inline T acos_minus(T r) {
    const T sq = vsqrt(max0(sel(r < 0.0, 0.5 * (1.0 + r), 0.5 * (1.0 - r))));
    const auto lo = r < -0.5, hi = r > 0.5;
    const T A = asin_small(sel(lo, sq, sel(hi, sq, r)));
    return sel(lo, 2.0 * A, sel(hi, kPi - 2.0 * A, kHalfPi + A));
}

// asin(r), r in [-1, 1].
template <class T>
inline T asin_full(T r) {
    const T a = sel(r < 0.0, -r, r);
    const T sq = vsqrt(max0(0.5 * (1.0 - a)));
    const auto big = a > 0.5;
    const T A = asin_small(sel(big, sq, a));
    const T s = sel(big, kHalfPi - 2.0 * A, A);
    return sel(r < 0.0, -s, s);
}

// 2 pi k_1(c) = sin t - t cos t, t = acos(-c), sin t = sn, cos t = -c: sn + t c, and for c <= 0 with
// t < 1/2 (where sn and -t c nearly cancel) the series t^3 sum_k (-1)^k 2(k+1) t^{2k} / (2k+3)!.
template <class T>
inline T k1_numerator(T c, T t, T sn) {
    const auto near_minus_one = (c <= 0.0) & (t < 0.5);
    if (!any(near_minus_one)) return sn + t * c;  // the usual case (correlations above -0.88)
    const T t2 = t * t;
    T p = t2 * (18.0 / 121645100408832000.0) - 16.0 / 355687428096000.0;
    p = p * t2 + 14.0 / 1307674368000.0;
    p = p * t2 - 12.0 / 6227020800.0;
    p = p * t2 + 10.0 / 39916800.0;
    p = p * t2 - 8.0 / 362880.0;
    p = p * t2 + 6.0 / 5040.0;
    p = p * t2 - 4.0 / 120.0;
    p = p * t2 + 2.0 / 6.0;
    const T series = t2 * t * p;
    return sel(near_minus_one, series, sn + t * c);
}

// Homogeneous a max(x,0) - b max(-x,0) (relu: b = 0, WithB false).
template <bool WithB, class T>
inline void homogeneous_pair(double c11, T c12, T c22, double ab2, double ab, double zero_dd, T& pp, T& dd) {
    // sqrt(c11 c22) as pair_closed_form takes it: exactly q for equal variances q, so that
    // antiparallel inputs of equal norm give rho = -1 exactly (J2 has an infinite slope there)
    const T s = vsqrt(c11 * c22);
    const T one = s * 0.0 + 1.0;
    const T rho = clamp_pm(c12 / s, one);
    const T u = vsqrt(max0(0.5 * (1.0 + rho))), v = vsqrt(max0(0.5 * (1.0 - rho)));
    const T sn = 2.0 * u * v;  // sqrt(1 - rho^2)
    T t, tm;
    acos_both(rho, u, v, t, tm);
    T p = ab2 * k1_numerator(rho, t, sn), d = ab2 * t;
    if (WithB) {
        p = p - 2.0 * ab * k1_numerator(-rho, tm, sn);
        d = d + 2.0 * ab * tm;
    }
    // a zero-variance input (or variances whose product underflows): see homogeneous_pair_moments
    const auto ok = c11 * c22 > 0.0;
    pp = sel(ok, s * p * kInvTwoPi, one * 0.0);
    dd = sel(ok, d * kInvTwoPi, one * zero_dd);
}

// erf (K = 0), erf_sigmoid (1), gelu (2): r = c12 / sqrt((1 + c11)(1 + c22)), D = (1 + c11)(1 + c22) - c12^2.
template <int K, class T>
inline void erf_family_pair(double c11, double s11, double ie11, T c12, T c22, T s22, T ie22, T ie2, T& pp, T& dd) {
    const T x = clamp_pm(c12, s11 * s22);
    const T r = clamp_pm(x * (ie11 * ie22), s22 * 0.0 + 1.0);
    const T D = 1.0 + c11 + c22 + max0(c11 * c22 - x * x);
    const T isD = 1.0 / vsqrt(D);
    if (K == 0) {
        pp = (2.0 / kPi) * asin_full(r);
        dd = (2.0 / kPi) * isD;
    } else if (K == 1) {
        pp = acos_minus(r) * kInvTwoPi;
        dd = kInvTwoPi * isD;
    } else {  // gelu (see the file comment)
        const double e1 = 1.0 + c11, ie1 = 1.0 / e1;
        const T P = acos_minus(r) * kInvTwoPi;
        const T e2 = 1.0 + c22, iq = kInvTwoPi * isD;
        pp = x * P + (c11 * c22 * e1 * e2 + x * x * (1.0 - c11 * c22)) * (ie1 * ie2) * iq;
        dd = P + x * iq * (ie1 + ie2) + x * iq * isD * isD;
    }
}
