"""Settings chosen from the data (``--auto``): the rules of thumb of the configs' headers, as code.

Every rule reads the training split's report (:mod:`detector.data.stats`) and serves the
*small objects*: the smaller of the objects' 10th-percentile size and the smallest median size
of a class with at least :data:`MIN_CLASS_OBJECTS` objects (a rare small class is what a
percentile over all objects misses). Sizes are ``sqrt(w * h)`` in pixels of the images as stored.

Each :class:`Choice` is a dotted config key, its value and a one-line reason; :func:`apply_choices`
merges them into a config before ``--opts`` (which win).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backbones.weights import safe_load

from ..config import merge_config, parse_opts
from ..errors import UserError

MIN_CLASS_OBJECTS = 5
SS_OBJECT_PX = 20  # selective search: the small objects span this many pixels of the segmented image
SS_WIDTH = (192, 640)  # its resize_width's range (cost grows with the square)
CROWDED = 4  # objects an image (median) from which superpixels are made small (touching objects)
FAST_CELLS = 8  # fast: the small objects span roi_size cells of the tap's map ...
FAST_SIZE = (320, 1344)  # ... with the image's shorter side in this range
MB_OBJECT_PX = 24  # MultiBox: the small objects span 3 cells of the finest level (stride 8)
MB_SIZE = (224, 640)
IMAGE_PASSES = 1600  # epochs x training images of the detector (the header's rule of thumb)
MB_IMAGE_PASSES = 3200  # ... of MultiBox (16 epochs of BCCD's 205 images)
EPOCHS = (2, 60)
STRIDE = {"inception_3a": 8, "inception_4e": 16}


@dataclass
class Choice:
    key: str  # dotted config key, as --opts names it
    value: Any
    reason: str

    def line(self) -> str:
        return f"auto: {self.key} = {self.value}  ({self.reason})"


def _round(x: float, step: int = 32) -> int:
    return int(max(step, round(x / step) * step))


def _clamp(x: float, lo: float, hi: float) -> float:
    return min(max(x, lo), hi)


def small_object_size(split: dict) -> tuple[float, str]:
    """``(pixels, which)``: the size the rules serve (module docstring) and what it is."""
    if not split["objects"]:
        raise UserError("--auto: the training split has no objects, nothing to choose settings from")
    best, which = split["size_px"]["p10"], "the objects' 10th percentile"
    for name, c in split["classes"].items():
        if c["objects"] >= MIN_CLASS_OBJECTS and c["size_px"]["p50"] < best:
            best, which = c["size_px"]["p50"], f"{name}'s median"
    return float(best), which


def init_input_size(init: str | None) -> tuple[int | None, str]:
    """The classifier input size of ``--init`` (``None`` when it has none: scratch, MultiBox)
    and where it comes from: a train_cls checkpoint's ``data.input_size``, a detector's
    ``head.input_size``, 224 for torchvision-format or ONNX ImageNet weights."""
    if not init:
        return None, "no --init"
    if Path(init).suffix.lower() == ".onnx":
        return 224, "an ONNX GoogLeNet's input"
    obj = safe_load(init, "--init weights")
    cfg = obj.get("config") if isinstance(obj, dict) else None
    if not isinstance(cfg, dict):
        return 224, "torchvision ImageNet weights' input"
    if "priors" in obj:
        return None, "a MultiBox checkpoint has no classifier input"
    if isinstance(cfg.get("head"), dict) and "input_size" in cfg["head"]:
        return int(cfg["head"]["input_size"]), f"{Path(init).name}'s head.input_size"
    size = (cfg.get("data") or {}).get("input_size")
    return (int(size), f"{Path(init).name}'s classifier input") if size else (None, "no input size in --init")


def proposal_choices(split: dict, small: float, which: str) -> list[Choice]:
    width = split["image_width"]["p50"]
    w = _round(_clamp(width * SS_OBJECT_PX / small, SS_WIDTH[0], min(SS_WIDTH[1], max(width, SS_WIDTH[0]))))
    crowd = split["objects_per_image"]["p50"]
    k = 0.25 if crowd >= CROWDED else 1.0
    why_k = (f"{crowd:g} objects an image (median): small superpixels keep touching objects apart"
             if k < 1 else f"{crowd:g} object(s) an image (median): OpenCV's superpixels keep large objects whole")  # fmt: skip
    return [
        Choice("proposals.selective_search.resize_width", w,
               f"{which} {small:.0f} px in {width:.0f} px wide images spans ~{SS_OBJECT_PX} px at width {w}"),
        Choice("proposals.selective_search.k_scale", k, why_k),
    ]  # fmt: skip


def fast_choices(split: dict, small: float, which: str, roi_size: int) -> list[Choice]:
    short = split["image_short_side"]["p50"]
    long_ratio = split["image_width"]["p50"] / split["image_height"]["p50"]
    long_ratio = max(long_ratio, 1 / long_ratio)
    tap = "inception_4e" if small >= roi_size * STRIDE["inception_4e"] else "inception_3a"
    target = roi_size * STRIDE[tap]
    size = _round(_clamp(short * target / small, *FAST_SIZE))
    jitter = [_round(size * f, 16) for f in (0.8, 0.9, 1.0, 1.1, 1.2)]
    return [
        Choice("head.roi_tap", tap, f"{which} {small:.0f} px: stride {STRIDE[tap]}"
               + (" keeps it above one cell per RoI bin" if tap == "inception_3a" else " needs no upscaling")),
        Choice("head.image_size", size, f"{which} spans ~{roi_size} x {STRIDE[tap]} = {target} px "
               f"(the shorter side {short:.0f} x {size / short:.2f}, within {FAST_SIZE})"),
        Choice("head.max_image_size", _round(size * long_ratio), f"the images' {long_ratio:.2f} aspect at that size"),
        Choice("head.train_sizes", jitter, "Fast R-CNN's scale jitter, 0.8x-1.2x of image_size"),
    ]  # fmt: skip


def epoch_choices(split: dict, fast_from_rcnn: bool) -> list[Choice]:
    n = max(split["images"], 1)
    epochs = int(_clamp(round(IMAGE_PASSES / n), *EPOCHS))
    why = f"~{IMAGE_PASSES} image passes over {n} training images, in {EPOCHS}"
    out = []
    if fast_from_rcnn:
        out.append(Choice("pipeline.rcnn_opts", [f"optim.epochs={epochs}", f"eval_every={max(1, epochs // 2)}"],
                          f"the rcnn stage: {why}"))  # fmt: skip
        epochs, why = round(epochs * 1.5), "1.5x the rcnn stage's (fast from its trunk)"
    out.append(Choice("optim.epochs", epochs, why))
    out.append(Choice("eval_every", max(1, epochs // 2), "two validations: halfway and at the end"))
    return out


def rcnn_choices(init: str | None) -> list[Choice]:
    size, where = init_input_size(init)
    if size is None:
        return []
    return [Choice("head.input_size", size, f"regions warped to the classifier's input ({where})")]


def multibox_choices(split: dict, small: float, which: str, batch_size: int = 8) -> list[Choice]:
    short = split["image_short_side"]["p50"]
    long_ratio = split["image_width"]["p50"] / split["image_height"]["p50"]
    long_ratio = max(long_ratio, 1 / long_ratio)
    size = _round(_clamp(short * MB_OBJECT_PX / small, *MB_SIZE))
    scaled = small * size / short
    levels = ["inception_3b", "inception_4e", "inception_5b"] if scaled < 4 * MB_OBJECT_PX else ["inception_4e", "inception_5b"]  # fmt: skip
    n = max(split["images"], 1)
    epochs = int(_clamp(round(MB_IMAGE_PASSES / n), 4, 100))
    batch = [Choice("optim.batch_size", n, f"only {n} training images")] if n < batch_size else []
    return batch + [
        Choice("data.input_size", size, f"{which} {small:.0f} px spans ~{scaled:.0f} px (3 cells at stride 8)"),
        Choice("data.max_size", _round(size * long_ratio), f"the images' {long_ratio:.2f} aspect at that size"),
        Choice(
            "levels",
            levels,
            f"the small objects at ~{scaled:.0f} px "
            + ("need stride 8" if len(levels) == 3 else "need no stride-8 level"),
        ),  # fmt: skip
        Choice("optim.epochs", epochs, f"~{MB_IMAGE_PASSES} image passes over {n} training images"),
        Choice("eval_every", max(1, epochs // 2), "two validations: halfway and at the end"),
        Choice(
            "priors",
            "k-means",
            f"{len(levels)} levels x priors_per_level box shapes from the training boxes at this size",
        ),  # fmt: skip
    ]


def detector_choices(split: dict, cfg, init: str | None) -> list[Choice]:
    """The detector config's choices (``cfg`` a :class:`~detector.rcnn.config.DetTrainConfig`)."""
    small, which = small_object_size(split)
    out = proposal_choices(split, small, which) + rcnn_choices(init)
    out += fast_choices(split, small, which, cfg.head.roi_size)
    return out + epoch_choices(split, cfg.head.mode == "fast" and cfg.pipeline.init_from == "rcnn")


def apply_choices(cfg, choices: list[Choice], source: str = "--auto"):
    """``cfg`` with the choices merged in (informational ones, like ``priors``, skipped)."""
    opts = [f"{c.key}={_yaml(c.value)}" for c in choices if c.key != "priors"]
    return merge_config(cfg, parse_opts(opts), source)


def _yaml(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_yaml(v) if not isinstance(v, str) else repr(v) for v in value) + "]"
    return str(value)


__all__ = [
    "Choice", "apply_choices", "detector_choices", "epoch_choices", "fast_choices", "init_input_size",
    "multibox_choices", "proposal_choices", "rcnn_choices", "small_object_size",
]  # fmt: skip
