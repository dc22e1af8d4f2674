"""Just enough SVG to write the live page's pictures as text (matplotlib only picks ticks and colours).

A Step redraws six pictures; matplotlib took 70-140 ms to lay out, rasterise
and PNG-encode each one, most of a Step. Written as SVG they cost a few
milliseconds each and the browser draws them (see docs/performance.md).
"""

from __future__ import annotations

from html import escape

import numpy as np

FONT = "DejaVu Sans, Verdana, Arial, sans-serif"


def num(x: float) -> str:
    """A coordinate to a tenth of a pixel: enough for the eye (the market view has a
    thousand of them, so this is the plainest format)."""
    return f"{x:.1f}"


def document(width: int, height: int, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="{FONT}">'
            f'<rect width="{width}" height="{height}" fill="white"/>{"".join(body)}</svg>')


def text(x: float, y: float, content: str, size: float, anchor: str = "start",
         baseline: str = "auto", extra: str = "") -> str:
    """One line of text; `baseline`: auto (y is the baseline), middle or hanging (top)."""
    return (f'<text x="{num(x)}" y="{num(y)}" font-size="{size:g}" text-anchor="{anchor}" '
            f'dominant-baseline="{baseline}"{extra}>{escape(content)}</text>')


def lines_of_text(x: float, y: float, lines: list[str], size: float, below: bool) -> str:
    """Several lines starting at (x, y): downwards from y (below) or ending on y."""
    step = 1.2 * size
    first = y + (0.8 * size if below else -step * (len(lines) - 1) - 0.2 * size)
    return "".join(text(x, first + i * step, line, size) for i, line in enumerate(lines))


def colour(rgba) -> str:
    """An RGB(A) tuple in 0-1 as an SVG colour (opacity is given separately)."""
    r, g, b = (int(round(255 * float(c))) for c in rgba[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def colours(rgba: np.ndarray) -> list[str]:
    """Rows of RGB(A) in 0-1 as SVG colours."""
    rgb = np.clip(np.rint(np.asarray(rgba)[:, :3] * 255), 0, 255).astype(np.int64)
    return [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in rgb]


def tick_labels(ticks: np.ndarray) -> list[str]:
    """The fewest decimals that write every tick exactly (0.5, 1.0, 1.5 -> 0.5, 1, 1.5
    would not line up, so all get the same number of decimals)."""
    scale = max(float(np.max(np.abs(ticks))), 1e-12) if len(ticks) else 1.0
    for decimals in range(7):
        if np.allclose(np.round(ticks, decimals), ticks, rtol=0, atol=1e-9 * scale):
            break
    return [f"{0.0 if abs(t) < 1e-12 * scale else t:.{decimals}f}" for t in ticks]
