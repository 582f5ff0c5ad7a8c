"""Question 2.3: softplus in both layers, for scalars and vectors alike."""

import numpy as np

from _activations import sigmoid


def dyhat_dx(w1, w2, z1, z2):
    # dyhat/dx_d = s'(z2) * sum_h w2_h s'(z1_h) w1_hd
    return sigmoid(z2) * np.dot(w2 * sigmoid(z1), w1)


# z2 = w2 a1 + b2 contains b2, and dyhat/dx contains s'(z2): it changes with b2.
dyhat_dx_changes_with_b2 = True
