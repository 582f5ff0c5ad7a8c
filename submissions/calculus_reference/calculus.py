"""Reference answers to the calculus sheet (specs/calculus_sheet.yaml)."""

import numpy as np


def product_rule(x):
    return 2 * x * np.sin(x) + x**2 * np.cos(x)


def quotient_rule(x):
    return np.exp(x) * (1 + x**2 - 2 * x) / (1 + x**2) ** 2


def chain_rule(x):
    return 3 * x**2 / (x**3 + 1)


def tangent(x):
    return 1 / np.cos(x) ** 2


def inverse_trig(x):
    return 1 / np.sqrt(1 - x**2) + 2 / (1 + 4 * x**2)


def second_derivative(x):
    return (4 * x**3 - 6 * x) * np.exp(-(x**2))
