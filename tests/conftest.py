import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(20261122)


def random_cov(rng, d, scale=1.0):
    """A random well-conditioned covariance matrix."""
    A = rng.normal(size=(d, d + 2))
    C = A @ A.T / (d + 2)
    return scale * C
