"""The look shared by every figure: matplotlib set-up, labels in mathtext, one neutral theory style, sequential
colours, legends outside the data, saving in PNG/PDF/SVG. matplotlib is imported here (never by the math core)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from jacstab._checks import FIG_FORMATS, check_choice, check_int

LN10 = math.log(10.0)
THEORY = {"color": "0.15", "linestyle": (0, (1.2, 1.6)), "linewidth": 1.3, "zorder": 4}  # dotted near-black
INPUT_TEXT = {"default": "a fixed Gaussian input x with ||x||^2 = d (paper footnote 1)"}
INPUT_TEX = {"default": r"fixed Gaussian input, $\|x\|^2 = d$ (paper footnote 1)"}


def input_text(exp, tex: bool = False) -> str:
    """What the experiment's input is, for titles and the report: the Gaussian default or a dataset image."""
    if exp.input == "default":
        return (INPUT_TEX if tex else INPUT_TEXT)["default"]
    _, name, index = exp.input.split(":")
    return f"test image {index} of {name} (the paper: an input randomly selected from MNIST)"

# mathtext names of NetSpec fields (axis labels, legend titles); anything else prints as its name
FIELD_TEX = {
    "sigma2": r"$\sigma_w^2$", "sparsity": r"sparsity $s$", "eta": r"$\eta$", "rho": r"$\rho$", "width": r"width $n$",
    "depth": r"depth $L$", "scaling": "scaling", "prune": "pruning", "activation": "activation", "init": "init",
    "slope": "slope", "correlation": "correlation", "threshold": "threshold", "keep": "keep",
}  # fmt: skip
SCALING_TEXT = {
    "none": "no scaling", "random": r"$(1-s)^{-1/2}$", "paper-magnitude": "Thm 4.3 factor (as printed)",
    "exact": "exact condition (ii) factor", "empirical": "empirical (per-row energy)",
}  # fmt: skip


@dataclass(frozen=True)
class FigureOptions:
    """How figures are drawn and written.

    Attributes:
        fmt: ``png``, ``pdf`` or ``svg`` (the report always embeds a PNG as well); dpi: raster resolution
        (PNG, and raster parts of PDF/SVG), 50..1200; theory: draw the theory overlays.
    """

    fmt: str = "png"
    dpi: int = 200
    theory: bool = True

    def __post_init__(self) -> None:
        check_choice("fig_format", self.fmt, FIG_FORMATS)
        object.__setattr__(self, "dpi", check_int("dpi", self.dpi, 50, 1200))


def pyplot():
    """matplotlib's pyplot on the Agg backend with the paper style (serif-free, small, thin grid)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({
        "font.size": 9, "axes.titlesize": 9.5, "axes.labelsize": 9, "legend.fontsize": 8, "xtick.labelsize": 8,
        "ytick.labelsize": 8, "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False,
        "axes.spines.right": False, "svg.hashsalt": "jacstab", "svg.fonttype": "path",
    })  # fmt: skip
    return plt


def value_text(field: str, value) -> str:
    """A grid value in mathtext: ``eta`` as a power of two (``2^{-5}``), scalings in words, numbers with ``:g``."""
    if field == "scaling":
        return SCALING_TEXT.get(value, str(value))
    if isinstance(value, float) and field in ("eta", "rho") and value > 0:
        k = math.log2(value)
        if abs(k - round(k)) < 1e-12:
            return rf"$2^{{{round(k)}}}$"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def setting_text(field: str, value) -> str:
    """``$\\eta$ = $2^{-5}$``-style legend text of one grid value."""
    if field == "scaling":
        return f"scaling: {value_text(field, value)}"
    return f"{FIELD_TEX.get(field, field)} = {value_text(field, value)}"


def sequential(values) -> dict:
    """One colour per value of a numeric grid field, in order, from a sequential map (viridis, dark to light,
    stopping at its green so every line and label stays readable on white)."""
    plt = pyplot()
    vals = sorted(set(values), key=lambda v: (isinstance(v, str), v))
    if len(vals) == 1:
        return {vals[0]: plt.cm.viridis(0.35)}
    return {v: plt.cm.viridis(0.72 * i / (len(vals) - 1)) for i, v in enumerate(vals)}


def categorical(values) -> dict:
    """One colour per value of a categorical grid field (tab10, in order)."""
    plt = pyplot()
    vals = list(dict.fromkeys(values))
    return {v: plt.cm.tab10(i % 10) for i, v in enumerate(vals)}


def log10_label(what: str = r"\|J\|_2") -> str:
    return rf"$\log_{{10}} {what}$"


def suptitle(fig, head: str, exp, *, y: float = 1.0) -> None:
    """``head`` plus the sizes: ``n``, ``L``, seeds, input (one line under the title)."""
    widths = sorted({s.width for s in exp.specs})
    depths = sorted({s.depth for s in exp.specs})
    sizes = (f"n = {', '.join(map(str, widths))}; L = {', '.join(map(str, depths))}; {len(exp.seeds)} seeds; "
             f"{input_text(exp, tex=True)}")
    fig.suptitle(f"{head}\n{sizes}", fontsize=9.5, y=y)


def legend_below(fig, handles, labels, *, ncol: int = 3) -> None:
    """One legend for the whole figure, below the panels (outside the data)."""
    if handles:
        fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=ncol, frameon=False,
                   fontsize=8)


def save(fig, stem: Path, options: FigureOptions) -> tuple[Path, Path]:
    """Write ``stem.<fmt>`` and (for the HTML report) ``stem.png``; return ``(file, png)`` and close ``fig``."""
    plt = pyplot()
    stem = Path(stem)
    main = stem.with_suffix(f".{options.fmt}")
    png = stem.with_suffix(".png")
    kw = {"bbox_inches": "tight", "pad_inches": 0.08}
    meta = {"svg": {"Date": None}, "pdf": {"CreationDate": None}, "png": {}}
    try:
        fig.savefig(main, dpi=options.dpi, metadata=meta[options.fmt], **kw)
        if main != png:
            fig.savefig(png, dpi=min(options.dpi, 200), **kw)
    finally:
        plt.close(fig)
    return main, png
