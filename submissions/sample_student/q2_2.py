"""Question 2.2: softplus activation, sigma(z) = log(1 + e^z)."""

import numpy as np


def dyhat_dw2(a1, z2):
    # a1 * dyhat/dz2 with dyhat/dz2 = 1 / (1 + e^-z2)   (2.2.1)
    return a1 / (1 + np.exp(-z2))


def dyhat_db2(z2):
    return 1 / (1 + np.exp(-z2))
