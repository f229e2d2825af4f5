"""High-precision (mpmath) references for the Gaussian layer's pair moments.

E[phi(x1) phi(x2)] and E[phi'(x1) phi'(x2)] over (x1, x2) ~ N(0, C) are written as
E_{x1}[phi(x1) G(beta x1)] with x1 the variable of larger variance and G(m) = E phi(m + s z) the
average over the conditional Gaussian. G is elementary (mpmath's ncdf/npdf) for every activation
except tanh, sigmoid and swish, for which it is a fixed high-order Gauss–Legendre sum in mpmath
arithmetic. The outer 1-D integral is mpmath's tanh-sinh quadrature split where phi(x1) and
G(beta x1) have kinks or change shape. Independent of the library (no shared code or formula).
"""

from __future__ import annotations

import mpmath as mp

DPS = 20
SLOPE = "0.01"
_FEAT = {"tanh": 1, "sigmoid": 2, "swish": 2, "erf": 1, "erf_sigmoid": 1, "gelu": 1, "sin": 1, "cos": 1, "rbf": 1}
_KINKS = {"relu": [0], "leaky_relu": [0], "hardtanh": [-1, 1], "linear": [], "abs": [0], "step": [0]}


def phi(name, x, d=0):
    slope = mp.mpf(SLOPE)
    if name == "linear":
        return x if d == 0 else mp.mpf(1)
    if name == "erf":
        return mp.erf(x / mp.sqrt(2)) if d == 0 else mp.sqrt(2 / mp.pi) * mp.exp(-x * x / 2)
    if name == "relu":
        return max(x, 0) if d == 0 else (mp.mpf(1) if x > 0 else mp.mpf(0))
    if name == "leaky_relu":
        return (x if x > 0 else slope * x) if d == 0 else (mp.mpf(1) if x > 0 else slope)
    if name == "hardtanh":
        return min(max(x, -1), 1) if d == 0 else (mp.mpf(1) if -1 < x < 1 else mp.mpf(0))
    if name == "tanh":
        return mp.tanh(x) if d == 0 else 1 / mp.cosh(x) ** 2
    if name == "sigmoid":
        s = 1 / (1 + mp.exp(-x))
        return s if d == 0 else s * (1 - s)
    if name == "erf_sigmoid":
        return mp.ncdf(x) if d == 0 else mp.npdf(x)
    if name == "gelu":
        return x * mp.ncdf(x) if d == 0 else mp.ncdf(x) + x * mp.npdf(x)
    if name == "swish":
        s = 1 / (1 + mp.exp(-x))
        return x * s if d == 0 else s * (1 + x * (1 - s))
    if name == "abs":
        return abs(x) if d == 0 else mp.sign(x)
    if name == "sin":
        return mp.sin(x) if d == 0 else mp.cos(x)
    if name == "cos":
        return mp.cos(x) if d == 0 else -mp.sin(x)
    if name == "rbf":  # sqrt(2) sin(sqrt(2) x + pi/4)
        return (mp.sqrt(2) * mp.sin(mp.sqrt(2) * x + mp.pi / 4) if d == 0
                else 2 * mp.cos(mp.sqrt(2) * x + mp.pi / 4))
    if name == "step":  # Heaviside with step(0) = 1/2; the derivative almost everywhere is 0
        return (mp.mpf(1) if x > 0 else (mp.mpf(0.5) if x == 0 else mp.mpf(0))) if d == 0 else mp.mpf(0)
    raise ValueError(name)


def _relu_avg(m, s):  # E max(m + s z, 0)
    if s == 0:
        return max(m, 0)
    return m * mp.ncdf(m / s) + s * mp.npdf(m / s)


def _step_avg(m, s):  # E Theta(m + s z)
    if s == 0:
        return mp.mpf(1) if m > 0 else (mp.mpf(0.5) if m == 0 else mp.mpf(0))
    return mp.ncdf(m / s)


_GL = {}


def _gl(n):
    if n not in _GL:
        _GL[n] = mp.calculus.quadrature.GaussLegendre(mp.mp).calc_nodes(5, mp.mp.prec)  # 3*2^4 nodes on [-1, 1]
    return _GL[n]


def _smooth_avg(name, d, m, s):
    """E phi^(d)(m + s z) for tanh/sigmoid/swish: composite Gauss–Legendre in mpmath arithmetic
    over |z| <= 12 with panels <= 1 wide and edges where m + s z crosses phi's feature points."""
    if s == 0:
        return phi(name, m, d)
    sc = _FEAT[name]
    edges = {mp.mpf(-12), mp.mpf(12)}
    for k in range(-12, 13, 2):
        edges.add(mp.mpf(k))
    for f in (0, -1, 1, -2, 2, -4, 4, -8, 8):
        z = (f * sc - m) / s
        if abs(z) < 12:
            edges.add(z)
    edges = sorted(edges)
    nodes = _gl(0)
    total = mp.mpf(0)
    for a, b in zip(edges[:-1], edges[1:]):
        h = (b - a) / 2
        c = (a + b) / 2
        for x, w in nodes:
            z = c + h * x
            total += w * h * phi(name, m + s * z, d) * mp.npdf(z)
    return total


