"""The error-analysis page: one static ``index.html`` that opens from disk (no server, no
network: inline CSS and script, images in ``plots/`` and ``gallery/`` beside it), and
``analysis.json`` with every number the page shows.

Sections: the per-class AP table (sortable by any column) with PR curves; R-CNN's
false-positive analysis (overall and per class); COCO's PR breakdown; AP sensitivity to size
and aspect; the confusion matrix; galleries of each class's top-scored false positives (labelled
with their type) and missed objects, as crops with the ground truth in green and the detection
in red; proposal recall against IoU when a proposal cache was given.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

import cv2
import numpy as np

from ..data.images import read_rgb
from ..data.records import DetectionDataset
from ..eval.detection import gt_arrays
from ..eval.report import plot_pr_curves, safe_filename
from ..files import write_text
from ..proposals.recall import TABLE_COUNTS
from .analyze import Analysis
from .fp_types import TYPES, box_iou_np
from .plots import plot_breakdown, plot_confusion, plot_fp_types, plot_proposal_recall, plot_sensitivity

CROP_HEIGHT = 120
GREEN, RED = (40, 200, 40), (230, 40, 40)

STYLE = """body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;max-width:1400px}
h1{font-size:1.5em}h2{margin-top:2em;border-bottom:1px solid #ccc}h3{font-size:1em;margin:.8em 0 .3em}
table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:right}
th{cursor:pointer;background:#f4f4f4}td:first-child,th:first-child{text-align:left}
.grid{display:flex;flex-wrap:wrap;gap:8px}.grid figure{margin:0;font-size:11px;text-align:center}
img{max-width:100%}.note{color:#666;font-size:12px}nav a{margin-right:1em}"""

SCRIPT = """document.querySelectorAll('table.sortable th').forEach(h=>h.addEventListener('click',()=>{
const t=h.closest('table'),c=h.cellIndex,b=t.tBodies[0],asc=t.dataset.col==String(c)&&t.dataset.dir!=='asc';
t.dataset.col=c;t.dataset.dir=asc?'asc':'desc';
[...b.rows].sort((x,y)=>{const a=x.cells[c].dataset.value,d=y.cells[c].dataset.value,p=parseFloat(a),q=parseFloat(d);
const r=(isNaN(p)||isNaN(q))?String(a).localeCompare(String(d)):p-q;return asc?r:-r}).forEach(x=>b.appendChild(x))}));
window.addEventListener('load',()=>{const bad=[...document.images].filter(i=>!i.complete||i.naturalWidth===0);
document.body.dataset.broken=bad.map(i=>i.getAttribute('src')).join(' ');document.body.dataset.ready='1';});"""


def _fmt(v) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"


def _value(v) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else repr(float(v))


def _crop(image: np.ndarray, gt: np.ndarray | None, det: np.ndarray | None) -> np.ndarray:
    """The region around the ground-truth and detection boxes (xyxy), drawn, ``CROP_HEIGHT`` high."""
    boxes = [b for b in (gt, det) if b is not None]
    x1, y1 = np.min([b[:2] for b in boxes], 0)
    x2, y2 = np.max([b[2:] for b in boxes], 0)
    pad = 0.15 * max(x2 - x1, y2 - y1) + 4
    h, w = image.shape[:2]
    cx1, cy1 = int(max(0, x1 - pad)), int(max(0, y1 - pad))
    cx2, cy2 = int(min(w, x2 + pad + 1)), int(min(h, y2 + pad + 1))
    crop = np.ascontiguousarray(image[cy1 : max(cy2, cy1 + 1), cx1 : max(cx2, cx1 + 1)])
    scale = CROP_HEIGHT / crop.shape[0]
    crop = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), CROP_HEIGHT), interpolation=cv2.INTER_AREA)
    for box, color in ((gt, GREEN), (det, RED)):
        if box is not None:
            p1 = (round((box[0] - cx1) * scale), round((box[1] - cy1) * scale))
            p2 = (round((box[2] - cx1) * scale), round((box[3] - cy1) * scale))
            cv2.rectangle(crop, p1, p2, color, 2)
    return crop


