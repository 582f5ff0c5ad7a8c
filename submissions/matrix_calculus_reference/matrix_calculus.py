"""Reference answers to the matrix calculus sheet (specs/matrix_calculus.yaml)."""

import numpy as np


def quadratic_gradient(x, B):
    return (B + B.T) @ x


def quadratic_hessian(B):
    return B + B.T


def trace_linear(A):
    return A.T


def trace_quadratic(A, X):
    return (A + A.T) @ X


def log_abs_det(X):
    return np.linalg.inv(X).T


def inverse_bilinear(X, a, b):
    inverse = np.linalg.inv(X)
    return -np.outer(inverse.T @ a, inverse @ b)


def ridge_gradient(X, y, w, lam):
    return X.T @ (X @ w - y) + lam * w


def ridge_hessian(X, lam):
    return X.T @ X + lam * np.eye(X.shape[1])


def newton_step(X, y, w, lam):
    hessian = X.T @ X + lam * np.eye(X.shape[1])
    return w - np.linalg.solve(hessian, X.T @ (X @ w - y) + lam * w)
