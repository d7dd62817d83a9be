"""matplotlib for writing PNG files, never windows: the one place that selects the Agg backend."""

from __future__ import annotations


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (no display needed)."""
    import matplotlib  # start-up cost: ~0.3 s a process, and only plotting needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # after use("Agg"): no display is ever looked for

    return plt


__all__ = ["pyplot"]
