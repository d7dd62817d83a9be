"""Timing helpers shared by the benchmarks: warm-up, device sync, median of repeats."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(fn: Callable[[], object], device: torch.device, repeats: int, warmup: int = 2) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def matmul_gflops(device: torch.device, n: int = 4096, repeats: int = 5) -> float:
    """Achieved GFLOP/s of an ``n x n`` float32 matrix product (2 n^3 flops)."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    with torch.inference_mode():
        sec = median_seconds(lambda: a @ b, device, repeats)
    return 2 * n**3 / sec / 1e9
