"""A typical slip: the outer product taken in the wrong order (the result is transposed)."""

import numpy as np


def dyhat_dw1(x, w2, a1, yhat):
    return yhat * (1 - yhat) * np.multiply.outer(x, w2 * a1 * (1 - a1))
