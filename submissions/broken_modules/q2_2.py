"""A misspelt parameter and *args."""

import numpy as np


def dyhat_dw2(a1, y_hat):
    return a1 * y_hat


def dyhat_db2(*args):
    return 1 / (1 + np.exp(-args[0]))
