"""Typical mistakes in matrix calculus: each function but two is wrong in its own way."""

import numpy as np


def quadratic_gradient(x, B):
    return 2 * B @ x  # right only for a symmetric B


def quadratic_hessian(B):
    return 2 * B  # not symmetric: B + B^T is


def trace_linear(A):
    return A  # the transpose forgotten


def trace_quadratic(A, X):
    return (A + A.T) @ X  # right


def log_abs_det(X):
    return np.linalg.inv(X)  # the transpose forgotten


def inverse_bilinear(X, a, b):
    inverse = np.linalg.inv(X)
    return np.outer(inverse.T @ a, inverse @ b)  # the sign of d(X^-1) = -X^-1 dX X^-1 lost


def ridge_gradient(X, y, w, lam):
    return X.T @ (X @ w - y) + 2 * lam * w  # the 1/2 of the penalty dropped


def ridge_hessian(X, lam):
    return X.T @ X + lam * np.eye(X.shape[1])  # right


def newton_step(X, y, w, lam):
    return w - (X.T @ (X @ w - y) + lam * w)  # a gradient step, not a Newton step
