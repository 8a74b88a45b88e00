"""Progress on stderr, one place: the bar of ``skrt demo`` / ``skrt query``
and the ``verbose`` lines of the estimators (scikit-learn's convention:
``verbose=0`` silent, ``verbose>=1`` progress lines on stderr)."""

from __future__ import annotations

import sys

__all__ = ["ProgressBar", "say"]


class ProgressBar:
    """A one-line bar redrawn in place on stderr.

    Parameters
    ----------
    total : int
        Steps to do.
    enabled : bool, default=True
        When False every method does nothing.
    width : int, default=30
        Characters of the bar.

    Examples
    --------
    >>> bar = ProgressBar(2, enabled=False)
    >>> bar.update("first"); bar.update("second"); bar.close()
    """

    def __init__(self, total: int, enabled: bool = True, width: int = 30):
        self.total = max(int(total), 1)
        self.enabled = enabled
        self.width = width
        self.done = 0

    def update(self, label: str = "", step: int = 1) -> None:
        """Advance by ``step`` and redraw with ``label``."""
        self.done += step
        if not self.enabled:
            return
        filled = int(self.width * min(self.done, self.total) / self.total)
        bar = "#" * filled + "-" * (self.width - filled)
        sys.stderr.write(f"\r[{bar}] {self.done}/{self.total} {label:<40.40}")
        sys.stderr.flush()

    def close(self) -> None:
        """End the bar's line."""
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


def say(verbose: int, who: str, message: str, level: int = 1) -> None:
    """Write ``[who] message`` on stderr when ``verbose >= level``.

    Examples
    --------
    >>> say(0, "RegularityRidge", "not shown")
    """
    if verbose >= level:
        sys.stderr.write(f"[{who}] {message}\n")
        sys.stderr.flush()
