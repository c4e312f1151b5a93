"""Layout check of a PDF: no character leaves its page and no two characters overlap (pdfplumber)."""

from __future__ import annotations

import io
from collections import defaultdict

CELL = 12.0  # points: characters are compared only with those in the same grid cells


def _overlap(a, b) -> float:
    w = min(a["x1"], b["x1"]) - max(a["x0"], b["x0"])
    h = min(a["bottom"], b["bottom"]) - max(a["top"], b["top"])
    return w * h if w > 0 and h > 0 else 0.0


def text_box_problems(data: bytes, tolerance: float = 0.3, share: float = 0.25) -> list[str]:
    """Characters that leave the page (beyond ``tolerance`` points) or overlap another character by more
    than ``share`` of the smaller one's box (glyph boxes of one line touch, they do not overlap)."""
    import pdfplumber

    problems = []
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        for n, page in enumerate(pdf.pages, 1):
            chars = [c for c in page.chars if c["text"].strip()]
            grid = defaultdict(list)
            for i, c in enumerate(chars):
                if c["x0"] < -tolerance or c["top"] < -tolerance or c["x1"] > page.width + tolerance or \
                        c["bottom"] > page.height + tolerance:
                    problems.append(f"page {n}: {c['text']!r} at ({c['x0']:.0f}, {c['top']:.0f}) leaves the page")
                for gx in range(int(c["x0"] // CELL), int(c["x1"] // CELL) + 1):
                    for gy in range(int(c["top"] // CELL), int(c["bottom"] // CELL) + 1):
                        grid[(gx, gy)].append(i)
            seen = set()
            for members in grid.values():
                for k, i in enumerate(members):
                    for j in members[k + 1:]:
                        if (i, j) in seen:
                            continue
                        seen.add((i, j))
                        a, b = chars[i], chars[j]
                        small = min((a["x1"] - a["x0"]) * (a["bottom"] - a["top"]), (b["x1"] - b["x0"]) * (b["bottom"] - b["top"]))
                        if small > 0 and _overlap(a, b) > share * small:
                            problems.append(f"page {n}: {a['text']!r} and {b['text']!r} overlap at ({a['x0']:.0f}, {a['top']:.0f})")
    return problems