def inner(name, d, m, s):
    """G(m) = E phi^(d)(m + s z), z ~ N(0, 1)."""
    slope = mp.mpf(SLOPE)
    if s == 0:
        if name in _KINKS and name != "linear" and d == 1:
            # Theta(0) = 1/2 at a kink (measure zero unless the whole Gaussian sits on it)
            return _step_avg(m, s) if name == "relu" else phi(name, m, d)
        return phi(name, m, d)
    if name == "linear":
        return m if d == 0 else mp.mpf(1)
    if name == "relu":
        return _relu_avg(m, s) if d == 0 else _step_avg(m, s)
    if name == "leaky_relu":
        if d == 0:
            return _relu_avg(m, s) - slope * _relu_avg(-m, s)
        return _step_avg(m, s) + slope * _step_avg(-m, s)
    if name == "hardtanh":
        if d == 0:
            return _relu_avg(m + 1, s) - _relu_avg(m - 1, s) - 1
        return _step_avg(m + 1, s) - _step_avg(m - 1, s)
    if name == "abs":  # E |m + s z| and E sign(m + s z)
        return _relu_avg(m, s) + _relu_avg(-m, s) if d == 0 else 2 * mp.ncdf(m / s) - 1
    if name == "step":
        return mp.ncdf(m / s) if d == 0 else mp.mpf(0)
    if name in ("sin", "cos", "rbf"):  # E sin(w (m + s z) + th) = sin(w m + th) e^{-w^2 s^2 / 2}
        w, th, A = {"sin": (1, 0, 1), "cos": (1, mp.pi / 2, 1), "rbf": (mp.sqrt(2), mp.pi / 4, mp.sqrt(2))}[name]
        A, th = (A, th) if d == 0 else (A * w, th + mp.pi / 2)
        return A * mp.sin(w * m + th) * mp.exp(-(w * s) ** 2 / 2)
    t = mp.sqrt(1 + s * s)
    if name == "erf_sigmoid":
        return mp.ncdf(m / t) if d == 0 else mp.npdf(m / t) / t
    if name == "erf":
        return 2 * mp.ncdf(m / t) - 1 if d == 0 else 2 * mp.npdf(m / t) / t
    if name == "gelu":
        if d == 0:
            return m * mp.ncdf(m / t) + s * s / t * mp.npdf(m / t)
        return mp.ncdf(m / t) + m / (t * t) * mp.npdf(m / t) / t
    return _smooth_avg(name, d, m, s)


def _conditioning(c11, c12, c22, rho=None):
    """Condition on the larger-variance variable x1 ~ N(0, sd1^2): x2 | x1 ~ N(beta x1, s2^2) (mpmath,
    at the working precision of the caller)."""
    c11, c12, c22 = mp.mpf(c11), mp.mpf(c12), mp.mpf(c22)
    if c22 > c11:
        c11, c22 = c22, c11
    # the intended correlation (the float C carries it only to rounding, which matters at |rho| = 1)
    rho = max(mp.mpf(-1), min(mp.mpf(1), c12 / mp.sqrt(c11 * c22))) if rho is None else mp.mpf(rho)
    return mp.sqrt(c11), rho * mp.sqrt(c22 / c11), mp.sqrt(c22 * (1 - rho) * (1 + rho))


def pair(name, c11, c12, c22, rho=None):
    """(E phi phi, E phi' phi') at the covariance [[c11, c12], [c12, c22]] (mpmath numbers); `rho`,
    if given, is the exact correlation (c12 = rho sqrt(c11 c22))."""
    with mp.workdps(DPS):
        sd1, beta, s2 = _conditioning(c11, c12, c22, rho)
        pts = set([mp.mpf(-12), mp.mpf(-6), mp.mpf(-3), mp.mpf(3), mp.mpf(6), mp.mpf(12)])
        kinks = _KINKS.get(name)
        feats = kinks if kinks is not None else [f * _FEAT[name] for f in (0, -1, 1, -2, 2, -4, 4, -8, 8, -16, 16)]
        for e in feats:
            pts.add(mp.mpf(e) / sd1)
            if beta != 0:
                pts.add(mp.mpf(e) / beta / sd1)
                for t in (-8, -4, -2, -1, -0.5, 0.5, 1, 2, 4, 8):
                    pts.add((mp.mpf(e) + t * s2) / beta / sd1)
        pts = sorted(p for p in pts if abs(p) <= 12)
        out = []
        for d in (0, 1):
            f = lambda z: phi(name, sd1 * z, d) * inner(name, d, beta * sd1 * z, s2) * mp.npdf(z)
            out.append(mp.quad(f, pts))
        return out[0], out[1]


