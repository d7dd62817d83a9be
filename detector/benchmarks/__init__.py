"""Speed measurements run by ``tools/benchmark.py``: never part of the timed test suite."""
