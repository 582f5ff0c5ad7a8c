"""Typical mistakes in backward passes: each function is wrong in its own way, or right."""

import numpy as np


def affine_backward_x(dout, W):
    return dout @ W.T  # right


def affine_backward_W(dout, x):
    return dout.T @ x  # transposed: shaped like W.T


def affine_backward_b(dout):
    return dout  # one gradient per row: not summed over the batch


def relu_backward(dout, x):
    return dout * (x >= 0) + 0 * x  # right: the inputs are never exactly 0


def softmax_loss(scores, y):
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_probs[np.arange(len(y)), y].sum()  # the loss summed, not averaged


def softmax_loss_gradient(scores, y):
    shifted = scores - scores.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    probs[np.arange(len(y)), y] -= 1
    return probs  # the 1/N of the mean forgotten


def batchnorm_backward_x(dout, x, gamma):
    var = x.var(axis=0)
    return dout * gamma / np.sqrt(var + 1e-5)  # the mean and the variance treated as constants


def batchnorm_backward_gamma(dout, xhat):
    return (dout * xhat).sum(axis=0)  # right


def batchnorm_backward_beta(dout):
    return -dout.sum(axis=0)  # sign error
