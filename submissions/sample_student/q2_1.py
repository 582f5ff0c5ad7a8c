"""Question 2.1, transcribed from the handed-in derivation (any activation sigma)."""


def dyhat_dw2(a1, dyhat_dz2):
    # (2.1.3): dyhat/dw2 = dyhat/dz2 * dz2/dw2 = a1 * dyhat/dz2
    return a1 * dyhat_dz2


def dyhat_db2(dyhat_dz2):
    # (2.1.4): dyhat/db2 = dyhat/dz2 * dz2/db2 = dyhat/dz2
    return dyhat_dz2
