"""The dataset report as files: what ``tools/inspect_data.py`` writes and every trainer logs first."""

from __future__ import annotations

from pathlib import Path

from ..files import write_json
from .labels_plot import plot_labels
from .records import DetectionDataset
from .stats import dataset_report, format_report

_PRINTED: set[str] = set()  # reports this process printed: a pipeline's stages say "as above"


def describe_splits(
    splits: dict[str, DetectionDataset], out_dir: str | Path | None = None, pictures: tuple[str, ...] | None = None,
    echo: bool = True,
) -> dict:  # fmt: skip
    """The report of ``splits`` (``{name: dataset}``, classes shared), printed when ``echo``;
    with ``out_dir``, written as ``dataset.json`` and one ``labels_<split>.png`` for each split
    named in ``pictures`` (default: all). Returns the report. A report this process printed
    before (the same splits, another stage of a pipeline) is not printed again."""
    report = dataset_report(splits)
    if echo:
        blocks = format_report(report).split("\n")
        head, rest = blocks[0], "\n".join(blocks[1:])
        new = [b for b in _split_blocks(rest) if b not in _PRINTED]
        print("\n".join([head, *new]) if new else "dataset: as reported above")
        _PRINTED.update(new)
    if out_dir is not None:
        out_dir = Path(out_dir)
        write_json(out_dir / "dataset.json", report)
        for name in splits if pictures is None else pictures:
            plot_labels(splits[name], out_dir / f"labels_{name}.png", f"{splits[name].name} ({name})")
    return report


def _split_blocks(text: str) -> list[str]:
    """The report's text cut into one block per split (a block starts with an unindented line)."""
    blocks: list[str] = []
    for line in text.splitlines():
        if line.startswith(" ") and blocks:
            blocks[-1] += "\n" + line
        else:
            blocks.append(line)
    return blocks


__all__ = ["describe_splits"]
