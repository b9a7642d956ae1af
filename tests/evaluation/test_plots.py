"""The accuracy-vs-N figure (hiero/evaluation/plots.py): with the 15 methods a demo run compares, and
with more, no two lines of one panel share a colour and a line style (issue 30: the "all methods"
panel drew 15 lines with matplotlib's 10-colour cycle)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
from matplotlib.colors import to_hex

from hiero.evaluation.plots import BASELINES, curves_figure, family, line_styles, plot_curves

N = [1, 2, 4, 8]
DEMO_METHODS = [
    "majority",
    "pass@N",
    "orm",
    "orm+vote",
    "prm:min",
    "prm:prod",
    "prm:last",
    "prm:mean",
    "prm+vote",
    "hrm:min",
    "hrm:prod",
    "hrm:last",
    "hrm:mean",
    "hrm+vote",
    "oracle",
]


def curves_of(names):
    return {name: {"acc": [0.1 + 0.01 * i + 0.1 * k for k in range(len(N))],
                   "ci_low": [0.05] * len(N), "ci_high": [0.9] * len(N)} for i, name in enumerate(names)}


def styles_of(ax) -> list[tuple[str, object]]:
    return [(to_hex(line.get_color()), str(line.get_linestyle())) for line in ax.get_lines()]


@pytest.mark.parametrize(
    "names",
    [
        DEMO_METHODS,
        # a wide run: 12 aggregations of one reward model (more than the palette's 9 colours) and 4 more RMs
        ["majority", "oracle"]
        + [f"prm:agg{i}" for i in range(12)]
        + [f"rm{j}:min" for j in range(4)]
        + ["pass@N"],
    ],
)
def test_no_two_lines_of_a_panel_share_colour_and_style(names):
    curves = curves_of(names)
    fig = curves_figure(
        N, curves, primary=names, title="t"
    )  # primary = all: the top panel holds every line too
    try:
        axes = fig.get_axes()
        assert len(axes) == 1 + len({family(n) for n in names} - {None})
        for ax in axes:
            styles = styles_of(ax)
            assert len(styles) == len(set(styles)), (ax.get_title(), styles)
            labels = [line.get_label() for line in ax.get_lines()]
            assert all(b in labels for b in BASELINES if b in names)  # the baselines in every panel
        # every method is drawn in exactly one small multiple, its reward model's
        drawn = [
            lab
            for ax in axes[1:]
            for lab in (line.get_label() for line in ax.get_lines())
            if lab not in BASELINES
        ]
        assert sorted(drawn) == sorted(n for n in names if n not in BASELINES)
        for ax in axes[1:]:
            fams = {family(line.get_label()) for line in ax.get_lines()} - {None}
            assert len(fams) == 1 and ax.get_title().endswith(fams.pop())
        assert len({ax.get_ylim() for ax in axes}) == 1  # one shared y axis
    finally:
        plt.close(fig)


def test_an_aggregation_has_one_colour_in_every_panel():
    fig = curves_figure(N, curves_of(DEMO_METHODS), primary=["orm", "prm:min", "hrm:min"])
    try:
        colour = {
            line.get_label(): to_hex(line.get_color()) for ax in fig.get_axes()[1:] for line in ax.get_lines()
        }
        assert (
            colour["prm:min"] == colour["hrm:min"]
            and colour["prm+vote"] == colour["hrm+vote"] == colour["orm+vote"]
        )
        assert colour["majority"] == "#7f7f7f" and colour["oracle"] == colour["pass@N"] == "#000000"
    finally:
        plt.close(fig)


def test_line_styles_stay_unique_past_the_palette():
    names = [f"m{i}" for i in range(36)] + list(BASELINES)  # 9 colours x 4 line styles
    styles = line_styles(names)
    assert len(set(styles.values())) == len(names)


def test_plot_curves_writes_a_png(tmp_path):
    path = plot_curves(N, curves_of(DEMO_METHODS), tmp_path / "c.png", primary=["orm", "oracle"])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
