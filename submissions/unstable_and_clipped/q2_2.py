"""dyhat_dw2 is correct but written in a form that loses digits; dyhat_db2 clips z2 'for stability'."""

import numpy as np


def dyhat_dw2(a1, z2):
    return a1 * np.exp(z2) / (1 + np.exp(z2))


def dyhat_db2(z2):
    return 1 / (1 + np.exp(-np.clip(z2, -8, 8)))
