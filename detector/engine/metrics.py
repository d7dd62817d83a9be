"""Training metrics as JSON lines, and a plot of them.

Each line is one record: ``{"kind": "train", "step", "epoch", "lr", "loss", ...}`` every few
steps, ``{"kind": "val", "epoch", "step", ...}`` after each evaluation. Only rank 0 writes.
"""

from __future__ import annotations

import json
from pathlib import Path


class MetricsLog:
    def __init__(self, path: str | Path, enabled: bool = True):
        self.path = Path(path)
        self.enabled = enabled

    def write(self, kind: str, **values: float | int | str) -> None:
        if not self.enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as f:
            f.write(json.dumps({"kind": kind, **values}) + "\n")

    def truncate_after(self, step: int, drop_val_at_step: bool = False) -> None:
        """Drop records past ``step`` (a resumed run repeats them), and with ``drop_val_at_step``
        the validation record at ``step`` too (a resumed run that validates again writes it)."""
        if not self.enabled or not self.path.is_file():
            return

        def kept(r: dict) -> bool:
            return r.get("step", 0) < step or (
                r.get("step", 0) == step and not (drop_val_at_step and r["kind"] == "val")
            )

        keep = [line for line in self.path.read_text().splitlines() if line and kept(json.loads(line))]
        self.path.write_text("".join(line + "\n" for line in keep))


def read_metrics(path: str | Path) -> list[dict]:
    p = Path(path)
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()] if p.is_file() else []


def plot_metrics(path: str | Path, out: str | Path, val_keys: tuple[str, ...]) -> Path:
    """Training loss (and lr) against step, and the ``val_keys`` against epoch, in one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recs = read_metrics(path)
    train = [r for r in recs if r["kind"] == "train"]
    val = [r for r in recs if r["kind"] == "val"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    if train:
        ax1.plot([r["step"] for r in train], [r["loss"] for r in train], lw=1, label="loss")
        ax1.set(xlabel="step", ylabel="training loss")
        lr_ax = ax1.twinx()
        lr_ax.plot([r["step"] for r in train], [r["lr"] for r in train], color="tab:gray", lw=0.8, ls="--")
        lr_ax.set_ylabel("learning rate", color="tab:gray")
    for key in val_keys:
        pts = [(r["epoch"], r[key]) for r in val if key in r]
        if pts:
            ax2.plot(*zip(*pts, strict=True), marker="o", ms=3, label=key)
    ax2.set(xlabel="epoch", ylabel="validation")
    if ax2.get_lines():  # a run stopped before its first validation has nothing to label
        ax2.legend(fontsize=8)
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