def _galleries(out: Path, dataset: DetectionDataset, a: Analysis) -> dict:
    """Write every crop (each image read once); ``{class: {"false_positives": [...], "missed":
    [...]}}`` entries ``{"file", "image", "score", "type"}`` for the page and the JSON."""
    gt_img, _, gt_boxes, _ = gt_arrays(dataset)
    jobs: dict[int, list] = {}  # image index -> [(class, kind, position, gt box, det box, meta)]
    for name, g in a.gallery.items():
        for pos, d in enumerate(g["false_positives"]):
            img = int(a.dets.image_idx[d])
            here = np.flatnonzero(gt_img == img)
            gt = None
            if len(here):
                iou = box_iou_np(a.dets.boxes[d : d + 1], gt_boxes[here])[0]
                gt = gt_boxes[here[iou.argmax()]] if iou.max() > 0 else None
            meta = {"score": float(a.dets.scores[d]), "type": TYPES[a.types[d]]}
            jobs.setdefault(img, []).append((name, "false_positives", pos, gt, a.dets.boxes[d], meta))
        for pos, (gi, d) in enumerate(g["missed"]):
            det = a.dets.boxes[d] if d >= 0 else None
            meta = {"score": float(a.dets.scores[d]) if d >= 0 else None, "type": "missed"}
            jobs.setdefault(int(gt_img[gi]), []).append((name, "missed", pos, gt_boxes[gi], det, meta))
    shown: dict[str, dict] = {name: {"false_positives": [], "missed": []} for name in a.gallery}
    for img, items in sorted(jobs.items()):
        rec = dataset.records[img]
        rgb = read_rgb(rec.file)
        for name, kind, pos, gt, det, meta in items:
            entry = {"image": str(rec.image_id), "position": pos, **meta}
            if rgb is not None:
                rel = f"gallery/{safe_filename(name)}_{kind[0]}{pos:02d}.jpg"
                cv2.imwrite(str(out / rel), cv2.cvtColor(_crop(rgb, gt, det), cv2.COLOR_RGB2BGR))
                entry["file"] = rel
            shown[name][kind].append(entry)
    for g in shown.values():
        for kind in g:
            g[kind].sort(key=lambda e: e.pop("position"))
    return shown


def _table(data: dict) -> str:
    head = "<tr><th>class</th><th>AP</th><th>objects</th><th>detections</th>" + "".join(
        f"<th>{t}@n</th>" for t in TYPES
    ) + "</tr>"  # fmt: skip
    rows = []
    for name, ap in data["per_class"].items():
        shares = data["fp_types"]["per_class"][name]["at_num_gt"]
        cells = [
            f'<td data-value="{html.escape(name)}"><a href="#c-{safe_filename(name)}">{html.escape(name)}</a></td>'
        ]
        cells.append(f'<td class="ap" data-value="{_value(ap)}">{_fmt(ap)}</td>')
        cells += [f'<td data-value="{data[k][name]}">{data[k][name]}</td>' for k in ("num_gt", "num_det")]
        cells += [f'<td data-value="{_value(shares[t])}">{shares[t]:.2f}</td>' for t in TYPES]
        rows.append(f'<tr data-class="{html.escape(name)}">{"".join(cells)}</tr>')
    return f'<table class="sortable" id="ap-table"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


def _figure(src: str, caption: str = "") -> str:
    return f'<figure><img src="{src}" alt="{html.escape(caption)}"><figcaption>{html.escape(caption)}</figcaption></figure>'


def _intro(data: dict) -> list[str]:
    """The title, the headline numbers, the navigation and the per-class table."""
    return [
        f"<h1>Error analysis: {html.escape(str(data['dataset']))}</h1>",
        f"<p>{data['num_images']} images, {data['num_detections']} detections; metric {data['metric']}, "
        f'mAP <b id="map" data-value="{_value(data["mAP"])}">{_fmt(data["mAP"])}</b>. '
        '<span class="note">Every number is also in <a href="analysis.json">analysis.json</a>.</span></p>',
        '<nav><a href="#classes">classes</a><a href="#fp">false positives</a><a href="#breakdown">COCO breakdown</a>'
        '<a href="#sensitivity">sensitivity</a><a href="#confusion">confusion</a><a href="#galleries">galleries</a>'
        + ('<a href="#proposals">proposals</a>' if "proposal_recall" in data else "")
        + "</nav>",
        '<h2 id="classes">Classes</h2><p class="note">Click a column to sort. Type@n: the share of each '
        "detection type among the class's top n detections, n = its number of objects.</p>",
        _table(data),
    ]


