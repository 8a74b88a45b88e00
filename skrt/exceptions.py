"""Warnings and errors raised by skrt."""

__all__ = ["RegularityBoundWarning"]


class RegularityBoundWarning(UserWarning):
    """The chosen regularity sits at a bound of the search range, or the
    selection criterion does not depend on it (for example, a constant target).

    Examples
    --------
    >>> import warnings
    >>> from skrt.exceptions import RegularityBoundWarning
    >>> issubclass(RegularityBoundWarning, UserWarning)
    True
    """
