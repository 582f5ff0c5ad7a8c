"""Question 2.1: dz2/dw2 = a1 and dz2/db2 = 1, whatever the activation."""


def dyhat_dw2(a1, dyhat_dz2):
    return dyhat_dz2 * a1


def dyhat_db2(dyhat_dz2):
    return dyhat_dz2