def _fp_section(out: Path, data: dict, names: list[str]) -> list[str]:
    """Hoiem's false-positive types: the overall shares, then a figure per class (drawn here)."""
    fp = data["fp_types"]
    overall = fp["overall"]["at_num_gt"]
    plot_fp_types(fp["overall"], "all classes", out / "plots" / "fp_overall.png")
    groups = (
        "(no class groups for this dataset: give --groups)"
        if fp["groups"] == "none"
        else f"(groups: {html.escape(fp['groups'])})"
    )
    parts = [
        '<h2 id="fp">False positives (Hoiem et al., as in R-CNN)</h2>',
        f"<p>Among the top {sum(data['num_gt'].values())} detections (as many as there are objects): "
        + ", ".join(
            f'{t} <b class="share" data-type="{t}" data-value="{_value(overall[t])}">{overall[t]:.1%}</b>'
            for t in TYPES
        )
        + f". Cor: correct; Loc: poor localization or duplicate; Sim: a similar class {groups}"
        + "; Oth: another class; BG: background.</p>",
        '<div class="grid">' + _figure("plots/fp_overall.png", "all classes"),
    ]
    for name in names:
        path = out / "plots" / f"fp_{safe_filename(name)}.png"
        plot_fp_types(fp["per_class"][name], name, path)
        parts.append(_figure(f"plots/{path.name}", name))
    return [*parts, "</div>"]


def _breakdown_section(out: Path, data: dict, names: list[str]) -> list[str]:
    """COCO's PR breakdown, overall and per class (drawn here)."""
    bd = data["coco_breakdown"]
    parts = ['<h2 id="breakdown">COCO-style PR breakdown</h2><p class="note">C75, C50: PR at IoU .75 and .5; '
             "Loc: at IoU .1; Sim, Oth: class confusions forgiven; BG: background false positives removed; "
             "FN: all errors removed. [AP] in the legend.</p><div class=\"grid\">"]  # fmt: skip
    if "overall" in bd["curves"]:
        path = out / "plots" / "breakdown_overall.png"
        plot_breakdown(bd["recall"], bd["curves"]["overall"], bd["overall"], "all classes", path)
        parts.append(_figure("plots/breakdown_overall.png", "all classes"))
    for name in names:
        if name in bd["curves"]:
            path = out / "plots" / f"breakdown_{safe_filename(name)}.png"
            plot_breakdown(bd["recall"], bd["curves"][name], bd["per_class"][name], name, path)
            parts.append(_figure(f"plots/{path.name}", name))
    return [*parts, "</div>"]


def _sensitivity_and_confusion(out: Path, data: dict) -> list[str]:
    """Size/aspect sensitivity and the confusion matrix (both drawn here)."""
    sens, c = data["sensitivity"], data["confusion"]
    plot_sensitivity(sens, data["mAP"], out / "plots" / "sensitivity.png")
    plot_confusion(c["labels"], c["matrix"], out / "plots" / "confusion.png")
    return [
        '<h2 id="sensitivity">Sensitivity to object size and aspect</h2>' + _figure("plots/sensitivity.png"),
        '<p class="note">Bins at the 10/30/70/90th percentiles: size (area, px²) '
        + ", ".join(f"{e:.0f}" for e in sens["size"]["edges"]) + "; aspect (w/h) "
        + ", ".join(f"{e:.2f}" for e in sens["aspect"]["edges"]) + ".</p>",
        f'<h2 id="confusion">Confusion matrix</h2><p class="note">Detections scoring at least {c["score_thresh"]}, '
        f"matched at IoU {c['iou']} regardless of class; rows: true class, columns: predicted.</p>"
        + _figure("plots/confusion.png"),
    ]  # fmt: skip


