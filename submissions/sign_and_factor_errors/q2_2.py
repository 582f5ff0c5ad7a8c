"""A typical slip: a stray factor 2 (d/dz log(1 + e^z) taken as 2 e^z / (1 + e^z))."""

import numpy as np


def dyhat_dw2(a1, z2):
    return 2 * a1 / (1 + np.exp(-z2))


def dyhat_db2(z2):
    return 1 / (1 + np.exp(-z2))
