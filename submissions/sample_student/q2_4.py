"""Question 2.4: logistic sigmoid activation in both layers."""


def dyhat_dw1(x, w2, a1, yhat):
    # (2.4.3a-d): yhat(1 - yhat) * w2 * a1(1 - a1) * x
    return a1 * w2 * x * yhat * (1 - a1) * (1 - yhat)