def _gallery_section(data: dict, names: list[str], pr: dict[str, Path]) -> list[str]:
    """Per class: its PR curve, top false positives and missed objects (crops written earlier)."""
    parts = ['<h2 id="galleries">Galleries</h2><p class="note">Green: ground truth; red: the detection.</p>']
    for name in names:
        g = data["galleries"][name]
        parts.append(f'<h3 id="c-{safe_filename(name)}">{html.escape(name)}: AP {_fmt(data["per_class"][name])}</h3>')
        if name in pr:
            parts.append(f'<div class="grid">{_figure(f"plots/{pr[name].name}", "precision-recall")}</div>')
        for kind, label in (("false_positives", "top false positives"), ("missed", "missed objects")):
            items = [e for e in g[kind] if "file" in e]
            figs = "".join(
                _figure(e["file"], f"{e['type']} {'' if e['score'] is None else format(e['score'], '.2f')}")
                for e in items
            )
            parts.append(f'<p>{label}: {len(g[kind])}</p><div class="grid">{figs}</div>')
    return parts


def _proposal_section(out: Path, data: dict) -> list[str]:
    """Proposal recall against IoU, when the analysis had the proposals (drawn here)."""
    if "proposal_recall" not in data:
        return []
    rec = data["proposal_recall"]
    plot_proposal_recall(rec, out / "plots" / "proposal_recall.png")
    return [f'<h2 id="proposals">Proposal recall</h2><p>recall@0.5 {rec["recall@0.5"]:.3f}, '
            f'recall@0.7 {rec["recall@0.7"]:.3f}, ABO {rec["abo"]:.3f}.</p>' + _count_table(rec)
            + _figure("plots/proposal_recall.png")]  # fmt: skip


def _count_table(rec: dict) -> str:
    """Recall@0.5, @0.7 and ABO at 10 ... 2000 proposals an image (each image's first n), and the
    seconds an image when the cache recorded them: the recall-against-count table."""
    c = rec.get("curve")
    if not c or not c.get("abo"):
        return ""
    cols = [n for n in TABLE_COUNTS if n in c["counts"]]
    head = "".join(f"<th>{n}</th>" for n in cols)
    rows = "".join(
        f"<tr><td>{key}</td>" + "".join(f"<td>{c[key][c['counts'].index(n)]:.3f}</td>" for n in cols) + "</tr>"
        for key in ("recall@0.5", "recall@0.7", "abo")
    )
    sec = rec.get("seconds_per_image")
    note = f"<p>{sec:.3f} s an image to compute.</p>" if sec is not None else ""
    return f"<table><tr><th>first n proposals</th>{head}</tr>{rows}</table>{note}"


def write_page(out_dir: str | Path, dataset: DetectionDataset, a: Analysis) -> Path:
    """Write ``index.html``, ``analysis.json``, ``plots/`` and ``gallery/`` into ``out_dir``;
    returns the page's path."""
    out = Path(out_dir)
    (out / "plots").mkdir(parents=True, exist_ok=True)
    (out / "gallery").mkdir(parents=True, exist_ok=True)
    data = dict(a.data)
    data["galleries"] = _galleries(out, dataset, a)
    names = list(data["per_class"])
    pr = {p.stem.removeprefix("pr_"): p for p in plot_pr_curves(a.curves, data, out / "plots")}
    parts = [*_intro(data), *_fp_section(out, data, names), *_breakdown_section(out, data, names),
             *_sensitivity_and_confusion(out, data), *_gallery_section(data, names, pr), *_proposal_section(out, data)]  # fmt: skip
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Error analysis</title>'
        f"<style>{STYLE}</style></head><body>{''.join(parts)}<script>{SCRIPT}</script></body></html>"
    )
    write_text(out / "analysis.json", json.dumps(_plain(data), indent=1, allow_nan=False))
    path = out / "index.html"
    write_text(path, page)
    return path


def _plain(v):
    """JSON-ready: NaN becomes null, NumPy scalars Python numbers, tuples lists."""
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    return None if isinstance(v, float) and math.isnan(v) else v
