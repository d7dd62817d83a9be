"""Shared fixtures: every test starts from the same torch seed."""

import pytest
import torch


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "numerics: numerically sensitive (trains, or compares two code paths); `make test-numerics` runs these"
        " under every MKL_CBWR branch the CPU supports, on 1 and 2 threads",
    )
    config.addinivalue_line(
        "markers",
        "slow: end to end (the demo, the wheel, DDP), trains, or takes over ~2 s; `make test-fast` leaves these out",
    )
    config.addinivalue_line(
        "markers",
        "faults: the fault-injection suite (tools killed at random points, then resumed); `make test-faults` and CI"
        " run it, `make test` leaves it out",
    )
    config.addinivalue_line(
        "markers",
        "compile: runs torch.compile (1-2 minutes cold on 2 cores, ~10 s with inductor's cache); `make test` leaves"
        " it out, `make test-numerics` runs it",
    )
    config.addinivalue_line(
        "markers", "smoke_subset: a benchmark run on a few images to check that it works; its numbers mean nothing"
    )


# Fixtures that train or export a network (5-30 s each): every test that uses one is slow.
SLOW_FIXTURES = {"trained", "trained_fast", "rcnn", "fast", "exported", "awkward"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Print what tests asked to show in the log (e.g. the wheel check, so that CI shows it)."""
    from tests.helpers import summary_lines

    for line in summary_lines(config):
        terminalreporter.write_line(line)
