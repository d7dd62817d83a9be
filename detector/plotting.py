"""matplotlib for writing PNG files, never windows: the one place that selects the Agg backend."""

from __future__ import annotations


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (no display needed)."""
    # start-up cost: matplotlib adds ~0.3 s to a process, and only plotting needs it
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


__all__ = ["pyplot"]
