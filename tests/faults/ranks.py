"""One rank of a 2-process gloo group for the fault tests (run as ``python -m tests.faults.ranks
MODE OUT``, with ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` set).

- ``proposals DATA OUT``: ``ensure_proposals`` on the VOC split ``val`` of ``DATA`` into ``OUT``;
  rank 1 starts ``LATE`` seconds late; every ``ProposalCache.put`` is logged to
  ``OUT/puts_<rank>.txt``, so the test can check that each image was computed exactly once.
- ``barrier``: rank 1 never reaches the barrier; rank 0 waits ``TIMEOUT`` seconds at most.
"""

import os
import sys
import time
from pathlib import Path

from detector.cli import run_tool
from detector.data import load_dataset
from detector.engine.distributed import barrier, cleanup, setup
from detector.proposals.cache import ProposalCache
from detector.rcnn.config import ProposalConfig
from detector.rcnn.proposals import ensure_proposals


def _proposals(data: str, out: str) -> int:
    ctx = setup("cpu", timeout=120)
    if ctx.rank == 1:
        time.sleep(float(os.environ.get("LATE", "0")))
    real_put = ProposalCache.put

    def put(self, image_id, *args, **kw):
        with open(Path(out) / f"puts_{ctx.rank}.txt", "a") as f:
            f.write(f"{image_id}\n")
        return real_put(self, image_id, *args, **kw)

    ProposalCache.put = put
    try:
        cfg = ProposalConfig(workers=1)
        ensure_proposals(load_dataset(data, "val"), Path(out) / "cache", cfg, ctx)
    finally:
        cleanup()
    return 0


def _barrier() -> int:
    ctx = setup("cpu", timeout=float(os.environ.get("TIMEOUT", "3")))
    try:
        if ctx.rank == 1:
            time.sleep(30)  # never arrives in time
            return 0
        barrier(ctx, "the test's barrier")
    finally:
        cleanup()
    return 0


if __name__ == "__main__":
    mode = sys.argv[1]
    sys.exit(run_tool(lambda _: _proposals(sys.argv[2], sys.argv[3]) if mode == "proposals" else _barrier(), []))
