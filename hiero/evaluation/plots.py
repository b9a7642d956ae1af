"""Plots of evaluation results (matplotlib, Agg backend: works headless).

    plot_curves(n_values, curves, path, primary=[...], title=...)   accuracy vs N, log-x

Left panel: one line per reward model (its main aggregation) plus majority vote, pass@N and the
oracle, with shaded 95% bootstrap intervals. Right panel: every method (all aggregations, votes),
lines only. Used by `hiero eval bon`.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from hiero.data.io import atomic_write  # noqa: E402

_DASHED = {"majority", "pass@N", "oracle"}  # baselines and ceilings, drawn dashed


def _draw(ax, n_values, curves, names, *, band: bool) -> None:
    for name in names:
        c = curves[name]
        style = "--" if name in _DASHED else "-"
        (line,) = ax.plot(n_values, c["acc"], style, marker="o", markersize=3, label=name)
        if band:
            ax.fill_between(n_values, c["ci_low"], c["ci_high"], alpha=0.15, color=line.get_color())
    ax.set_xscale("log", base=2)
    ax.set_xticks(n_values)
    ax.set_xticklabels([str(n) for n in n_values])
    ax.set_xlabel("N (samples per problem)")
    ax.set_ylabel("accuracy")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)


def plot_curves(n_values: list[int], curves: dict, path: str | Path, *, primary: list[str] | None = None,
                title: str = "") -> Path:
    """Write a PNG of accuracy vs N (curves: name -> {"acc", "ci_low", "ci_high"} aligned with n_values)."""
    path = Path(path)
    main_names = [n for n in (primary or list(curves)) if n in curves]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    _draw(axes[0], n_values, curves, main_names, band=True)
    axes[0].set_title(f"{title} (95% bootstrap CI)" if title else "accuracy vs N")
    _draw(axes[1], n_values, curves, list(curves), band=False)
    axes[1].set_title("all methods")
    fig.tight_layout()
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=110)
    plt.close(fig)
    return path