def layer(name, q):
    """(E phi^2, E phi'^2) over N(0, q) by 1-D mpmath quadrature split at kinks and features."""
    with mp.workdps(DPS):
        q = mp.mpf(q)
        sd = mp.sqrt(q)
        kinks = _KINKS.get(name)
        feats = kinks if kinks is not None else [f * _FEAT[name] for f in (0, -1, 1, -2, 2, -4, 4, -8, 8, -16, 16)]
        pts = sorted(set([mp.mpf(-14), mp.mpf(14)] + [mp.mpf(k) for k in range(-13, 14)]
                         + [mp.mpf(e) / sd for e in feats if abs(mp.mpf(e) / sd) < 14]))
        return tuple(mp.quad(lambda z: phi(name, sd * z, d) ** 2 * mp.npdf(z), pts) for d in (0, 1))


def _edges(sd, mean, feats, zmax=12, step=1.5):
    e = {mp.mpf(-zmax), mp.mpf(zmax)}
    k = -zmax + step
    while k < zmax:
        e.add(mp.mpf(k))
        k += step
    for f in feats:
        z = (mp.mpf(f) - mean) / sd
        if abs(z) < zmax:
            e.add(z)
    return sorted(e)


def _panel_rule(edges, nodes):
    out = []
    for a, b in zip(edges[:-1], edges[1:]):
        h, c = (b - a) / 2, (a + b) / 2
        for x, w in nodes:
            z = c + h * x
            out.append((z, w * h * mp.npdf(z)))
    return out


def pair_smooth(name, c11, c12, c22, rho=None):
    """pair() for the smooth activations without closed inner averages (tanh, sigmoid, swish):
    a tensor rule in mpmath arithmetic (composite Gauss–Legendre, 24 nodes per panel, panels
    <= 1.5 sd over |z| <= 12, split where the arguments cross phi's feature points)."""
    with mp.workdps(DPS):
        sd1, beta, s2 = _conditioning(c11, c12, c22, rho)
        sc = _FEAT[name]
        feats = [f * sc for f in (0, -1, 1, -2, 2, -4, 4, -8, 8, -16, 16)]
        nodes = mp.calculus.quadrature.GaussLegendre(mp.mp).calc_nodes(3, mp.mp.prec)  # 24 nodes
        outer_feats = list(feats)
        if beta != 0:
            outer_feats += [f / beta for f in feats]
            if s2 > sc:
                outer_feats += [f * s2 / sc / beta for f in feats]
        I = J = mp.mpf(0)
        for z1, w1 in _panel_rule(_edges(sd1, 0, outer_feats), nodes):
            x1 = sd1 * z1
            m = beta * x1
            if s2 == 0:
                gi, gj = phi(name, m, 0), phi(name, m, 1)
            else:
                gi = gj = mp.mpf(0)
                for z2, w2 in _panel_rule(_edges(s2, m, feats), nodes):
                    gi += w2 * phi(name, m + s2 * z2, 0)
                    gj += w2 * phi(name, m + s2 * z2, 1)
            I += w1 * phi(name, x1, 0) * gi
            J += w1 * phi(name, x1, 1) * gj
        return I, J


def perturbation_spread(f, x, delta):
    """How much ``f(*x)`` moves when each input of ``x = (c11, c12, c22)`` moves by a relative
    ``delta`` (the larger of the two signs, summed over the inputs; the variances c11, c22 stay
    >= 0): the error a forward-stable evaluation may make (tests of the closed forms)."""
    f0 = f(*x)
    spread = mp.mpf(0)
    for k in range(3):
        moved = []
        for sign in (-1, 1):
            y = list(x)
            y[k] = x[k] * (1 + sign * delta)
            if k != 1 and y[k] < 0:
                continue
            moved.append(abs(f(*y) - f0))
        spread += max(moved) if moved else 0
    return f0, spread


def reference_and_tolerance(pair_fn, c11, c12, c22, dps, scale=None, delta=8 * 2.0 ** -52):
    """High-precision values of both pair moments ``pair_fn(c11, c12, c22) -> (E phi phi, E phi' phi')``
    and, for each, a forward-stable error bound: how much it moves when each input moves by ``delta``
    (relative, :func:`perturbation_spread`) plus ``delta`` times ``scale`` (default |value|; a sum of
    cancelling terms passes the size of its terms). Returns [(value, bound), (value, bound)]."""
    out = []
    with mp.workdps(dps):
        x = [mp.mpf(float(c11)), mp.mpf(float(c12)), mp.mpf(float(c22))]
        for which in (0, 1):
            f, spread = perturbation_spread(lambda *y: pair_fn(*y)[which], x, delta)
            s = abs(f) if scale is None else scale(*x)[which]
            out.append((f, float(spread + delta * s) + 1e-300))
    return out
