"""Time against N as an SVG, without plotting libraries: one small panel per resource type and
operation, our resource (solid) beside terraform_data (dashed), log-log axes."""
import math
import statistics

from matrix import LABELS, OPERATIONS

PANEL_W, PANEL_H, MARGIN_L, MARGIN_T, GAP = 220, 150, 70, 50, 30
OURS, FLOOR = "#1f6feb", "#888888"


def _log_scale(lo, hi, size, flip=False):
    lo, hi = math.log10(lo), math.log10(hi)

    def scale(v):
        t = (math.log10(v) - lo) / (hi - lo) if hi > lo else 0.5
        return size * (1 - t) if flip else size * t

    return scale


def _ticks(lo, hi):
    ticks = []
    exp = math.floor(math.log10(lo))
    while 10 ** exp <= hi * 1.0001:
        for m in (1, 2, 5):
            v = m * 10 ** exp
            if lo * 0.9999 <= v <= hi * 1.0001:
                ticks.append(v)
        exp += 1
    return ticks


def write(results, path):
    kinds = [k for k in results["types"] if k in results.get("matrix", {})]
    sizes = results["sizes"]
    medians = {
        (kind, op, who): [statistics.median(results["matrix"][kind][str(n)]["times"][op][who]) for n in sizes]
        for kind in kinds for op in OPERATIONS for who in ("ours", "floor")
    }
    all_values = [v for values in medians.values() for v in values]
    lo, hi = min(all_values) * 0.8, max(all_values) * 1.25
    y_ticks = _ticks(lo, hi)
    width = MARGIN_L + len(OPERATIONS) * (PANEL_W + GAP) + 20
    height = MARGIN_T + len(kinds) * (PANEL_H + GAP + 20) + 40
    machine = results["machine"]
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{MARGIN_L}" y="18" font-size="14">Wall time (s, median) against N: '
        f'<tspan fill="{OURS}">gitopsbridge (solid)</tspan> and <tspan fill="{FLOOR}">terraform_data (dashed)</tspan></text>',
        f'<text x="{MARGIN_L}" y="34" fill="#555">{machine["terraform"]}, {machine["cores"]} cores ({machine["cpu"]}), '
        f'{machine["date"]}, provider {machine.get("commit", "?")}; log-log axes; terraform_data carries the same '
        f'values</text>',
    ]
    x_scale = _log_scale(min(sizes), max(sizes), PANEL_W)
    y_scale = _log_scale(lo, hi, PANEL_H, flip=True)
    for row, kind in enumerate(kinds):
        top = MARGIN_T + row * (PANEL_H + GAP + 20) + 14
        middle = top + PANEL_H / 2
        out.append(f'<text x="14" y="{middle}" font-weight="bold" text-anchor="middle" '
                   f'transform="rotate(-90 14 {middle})">{kind}</text>')
        for col, op in enumerate(OPERATIONS):
            left = MARGIN_L + col * (PANEL_W + GAP)
            out.append(f'<g transform="translate({left},{top})">')
            out.append(f'<rect width="{PANEL_W}" height="{PANEL_H}" fill="none" stroke="#ccc"/>')
            if row == 0:
                out.append(f'<text x="{PANEL_W / 2}" y="-6" text-anchor="middle">{LABELS[op]}</text>')
            for v in y_ticks:
                y = y_scale(v)
                out.append(f'<line x1="0" x2="{PANEL_W}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
                if col == 0:
                    out.append(f'<text x="-4" y="{y + 4:.1f}" text-anchor="end">{v:g}</text>')
            for n in sizes:
                x = x_scale(n)
                out.append(f'<text x="{x:.1f}" y="{PANEL_H + 13}" text-anchor="middle">{n}</text>')
            for who, colour, dash in (("floor", FLOOR, ' stroke-dasharray="4 3"'), ("ours", OURS, "")):
                points = " ".join(f"{x_scale(n):.1f},{y_scale(v):.1f}" for n, v in zip(sizes, medians[(kind, op, who)]))
                out.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
                for n, v in zip(sizes, medians[(kind, op, who)]):
                    out.append(f'<circle cx="{x_scale(n):.1f}" cy="{y_scale(v):.1f}" r="2.5" fill="{colour}"/>')
            ratio = medians[(kind, op, "ours")][-1] / medians[(kind, op, "floor")][-1]
            out.append(f'<text x="6" y="14" fill="#333">{ratio:.2f}× at N={sizes[-1]}</text>')
            out.append("</g>")
    out.append(f'<text x="{MARGIN_L + 2 * (PANEL_W + GAP)}" y="{height - 10}">N (resources)</text>')
    out.append("</svg>")
    path.write_text("\n".join(out) + "\n")
