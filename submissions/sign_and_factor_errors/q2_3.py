"""Correct for scalars and vectors."""

import numpy as np


def dyhat_dx(w1, w2, z1, z2):
    return np.dot(w2 / (1 + np.exp(-z1)), w1) / (1 + np.exp(-z2))


dyhat_dx_changes_with_b2 = True
