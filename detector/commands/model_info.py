"""Print GoogLeNet's Table 1 as computed from the real modules (forward hooks).

tools/model_info.py --variant paper|bn [--input 224] [--json]
"""

from __future__ import annotations

import argparse
import json

from backbones import googlenet
from backbones.profile import PAPER_NOTES, PAPER_TABLE1, paper_deviation, profile_table1
from detector.cli import UserError


def _fmt_table(info: dict, variant: str, size: int) -> str:
    compare = variant == "paper" and size == 224
    lines = [
        f"GoogLeNet variant '{variant}', input 3x{size}x{size}; computed by forward hooks (params: weights + biases"
        f"{' + BN affine' if variant == 'bn' else ''}; macs: multiply-adds of conv and linear layers)"
    ]
    head = f"{'row':<14}{'output [C,H,W]':<18}{'params':>12}{'macs':>14}"
    if compare:
        head += f"{'paper params':>14}{'paper ops':>11}{'dev params':>12}{'dev ops':>9}"
    lines.append(head)
    for r in info["rows"]:
        line = f"{r['name']:<14}{str(r['output']):<18}{r['params']:>12,}{r['macs']:>14,}"
        if compare:
            k, m = PAPER_TABLE1[r["name"]]
            dp, dm = paper_deviation(r)
            flag = " *" if r["name"] in PAPER_NOTES else ""
            line += f"{f'{k:g}K':>14}{f'{m:g}M':>11}{dp:>+12.1%}{dm:>+9.1%}{flag}"
        lines.append(line)
    lines.append(
        f"total_params {info['total_params']:,}   total_macs {info['total_macs']:,} "
        f"({info['total_macs'] / 1e9:.3f} G multiply-adds)"
    )
    if compare:
        lines += [f"* {name}: {note}" for name, note in PAPER_NOTES.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", choices=("paper", "bn"), default="paper")
    ap.add_argument("--input", type=int, default=224, help="square input size in pixels")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = ap.parse_args(argv)
    if args.input < 64:
        raise UserError(f"--input {args.input}: GoogLeNet needs at least 64 pixels here")
    info = profile_table1(googlenet(args.variant, aux_logits=False), args.input)
    if args.json:
        out = {"variant": args.variant, "input": args.input, **info}
        if args.variant == "paper" and args.input == 224:
            out["paper_notes"] = PAPER_NOTES
        print(json.dumps(out))
    else:
        print(_fmt_table(info, args.variant, args.input))
    return 0
