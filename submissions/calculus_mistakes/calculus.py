"""Typical mistakes on the calculus sheet: each function but one is wrong in its own way."""

import numpy as np


def product_rule(x):
    return 2 * x * np.cos(x)  # the product of the derivatives


def quotient_rule(x):
    return np.exp(x) * (1 + x**2 + 2 * x) / (1 + x**2) ** 2  # the quotient rule's minus as a plus


def chain_rule(x):
    return 1 / (x**3 + 1)  # the inner derivative 3x^2 forgotten


def tangent(x):
    return 1 + np.tan(x) ** 2  # right: sec^2 written another way


def inverse_trig(x):
    return 1 / np.sqrt(1 + x**2) + 2 / (1 + 4 * x**2)  # arcsin's derivative confused with arsinh's


def second_derivative(x):
    return (1 - 2 * x**2) * np.exp(-(x**2))  # the first derivative, not the second
