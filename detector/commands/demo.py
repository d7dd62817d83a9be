"""The end-to-end demo on the embedded data: generate it, pre-train the classifier, train MultiBox
and the R-CNN detector, evaluate each, and detect objects in a demo image (``tools/demo.py`` and
``make demo`` call :func:`main`).

    tools/demo.py [--config configs/demo.yaml] [--opts key=value ...]

Each stage reuses what an earlier run left in the output folder (the data if its manifest
matches, a finished network, or an interrupted one via --resume); OUT/summary.json gets the
numbers. Relative config paths that do not exist here are the repository's, so it runs from any
folder (the outputs go below the current one).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..analysis.outputs import AnalysisOptions, write_evaluation
from ..api import Detector
from ..classify.config import ClsTrainConfig
from ..classify.multicrop import evaluate_multicrop, load_classifier
from ..classify.train import train_classifier
from ..config import PositiveInt, Probability, config_to_dict, load_config, save_config
from ..data import load_dataset
from ..demo_data import DemoDataConfig, make_demo_data, read_manifest
from ..engine.distributed import setup
from ..errors import UserError
from ..eval import topk_error
from ..eval.results import write_results
from ..files import write_json
from ..proposals.cache import ProposalCache
from ..proposals.multibox import MultiBoxConfig
from ..proposals.multibox_train import train_multibox
from ..proposals.recall import proposal_recall
from ..rcnn.config import DetTrainConfig
from ..rcnn.train import train_detector

STAGES = 7


@dataclass
class DemoConfig:
    out: str = "outputs/demo"
    data: DemoDataConfig = field(default_factory=DemoDataConfig)
    cls_config: str = "configs/demo_cls.yaml"
    cls_opts: list[str] = field(default_factory=list)
    eval_crops: list[PositiveInt] = field(default_factory=lambda: [1, 10])
    multibox_config: str = "configs/demo_multibox.yaml"
    multibox_opts: list[str] = field(default_factory=list)
    det_config: str = "configs/demo_det.yaml"
    det_opts: list[str] = field(default_factory=list)
    infer_image: str | None = None  # a demo val image stem; default: the first with 3+ objects
    infer_score_thresh: Probability = 0.5


def _stage(k: int, text: str) -> None:
    print(f"[{k}/{STAGES}] {text}", flush=True)


def _data(cfg: DemoConfig, root: Path) -> Path:
    manifest = read_manifest(root)
    if manifest is not None and manifest["config"] == config_to_dict(cfg.data):
        _stage(1, f"demo data: reusing {root}")
    else:
        _stage(1, f"demo data: generating into {root}")
        make_demo_data(root, cfg.data)
    return root


def _train(k: int, what: str, run_dir: Path, config: str, train) -> None:
    if (run_dir / "final.pth").is_file():
        _stage(k, f"{what}: reusing {run_dir / 'final.pth'}")
    else:
        _stage(k, f"{what}: training {config} into {run_dir}")
        train()


def _classifier_error(cfg: DemoConfig, data: Path, cls_dir: Path) -> dict:
    _stage(3, f"classification error on demo val, crops {cfg.eval_crops}")
    ctx = setup("cpu")
    clf = load_classifier(cls_dir / "final.pth", ctx.device)
    res = evaluate_multicrop(data / "cls" / "val", [clf], tuple(cfg.eval_crops), ctx, workers=0)
    errors = {s: topk_error(res["probs"][s][0], res["labels"]) for s in cfg.eval_crops}
    for s, e in errors.items():
        print(
            f"  1 model, {s:>3} crop(s): top-1 error {e['top1_error']:.2%}, top-5 error {e['top5_error']:.2%} "
            f"({len(res['labels'])} images)"
        )
    return errors


def _detector_map(det_ckpt: Path, data: Path, out: Path) -> tuple[dict, dict, dict]:
    """VOC all-point mAP@0.5 of the detector on demo val (report, plots, results and the
    error-analysis page under ``out``), the recall of the proposals it scored, and the analysis
    (``{"page", "top_shares"}``)."""
    _stage(6, "detector mAP@0.5 (VOC all-point) on demo val")
    det = Detector.load(det_ckpt, "cpu")
    val = load_dataset(data / "det", "val", class_names=det.class_names)
    proposals = det_ckpt.parent / "proposals"
    ev, split = det.evaluate(val, "voc", proposals)
    write_results(out / "detections.json", split.results)
    recall = proposal_recall(val, ProposalCache(proposals))
    print(
        f"  proposals: recall@0.5 {recall['recall@0.5']:.2%} with {recall['mean_count']:.0f} per image; "
        f"detector: mAP@0.5 {ev.report['mAP']:.4f} on {len(val.records)} images"
    )
    written = write_evaluation(val, split.results, ev, "voc", out / "report.json", out / "pr_curves", out / "analysis",
                               AnalysisOptions(proposals=proposals))  # fmt: skip
    return ev.report, recall, {"page": str(written.page), "top_shares": written.top_shares}


def _infer(cfg: DemoConfig, data: Path, det_ckpt: Path, out: Path) -> Path:
    val = load_dataset(data / "det", "val")
    stem = cfg.infer_image or next((r.image_id for r in val.records if len(r.boxes) >= 3), val.records[0].image_id)
    image = next((r.file for r in val.records if r.image_id == stem), None)
    if image is None:
        raise UserError(f"infer_image={stem!r} is not a demo val image")
    _stage(7, f"detecting objects in {image} (detector.Detector, as tools/infer.py does)")
    det = Detector.load(det_ckpt, "cpu", score_thresh=cfg.infer_score_thresh, proposals=det_ckpt.parent / "proposals")
    r = det(image)
    for row in r.rows():
        print(f"  {image}: {row['class']} {row['score']:.3f} {' '.join(f'{v:.1f}' for v in row['box'])}")
    drawn = r.save(out / f"{Path(image).stem}.jpg")
    write_json(out / f"{Path(image).stem}.json", r.to_dict(drawn))  # tools/infer.py's entry
    return drawn


REPO = Path(__file__).resolve().parents[2]  # a checkout's root: configs/ beside detector/


def _shipped(path: str) -> str:
    """A config path as given, or the repository's file when a relative one is not found here."""
    return str(REPO / path) if not Path(path).is_absolute() and not Path(path).exists() else path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/demo.yaml")
    ap.add_argument("--opts", nargs="*", default=[], help="dotted overrides, e.g. cls_opts=[optim.epochs=3]")
    args = ap.parse_args(argv)
    cfg = load_config(DemoConfig, _shipped(args.config), args.opts)
    cfg.cls_config, cfg.multibox_config = _shipped(cfg.cls_config), _shipped(cfg.multibox_config)
    cfg.det_config = _shipped(cfg.det_config)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    cls_dir, mb_dir, det_dir = out / "cls", out / "multibox", out / "det"
    # fail on a bad config before any work; the later stages start from the earlier ones' outputs
    cls_cfg = load_config(ClsTrainConfig, cfg.cls_config, cfg.cls_opts)
    mb_cfg = load_config(MultiBoxConfig, cfg.multibox_config, [f"init={cls_dir / 'final.pth'}", *cfg.multibox_opts])
    det_cfg = load_config(
        DetTrainConfig,
        cfg.det_config,
        [f"init={cls_dir / 'final.pth'}", f"proposals.multibox_ckpt={mb_dir / 'final.pth'}", *cfg.det_opts],
    )
    save_config(cfg, out / "config.yaml")
    t0 = time.perf_counter()
    data = _data(cfg, out / "data")
    _train(
        2, "classifier", cls_dir, cfg.cls_config, lambda: train_classifier(cls_cfg, data / "cls", cls_dir, resume=True)
    )
    errors = _classifier_error(cfg, data, cls_dir)
    det_data = str(data / "det")
    _train(4, "MultiBox", mb_dir, cfg.multibox_config,
           lambda: train_multibox(mb_cfg, det_data, "train", "val", mb_dir, resume=True))  # fmt: skip
    _train(5, "detector", det_dir, cfg.det_config,
           lambda: train_detector(det_cfg, det_data, "train", "val", det_dir, resume=True))  # fmt: skip
    report, recall, analysis = _detector_map(det_dir / "final.pth", data, out / "det_eval")
    drawn = _infer(cfg, data, det_dir / "final.pth", out / "infer")
    first = cfg.eval_crops[0]
    summary = {
        "cls_top1_error": errors[first]["top1_error"],
        "cls_top5_error": errors[first]["top5_error"],
        "cls_errors_by_crops": {str(s): e for s, e in errors.items()},
        "proposal_recall": recall["recall@0.5"],
        "proposals_per_image": recall["mean_count"],
        "det_map50": report["mAP"],
        "det_ckpt": str(det_dir / "final.pth"),
        "det_report": str(out / "det_eval" / "report.json"),
        "analysis_page": analysis["page"],
        "det_top_shares": analysis["top_shares"],
        "infer_image": str(drawn),
        "cls_ckpt": str(cls_dir / "final.pth"),
        "multibox_ckpt": str(mb_dir / "final.pth"),
        "seconds": time.perf_counter() - t0,
    }
    write_json(out / "summary.json", summary)
    print(
        f"done in {summary['seconds']:.0f} s: classifier top-1 error {summary['cls_top1_error']:.2%}, "
        f"proposal recall@0.5 {summary['proposal_recall']:.2%}, detector mAP@0.5 {summary['det_map50']:.4f}\n"
        f"outputs in {out}/: summary.json, {drawn.relative_to(out)} (boxes drawn), det_eval/ (report, PR curves, "
        "analysis/index.html: why the detector fails), "
        "cls/ multibox/ det/ (checkpoints, metrics, curves)"
    )
    return 0
