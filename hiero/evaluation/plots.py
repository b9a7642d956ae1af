"""Plots of evaluation results (matplotlib, Agg backend: works headless).

    plot_curves(n_values, curves, path, primary=[...], title=...)   accuracy vs N, log-x, as a PNG
    curves_figure(n_values, curves, primary=[...], title=...)       the same as a matplotlib Figure
    plot_search(n_values, search, path, title=...)                  step-level search: accuracy vs N
                                                                    candidates per step (the HRM paper's
                                                                    curve), one colour per reward model,
                                                                    one line style per strategy

Top panel: one line per reward model (its main aggregation) plus majority vote, pass@N and the
oracle, with shaded 95% bootstrap intervals. Below it, every method as small multiples: one panel
per reward model ("orm", "prm", "hrm": the part of a method's name before ":" or "+") with all its
aggregations, the baselines (majority, pass@N, oracle) in grey and black in every panel, one shared y
axis. Used by `hiero eval bon` and the demo report.

Why small multiples rather than 15 lines in one panel: an aggregation's lines of different reward
models lie within a point or two of each other, so even in distinct colours they hide one another;
in its own panel each reward model's 4-5 lines stay readable, the baselines give every panel the
same reference, and one aggregation has the same colour in every panel.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from hiero.data.io import atomic_write  # noqa: E402

# baselines and ceilings: the same grey/black line in every panel
BASELINES = {"majority": ("#7f7f7f", "--"), "pass@N": ("#000000", ":"), "oracle": ("#000000", "-.")}
# tab10 without its grey (kept for the baselines); when a panel holds more keys than colours, the
# line style changes each time the palette wraps, so (colour, style) stays unique (up to 36 keys)
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf"]
STYLES = ["-", (0, (5, 1.5)), (0, (1, 1)), (0, (6, 1.5, 1, 1.5))]


def family(name: str) -> str | None:
    """The reward model of a method (None for a baseline): its name up to the first ":" or "+".

    >>> family("prm:min"), family("hrm+vote"), family("orm"), family("oracle")
    ('prm', 'hrm', 'orm', None)
    """
    return None if name in BASELINES else re.split(r"[:+]", name, maxsplit=1)[0]


def line_styles(names: list[str], key=lambda name: name) -> dict[str, tuple[str, str | tuple]]:
    """(colour, line style) per name: a baseline its fixed grey/black one; every other name the style of
    its `key`, given to the distinct keys in order of first appearance, so names with different keys
    never share a style.

    >>> line_styles(["majority", "orm", "prm:min"])
    {'majority': ('#7f7f7f', '--'), 'orm': ('#1f77b4', '-'), 'prm:min': ('#ff7f0e', '-')}
    """
    keys: dict[str, int] = {}
    out = {}
    for name in names:
        if name in BASELINES:
            out[name] = BASELINES[name]
            continue
        i = keys.setdefault(key(name), len(keys))
        out[name] = (PALETTE[i % len(PALETTE)], STYLES[(i // len(PALETTE)) % len(STYLES)])
    return out


def _aggregation(name: str) -> str:
    """What follows the reward model in a method's name (":min", "+vote", "" for a bare ORM)."""
    return name[len(family(name) or ""):]


def _draw(
    ax, n_values, curves, names, styles, *, band: bool, xlabel: str = "N (samples per problem)"
) -> None:
    for name in names:
        c = curves[name]
        color, style = styles[name]
        ax.plot(n_values, c["acc"], linestyle=style, color=color, marker="o", markersize=3, label=name)
        if band:
            # a baseline's band fainter: grey and black bands over the coloured ones would muddy them
            ax.fill_between(n_values, c["ci_low"], c["ci_high"], alpha=0.06 if name in BASELINES else 0.15,
                            color=color, linewidth=0)
    ax.set_xscale("log", base=2)
    ax.set_xticks(n_values)
    ax.set_xticklabels([str(n) for n in n_values])
    ax.set_xlabel(xlabel)
    ax.set_ylabel("accuracy")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)


def curves_figure(n_values: list[int], curves: dict, *, primary: list[str] | None = None, title: str = ""):
    """The accuracy-vs-N figure (curves: name -> {"acc", "ci_low", "ci_high"} aligned with n_values):
    the primary lines with their intervals on top, small multiples of every method below."""
    main_names = [n for n in (primary or list(curves)) if n in curves]
    families: dict[str, list[str]] = {}
    for name in curves:
        if family(name) is not None:
            families.setdefault(family(name), []).append(name)
    baselines = [n for n in curves if n in BASELINES]
    cols = max(1, min(3, len(families)))
    rows = math.ceil(len(families) / cols)
    fig = plt.figure(figsize=(12, 4.5 + 3.6 * rows))
    grid = fig.add_gridspec(1 + rows, cols, height_ratios=[1.25] + [1] * rows)
    top = fig.add_subplot(grid[0, :])
    _draw(top, n_values, curves, main_names, line_styles(main_names), band=True)
    top.set_title(f"{title} (95% bootstrap CI)" if title else "accuracy vs N")
    agg_styles = line_styles(list(curves), key=_aggregation)  # one aggregation, one colour, in every panel
    for k, (fam, names) in enumerate(families.items()):
        ax = fig.add_subplot(grid[1 + k // cols, k % cols], sharey=top)
        _draw(ax, n_values, curves, names + baselines, agg_styles, band=False)
        ax.set_title(f"all methods: {fam}")
    fig.tight_layout()
    return fig


def plot_curves(n_values: list[int], curves: dict, path: str | Path, *, primary: list[str] | None = None,
                title: str = "") -> Path:
    """Write `curves_figure` as a PNG."""
    path = Path(path)
    fig = curves_figure(n_values, curves, primary=primary, title=title)
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=110)
    plt.close(fig)
    return path


def plot_search(n_values: list[int], search: dict, path: str | Path, *, title: str = "") -> Path:
    """Step-level search curves (search: "RM STRATEGY" -> {"acc", "ci_low", "ci_high"} aligned with
    n_values) in one panel with 95% bands: a reward model keeps its colour, a strategy its line style."""
    rms = list(dict.fromkeys(name.split(" ")[0] for name in search))
    strategies = list(dict.fromkeys(name.partition(" ")[2] for name in search))
    styles = {}
    for name in search:
        rm, _, strategy = name.partition(" ")
        styles[name] = (BASELINES["oracle"][0] if rm == "oracle" else PALETTE[rms.index(rm) % len(PALETTE)],
                        STYLES[strategies.index(strategy) % len(STYLES)])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    _draw(ax, n_values, search, list(search), styles, band=True, xlabel="N (candidate steps per step)")
    ax.set_title(f"{title} (95% bootstrap CI)" if title else "step-level search")
    fig.tight_layout()
    path = Path(path)
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=110)
    plt.close(fig)
    return path
