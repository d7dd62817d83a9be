"""Every stage of a detector in one run folder: ``RUN/multibox`` (a MultiBox network, where the
proposals need one), ``RUN/rcnn`` and/or ``RUN/fast`` (the region classifier; ``fast`` from
``rcnn``'s trunk with ``pipeline.init_from: rcnn``), then ``RUN/test`` (the test split scored
once: ``report.json``, ``detections.json``, ``pr/`` and ``analysis/index.html``). Proposals are
cached in ``RUN/proposals``; the dataset report and the resolved settings are in ``RUN``.

A stage is done when its last file is there (``final.pth``; the analysis page). ``resume``
skips the done stages and continues the first unfinished one from its ``last.pth``; the stages
after it run again, done or not (their inputs changed).
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

from ..config import save_config
from ..data.inspect import describe_splits
from ..files import write_json
from ..proposals.multibox_train import train_multibox
from ..rcnn.config import DetTrainConfig
from ..rcnn.train import check_config, train_detector
from .evaluate import choose_source, test_stage
from .settings import Settings, needs_multibox, overridden, rcnn_stage_config, resolve_settings
from .splits import Splits, load_splits


def stage_names(cfg: DetTrainConfig, test: bool) -> list[str]:
    """The stages ``cfg`` asks for, in order."""
    out = ["multibox"] if needs_multibox(cfg) else []
    if cfg.head.mode == "fast" and cfg.pipeline.init_from == "rcnn":
        out.append("rcnn")
    out.append(cfg.head.mode)
    return out + (["test"] if test else [])


def is_done(run: Path, stage: str) -> bool:
    if stage == "test":
        return (run / "test" / "report.json").is_file() and (run / "test" / "analysis" / "index.html").is_file()
    return (run / stage / "final.pth").is_file()


def _main() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def prepare(
    config_path: str | Path, opts: list[str], init: str | None, auto: bool, splits: Splits, run: str | Path
) -> tuple[Settings, dict]:  # fmt: skip
    """Load the splits, write their report into ``run``, resolve the settings (printing each
    auto choice) and save them (``config.yaml``, ``multibox.yaml``, ``auto.json``)."""
    run = Path(run)
    main = _main()
    data = load_splits(splits, verbose=main)
    report = describe_splits(data, run if main else None, pictures=("train",), echo=main)
    s = resolve_settings(config_path, opts, init, auto, report["splits"]["train"])
    check_config(s.det)
    if main:
        mine = overridden(s.choices, opts)
        for c in s.choices:
            print(c.line() + ("  [--opts sets it]" if c in mine else ""))
        for c in s.multibox_choices:
            print(c.line().replace("auto: ", "auto: multibox "))
        save_config(s.det, run / "config.yaml")
        if s.multibox is not None:
            save_config(s.multibox, run / "multibox.yaml")
        write_json(run / "auto.json", {"detector": [vars(c) for c in s.choices],
                                       "multibox": [vars(c) for c in s.multibox_choices]})  # fmt: skip
    return s, data


def _train_stage(stage: str, s: Settings, splits: Splits, run: Path, resume: bool) -> dict:
    if stage == "multibox":
        return train_multibox(s.multibox, splits.data, splits.train, splits.val, run / stage, splits.images, resume)
    cfg = s.det
    if stage == "rcnn" and cfg.head.mode == "fast":
        cfg = rcnn_stage_config(cfg)
    elif stage == "fast" and cfg.pipeline.init_from == "rcnn":
        cfg = replace(cfg, init=str(run / "rcnn" / "final.pth"))
    return train_detector(cfg, splits.data, splits.train, splits.val, run / stage, splits.images,
                          str(run / "proposals"), resume, splits.class_map, splits.val_images)  # fmt: skip


def run_pipeline(s: Settings, data: dict, splits: Splits, run: str | Path, resume: bool = False) -> dict:
    """Run every stage of ``s`` into ``run`` (module docstring); ``{stage: its result}``."""
    run = Path(run)
    stages = stage_names(s.det, "test" in data)
    if _main():
        print(f"stages: {', '.join(stages)} (in {run}/)")
    results: dict = {}
    rerun = False  # once a stage runs, those after it run too: their inputs changed
    for stage in stages:
        if stage != "multibox" and s.multibox is not None:  # the detector's proposals need that network
            s.det.proposals.multibox_ckpt = str((run / "multibox" / "final.pth").resolve())
            if s.choices and s.det.pipeline.choose_source and stage in ("rcnn", "fast") and "source" not in results:
                results["source"] = choose_source(s, data, run)
        if resume and not rerun and is_done(run, stage):
            if _main():
                print(f"stage {stage}: done ({run / stage}), skipped")
            if stage == "test":
                results[stage] = json.loads((run / "test" / "report.json").read_text())
            continue
        rerun = True
        if _main():
            print(f"stage {stage}: {run / stage}")
        if stage == "test":
            results[stage] = test_stage(s.det, run / stages[-2] / "final.pth", data, run)
        else:
            results[stage] = _train_stage(stage, s, splits, run, resume)
    if _main() and s.multibox is not None:
        save_config(s.det, run / "config.yaml")  # with the MultiBox checkpoint and the source chosen
    return results


__all__ = ["is_done", "prepare", "run_pipeline", "stage_names"]
