"""A deterministic, resumable, sharded sampler.

Epoch ``e``'s order is a permutation drawn from ``(seed, e)``; rank ``r`` of ``W`` takes every
``W``-th index starting at ``r`` (as DistributedSampler does), so the ranks' ``b``-sized batches
at step ``k`` together hold exactly the single-process batch ``k`` of size ``W * b``. A run
resumed mid-epoch starts at batch ``start_batch`` of the same order.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class ShardedSampler(Sampler[int]):
    def __init__(
        self,
        length: int,
        rank: int = 0,
        world_size: int = 1,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ):
        self.length, self.rank, self.world = length, rank, world_size
        self.shuffle, self.seed, self.drop_last = shuffle, seed, drop_last
        self.epoch = 0
        self.start = 0  # samples of this rank's shard to skip (resume)
        per_rank = length / world_size
        self.num_samples = math.floor(per_rank) if drop_last else math.ceil(per_rank)

    def set_epoch(self, epoch: int, start_batch: int = 0, batch_size: int = 1) -> None:
        self.epoch = epoch
        self.start = start_batch * batch_size

    def order(self) -> list[int]:
        """This rank's full index order for the current epoch."""
        if self.shuffle:
            g = torch.Generator().manual_seed(epoch_seed(self.seed, self.epoch))
            idx = torch.randperm(self.length, generator=g).tolist()
        else:
            idx = list(range(self.length))
        total = self.num_samples * self.world
        idx = idx[:total] if self.drop_last else (idx + idx[: total - len(idx)])
        return idx[self.rank : total : self.world]

    def __iter__(self) -> Iterator[int]:
        return iter(self.order()[self.start :])

    def __len__(self) -> int:
        return self.num_samples - self.start


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of one epoch's shuffle."""
    return seed * 1_000_003 + epoch


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """The seed of sample ``index``'s augmentation in ``epoch``: independent of worker and process
    layout, so a run resumes and shards reproducibly."""
    return epoch_seed(seed, epoch) * 10_000_019 + index
