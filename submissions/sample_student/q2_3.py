"""Question 2.3: softplus activation; does dyhat/dx change when b2 changes?"""

import numpy as np


def dyhat_dx(w1, w2, z1, z2):
    # (2.3.1) chain rule: dyhat/dz2 * dz2/da1 * da1/dz1 * dz1/dx
    return (w1 * w2) / ((1 + np.exp(-z2)) * (1 + np.exp(-z1)))


# "Since there is no b2 value in this expression, a change in bias b2 will not change the
# overall value."
dyhat_dx_changes_with_b2 = False
