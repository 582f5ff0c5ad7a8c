"""Uses a linearised sigmoid, s(z) ~ 1/2 + z/4: right near z = 0 only."""

import numpy as np


def dyhat_dw1(x, w2, z1, z2):
    s1 = 0.5 + z1 / 4
    s2 = 0.5 + z2 / 4
    return s2 * (1 - s2) * np.multiply.outer(w2 * s1 * (1 - s1), x)
