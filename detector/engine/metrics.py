"""Training metrics as JSON lines, TensorBoard events, and a plot of them.

Each line is one record (appended and synced; a torn last line left by a kill is read as absent,
and a resumed run rewrites the file atomically): ``{"kind": "train", "step", "epoch", "lr", "loss", ...}`` every few
steps, ``{"kind": "val", "epoch", "step", ...}`` after each evaluation. Only rank 0 writes.
Once :meth:`MetricsLog.open_tensorboard` is called, every record's numbers also go to
TensorBoard event files (``train/loss``, ``train/lr``, ``val/mAP`` ... against the step), and
:meth:`MetricsLog.images` adds pictures (a trainer's drawn validation detections).
"""

from __future__ import annotations

from pathlib import Path

from torch.utils.tensorboard import SummaryWriter

from ..files import append_line, json_text, read_json_lines, write_text
from ..plotting import pyplot


class MetricsLog:
    def __init__(self, path: str | Path, enabled: bool = True):
        self.path = Path(path)
        self.enabled = enabled
        self.tb = None  # torch.utils.tensorboard.SummaryWriter, once opened

    def open_tensorboard(self, log_dir: str | Path, purge_step: int | None = None) -> None:
        """Mirror the records into TensorBoard under ``log_dir``; a resumed run passes its step
        as ``purge_step``, so that the events it repeats replace the interrupted run's."""
        if self.enabled and self.tb is None:
            self.tb = SummaryWriter(str(log_dir), purge_step=purge_step)

    def write(self, kind: str, **values: float | int | str) -> None:
        if not self.enabled:
            return
        append_line(self.path, json_text({"kind": kind, **values}, indent=None))
        if self.tb is not None:
            step = int(values.get("step", 0))
            for key, v in values.items():
                if key != "step" and isinstance(v, (int, float)) and not isinstance(v, bool):
                    self.tb.add_scalar(f"{kind}/{key}", v, step)
            self.tb.flush()

    def images(self, step: int, images: dict) -> None:
        """``{tag: [H, W, 3] uint8 RGB}`` into TensorBoard at ``step``."""
        if self.tb is not None and images:
            for tag, img in images.items():
                self.tb.add_image(tag, img, step, dataformats="HWC")
            self.tb.flush()

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
            self.tb = None

    def truncate_after(self, step: int, drop_val_at_step: bool = False) -> None:
        """Drop records past ``step`` (a resumed run repeats them), and with ``drop_val_at_step``
        the validation record at ``step`` too (a resumed run that validates again writes it)."""
        if not self.enabled or not self.path.is_file():
            return

        def kept(r: dict) -> bool:
            return r.get("step", 0) < step or (
                r.get("step", 0) == step and not (drop_val_at_step and r["kind"] == "val")
            )

        keep = [r for r in read_json_lines(self.path) if kept(r)]  # a torn last record is dropped
        write_text(self.path, "".join(json_text(r, indent=None) + "\n" for r in keep))  # atomic: no history lost


def read_metrics(path: str | Path) -> list[dict]:
    """The records of a ``metrics.jsonl`` (a torn last line, from a kill mid-write, left out)."""
    return read_json_lines(path)


def plot_metrics(path: str | Path, out: str | Path, val_keys: tuple[str, ...]) -> Path:
    """Training loss (and lr) against step, and the ``val_keys`` against epoch, in one PNG."""
    plt = pyplot()

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
