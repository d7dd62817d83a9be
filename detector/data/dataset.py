"""The base of the datasets over detection records (MultiBox images, detector training and test
items): one item per record, and the epoch that per-sample augmentation seeds use."""

from __future__ import annotations

from torch.utils.data import Dataset

from .records import ImageRecord


class RecordDataset(Dataset):
    def __init__(self, records: list[ImageRecord]):
        self.records = records
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.records)
