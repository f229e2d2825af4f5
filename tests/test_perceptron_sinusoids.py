"""The perceptron's averages for sin, cos and rbf at every student length l.

They come from the Gaussian layer's closed I2, I3, I4 (characteristic functions). The references
here take another route: the average over the teacher's independent part is done analytically
(g(m + s w) = A sin(w (m + s w) + phi) over w ~ N(0, 1)), and the remaining 1-D average over u
numerically: composite Gauss-Legendre in double precision (fast suite) and mpmath (slow).
Quadrature alone cannot follow g(l u) = sin(l u) at large l: before, A1 at l = 20 was 0.59
instead of ~1e-30."""

import numpy as np
import pytest

from statmech_nn import perceptron as P

def _params(act, mod):
    """(A, w, phi) of g(x) = A sin(w x + phi), in the number type of mod (numpy or mpmath)."""
    if act == "sin":
        return 1, 1, 0
    if act == "cos":
        return 1, 1, mod.pi / 2
    return mod.sqrt(2), mod.sqrt(2), mod.pi / 4  # rbf


def _integrands(act, l, R, u, mod):
    """(A1/l, A3, A2, eps_g) integrands at u (without the Gaussian weight); mod is numpy or mpmath."""
    A, w, ph = _params(act, mod)
    s2 = 1 - R * R
    damp = mod.exp(-w * w * s2 / 2)
    m = R * u
    a = l * u
    g_a = A * mod.sin(w * a + ph)
    dg_a = A * w * mod.cos(w * a + ph)
    Eg = A * damp * mod.sin(w * m + ph)                       # E_w g(v)
    Evg = m * Eg + s2 * A * w * damp * mod.cos(w * m + ph)    # E_w v g(v) (Stein)
    Eg2 = A * A / 2 * (1 - mod.exp(-2 * w * w * s2) * mod.cos(2 * w * m + 2 * ph))
    diff2 = Eg2 - 2 * g_a * Eg + g_a * g_a
    return [dg_a * u * (Eg - g_a), dg_a * (Evg - g_a * m), 0.5 * dg_a ** 2 * diff2, 0.5 * diff2]


def _reference_numpy(act, l, R):
    w = float(_params(act, np)[1])
    width = min(0.25, 0.5 / (w * (abs(l) + 1)))
    edges = np.arange(-12.0, 12.0 + width, width)
    x, wt = np.polynomial.legendre.leggauss(24)
    a, b = edges[:-1, None], edges[1:, None]
    u = (0.5 * (b - a) * x + 0.5 * (a + b)).ravel()
    weight = (0.5 * (b - a) * wt).ravel() * np.exp(-0.5 * u * u) / np.sqrt(2 * np.pi)
    return [float(np.sum(f * weight)) for f in _integrands(act, l, R, u, np)]


def _ours(act, l, R):
    a = P.averages(act, l, R)
    return [a.A1_over_l, a.A3, a.A2, a.eg]


@pytest.mark.parametrize("act", ["sin", "cos", "rbf"])
@pytest.mark.parametrize("l", [0.0, 0.3, 1.0, 3.0, 20.0, 60.0, -2.0])
@pytest.mark.parametrize("R", [-1.0, -0.9, 0.0, 0.5, 0.99, 1.0])
def test_averages_match_an_independent_reference(act, l, R):
    ref = _reference_numpy(act, l, R)
    ours = _ours(act, l, R)
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12)
    # and the A1 the ODE uses is l times A1/l
    assert P.averages(act, l, R).A1 == pytest.approx(l * ours[0], rel=1e-15, abs=1e-300)


def test_averages_vanish_where_the_student_field_decorrelates():
    # sin: every term with g(l u) or g'(l u) against something smooth decays like exp(-l^2 / 2)
    a = P.averages("sin", 20.0, 0.5)
    assert abs(a.A1) < 1e-20 and abs(a.A3) < 1e-20
    assert a.eg == pytest.approx(0.5 * (0.5 * (1 - np.exp(-2.0)) + 0.5), rel=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("act,l,R", [("sin", 3.0, 0.5), ("cos", 20.0, -0.9), ("rbf", 3.0, 1.0), ("sin", 0.3, -0.9)])
def test_averages_match_mpmath(act, l, R):
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 25
    w = float(_params(act, np)[1])
    width = min(0.5, 1 / (w * (abs(l) + 1)))
    edges = [mp.mpf(-13) + k * mp.mpf(width) for k in range(int(26 / width) + 1)] + [mp.mpf(13)]
    lm, Rm = mp.mpf(l), mp.mpf(R)
    ref = [float(mp.quad(lambda u: _integrands(act, lm, Rm, u, mp)[k] * mp.npdf(u), edges)) for k in range(4)]
    np.testing.assert_allclose(_ours(act, l, R), ref, rtol=1e-11, atol=1e-14)
