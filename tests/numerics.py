"""`make test-numerics`: the tests marked ``numerics`` under every MKL_CBWR branch this CPU
supports, on 1 and 2 threads.

Why: MKL and oneDNN pick their kernels from the CPU (an AMD EPYC and an Intel Xeon with AMX run
the same float32 model with sums in another order), and torch splits reductions by its thread
count. A round-trip tolerance or a learning bar that holds on one setting only fails on another
machine. Running the sensitive tests under each setting here finds that before CI does.

    python -m tests.numerics [--threads 1 2] [--branches COMPATIBLE ...] [pytest args ...]

A branch is supported when MKL, asked for it with ``MKL_CBWR``, reports it in effect
(``MKL_VERBOSE`` prints ``CNR:<branch>``; an unsupported request falls back to ``CNR:AUTO``).
"default" is MKL_CBWR unset: the dispatch every user gets.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# MKL's conditional-numerical-reproducibility branches (oneMKL developer guide, "Specifying Code
# Branches"), oldest first; the newer AVX-512 ones name VNNI, BF16 and AMX generations.
CANDIDATES = ("COMPATIBLE", "SSE4_2", "AVX", "AVX2", "AVX2_E1", "AVX512", "AVX512_E1", "AVX512_E2",
              "AVX512_E3", "AVX512_E4", "AVX512_E5")  # fmt: skip
_PROBE = "import torch; a = torch.randn(64, 64); (a @ a).sum()"


def _clean_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("MKL_CBWR", "MKL_VERBOSE")}
    env.update(extra)
    return env


def supported_branches(candidates=CANDIDATES, timeout: float = 120) -> list[str]:
    """The ``MKL_CBWR`` branches MKL honours on this CPU (one short process per candidate, all
    at once; each bounded by ``timeout`` seconds)."""
    procs = {
        b: subprocess.Popen(
            [sys.executable, "-c", _PROBE],
            env=_clean_env(MKL_CBWR=b, MKL_VERBOSE="1"),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        for b in candidates
    }
    found = []
    for b, p in procs.items():
        try:
            out, _ = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            continue
        if f"CNR:{b} " in out or f"CNR:{b}\n" in out:
            found.append(b)
    return found


def settings(threads: list[int], branches: list[str] | None) -> list[tuple[str, int]]:
    """``(branch, threads)`` pairs: "default" (MKL_CBWR unset) and each supported branch."""
    names = ["default", *(supported_branches() if branches is None else branches)]
    return [(b, t) for b in names for t in threads]


def setting_env(branch: str, threads: int) -> dict:
    """The environment of a child process that runs under ``branch`` on ``threads`` threads."""
    env = _clean_env(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    if branch != "default":
        env["MKL_CBWR"] = branch
    return env


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--branches", nargs="*", help="MKL_CBWR branches (default: every one this CPU supports)")
    args, pytest_args = ap.parse_known_args(argv)
    runs = settings(args.threads, args.branches)
    print(f"numerics: {len(runs)} settings: " + ", ".join(f"{b}/{t}t" for b, t in runs), flush=True)
    rows = []
    for branch, threads in runs:
        start = time.monotonic()
        cmd = [sys.executable, "-m", "pytest", "-q", "-m", "numerics", "-p", "no:cacheprovider", *pytest_args, "tests"]
        res = subprocess.run(cmd, cwd=ROOT, env=setting_env(branch, threads), capture_output=True, text=True)
        last = (res.stdout.strip().splitlines() or ["(no output)"])[-1]
        rows.append((branch, threads, res.returncode, time.monotonic() - start, last))
        print(f"  MKL_CBWR={branch:<10} threads={threads}: {last} ({rows[-1][3]:.0f} s)", flush=True)
        if res.returncode != 0:
            print(res.stdout[-6000:], res.stderr[-2000:], sep="\n", flush=True)
    failed = [r for r in rows if r[2] != 0]
    passed = len(rows) - len(failed)
    print(f"numerics: {passed} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
