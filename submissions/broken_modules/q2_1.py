"""Does not even parse."""


def dyhat_dw2(a1, dyhat_dz2)
    return a1 * dyhat_dz2
