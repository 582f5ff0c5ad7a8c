"""Correct but cancellation-prone forms; the claim constant is missing."""

import numpy as np


def dyhat_dx(w1, w2, a1, z1, yhat):
    # s'(z1) = 1 - 1/(1 + e^z1);  s'(z2) = 1 - e^-yhat  (since yhat = log(1 + e^z2))
    return (1 - np.exp(-yhat)) * np.dot(w2 * (1 - 1 / (1 + np.exp(z1))), w1)
