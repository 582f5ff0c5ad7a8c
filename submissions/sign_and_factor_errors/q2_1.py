"""A typical slip: the sign of the chain rule's factor flipped."""


def dyhat_dw2(a1, dyhat_dz2):
    return -a1 * dyhat_dz2


def dyhat_db2(dyhat_dz2):
    return dyhat_dz2
