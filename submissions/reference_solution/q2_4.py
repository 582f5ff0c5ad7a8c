"""Question 2.4: logistic sigmoid in both layers, for scalars and vectors alike."""

import numpy as np


def dyhat_dw1(x, w2, a1, yhat):
    # dyhat/dw1_hd = yhat(1 - yhat) * w2_h a1_h (1 - a1_h) * x_d
    return yhat * (1 - yhat) * np.multiply.outer(w2 * a1 * (1 - a1), x)
