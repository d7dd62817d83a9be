"""The configs a one-command run trains with: the YAML, then ``--auto``'s choices, then ``--opts``
and ``--init`` (which win), for the detector and, where its proposals need one, MultiBox."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from ..config import apply_opts, load_config
from ..errors import UserError
from ..proposals.multibox import MultiBoxConfig
from ..rcnn.config import DetTrainConfig
from .auto import Choice, apply_choices, detector_choices, multibox_choices, small_object_size


@dataclass
class Settings:
    det: DetTrainConfig
    multibox: MultiBoxConfig | None = None  # the `multibox` stage's, when there is one
    choices: list[Choice] = field(default_factory=list)  # the detector's auto choices
    multibox_choices: list[Choice] = field(default_factory=list)


def needs_multibox(cfg: DetTrainConfig) -> bool:
    """Whether the proposals need a MultiBox network trained first (none named)."""
    return cfg.proposals.method in ("multibox", "combined") and not cfg.proposals.multibox_ckpt


def multibox_config_path(cfg: DetTrainConfig, config_path: str | Path) -> Path:
    """``pipeline.multibox_config`` as a path: absolute, or relative to the working folder, or to
    the detector config's folder (where the shipped configs keep theirs)."""
    name = cfg.pipeline.multibox_config
    if not name:
        raise UserError(
            f"proposals.method={cfg.proposals.method} without proposals.multibox_ckpt: set pipeline.multibox_config "
            "(a train_multibox config, e.g. configs/voc_custom_multibox.yaml) so a `multibox` stage trains one first"
        )
    path = Path(name)
    if path.is_absolute() or path.is_file():
        return path
    return Path(config_path).parent / path


def overridden(choices: list[Choice], opts: list[str]) -> list[Choice]:
    """The choices ``--opts`` also sets (the user's value wins)."""
    given = {k.strip() for k in (o.partition("=")[0] for o in opts)}
    return [c for c in choices if c.key in given]


def split_opts(opts: list[str]) -> tuple[list[str], list[str]]:
    """``--opts`` as the detector's and the MultiBox stage's (those starting ``multibox.``, without it)."""
    mb = [o[len("multibox.") :] for o in opts if o.startswith("multibox.")]
    return [o for o in opts if not o.startswith("multibox.")], mb


def resolve_settings(
    config_path: str | Path, opts: list[str], init: str | None, auto: bool, train_report: dict | None
) -> Settings:  # fmt: skip
    """The detector's config (and MultiBox's where a stage trains one) for this run; ``auto``
    (or the YAML's ``pipeline.auto``) merges the choices made from ``train_report`` (the
    training split's :func:`~detector.data.stats.split_report`) before ``opts``; ``opts``
    starting ``multibox.`` set the MultiBox stage's config."""
    opts, mb_opts = split_opts(opts)
    extra = opts + ([f"init={init}"] if init else [])
    base = load_config(DetTrainConfig, config_path)
    cfg = apply_opts(base, extra)
    auto = auto or cfg.pipeline.auto
    choices: list[Choice] = []
    if auto:
        if train_report is None:
            raise UserError("--auto needs the training split's report")
        choices = detector_choices(train_report, cfg, cfg.init)
        cfg = apply_opts(apply_choices(base, choices), extra + ["pipeline.auto=true"])
    mb = None
    mb_choices: list[Choice] = []
    if needs_multibox(cfg):
        mb = load_config(MultiBoxConfig, multibox_config_path(cfg, config_path))
        mb = replace(mb, init=cfg.init or mb.init, seed=cfg.seed, device=cfg.device)
        if auto:
            mb_choices = multibox_choices(train_report, *small_object_size(train_report), mb.optim.batch_size)
            mb = apply_choices(mb, mb_choices)
        mb = apply_opts(mb, mb_opts, "--opts multibox.*")
    elif mb_opts:
        raise UserError("--opts multibox.*: this run trains no MultiBox network (its proposals need none)")
    return Settings(cfg, mb, choices, mb_choices)


def rcnn_stage_config(cfg: DetTrainConfig) -> DetTrainConfig:
    """The `rcnn` stage before `fast` (``pipeline.init_from: rcnn``): this config as `rcnn`, with
    ``pipeline.rcnn_opts`` merged in."""
    out = apply_opts(cfg, ["head.mode=rcnn"], "pipeline")
    return apply_opts(out, list(cfg.pipeline.rcnn_opts), "pipeline.rcnn_opts") if cfg.pipeline.rcnn_opts else out


__all__ = [
    "Settings",
    "multibox_config_path",
    "needs_multibox",
    "overridden",
    "rcnn_stage_config",
    "resolve_settings",
    "split_opts",
]
