"""The demo's self-contained HTML report: `report.html` beside report.md and results.json.

    python: render_html(results) -> str     (results = the dict `hiero demo` writes to results.json)

Everything is inline: CSS in a <style> block, plots as PNG data URIs (matplotlib, Agg), the
example tree as an <iframe srcdoc> of `hiero trees html`'s page. No script, font or image loads
from the network, so the file can be mailed or archived as is. Sections, in order: the claims of
the two papers against this run ("what held and what did not"), accuracy vs N, step-level checks
with the ROC curves, step-level search, self-training, DPO vs HiPO (accuracy, segment quality,
per-segment reward margins over training), one example tree, time and memory per stage, and the
exact command, seed and versions. A section whose stage did not run is left out.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from hiero.evaluation.plots import plot_curves  # noqa: E402

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}td,th{border:1px solid #ccc;padding:.25em .55em;
text-align:right}th{background:#f4f4f4}.t{text-align:left}
img{max-width:100%;border:1px solid #eee}code{background:#f4f4f4;padding:0 .2em}
.held{color:#1a7f37;font-weight:600}.failed{color:#b42318;font-weight:600}.open{color:#9a6700;font-weight:600}
iframe{width:100%;height:420px;border:1px solid #ddd}.note{color:#555;font-size:.9em}
details.settings{margin-top:2em;border-top:1px solid #ddd;padding-top:.6em}details.settings>summary{cursor:pointer;
font-weight:600}
"""


def _e(x) -> str:
    return html.escape(str(x))


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _num(x, nd=3) -> str:
    return "n/a" if x is None else (f"{x:.{nd}f}" if isinstance(x, float) else _e(x))


def _table(header: list[str], rows: list[list[str]], text_cols: tuple[int, ...] = (0,)) -> str:
    """Cells are HTML already (escape text with _e before); `text_cols` are left-aligned, numbers right."""
    def cell(tag: str, i: int, c: str) -> str:
        return f'<{tag} class="t">{c}</{tag}>' if i in text_cols else f"<{tag}>{c}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(cell("td", i, c) for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _fig_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


# ----------------------------------------------------------------------------- claims
def _interval(curve: dict, i: int) -> tuple[float, float, float]:
    return curve["acc"][i], curve["ci_low"][i], curve["ci_high"][i]


def _compare(a: tuple[float, float, float], b: tuple[float, float, float], margin: float = 0.0) -> str:
    """'held' when a beats b + margin with disjoint 95% intervals, 'failed' when a is below b with
    disjoint intervals, else 'open' (the intervals overlap: this run cannot tell)."""
    if a[0] > b[0] + margin and a[1] > b[2]:
        return "held"
    if a[0] < b[0] and a[2] < b[1]:
        return "failed"
    return "open"


# the HRM paper's step-level greedy search on PRM800K as N goes 2 -> 24 (REFERENCE.md): HRM rises, PRM falls
PAPER_SEARCH_TREND = {"hrm": (0.722, 0.800, "rises"), "prm": (0.700, 0.577, "falls")}


def _search_trend_claims(search: dict) -> list[dict]:
    """The paper's trend of step_greedy accuracy over N, per reward model: this run's smallest vs largest N,
    'held' when it moves the paper's way with disjoint 95% intervals, 'failed' when the other way so."""
    out = []
    for rm, (lo, hi, word) in PAPER_SEARCH_TREND.items():
        v = search.get(f"{rm} step_greedy")
        if not v or len(v["n"]) < 2:
            continue
        first, last = _interval(v, 0), _interval(v, len(v["n"]) - 1)
        verdict = _compare(last, first) if word == "rises" else _compare(first, last)
        out.append({"paper": "HRM", "claim": f"{rm.upper()} step-greedy accuracy {word} with N (paper, PRM800K: "
                                             f"{_pct(lo)} at N=2 -> {_pct(hi)} at N=24)",
                    "numbers": f"{_pct(first[0])} at N={v['n'][0]} -> {_pct(last[0])} at N={v['n'][-1]}",
                    "verdict": verdict})
    return out


def claims(results: dict) -> list[dict]:
    """Each claim of the two papers with this run's numbers and a verdict: held / failed / open."""
    st = results.get("stages", {})
    out: list[dict] = []
    bon = st.get("bon") or {}
    curves, ns = bon.get("curves") or {}, bon.get("n") or []
    if curves and ns:
        last, big = len(ns) - 1, ns[-1]
        for rm in ("prm", "hrm"):
            c = curves.get(f"{rm}:min")
            if c and "majority" in curves:
                a, b = _interval(c, last), _interval(curves["majority"], last)
                out.append({"paper": "HRM", "claim": f"{rm.upper()}-guided best-of-N beats majority vote at N={big}",
                            "numbers": f"{_pct(a[0])} [{_pct(a[1])}, {_pct(a[2])}] vs majority {_pct(b[0])} "
                                       f"[{_pct(b[1])}, {_pct(b[2])}]", "verdict": _compare(a, b)})
            if c:
                a, b = _interval(c, last), _interval(c, 0)
                verdict = "failed" if a[2] < b[1] else ("held" if a[0] >= b[0] else "open")
                out.append({"paper": "HRM", "claim": f"{rm.upper()} best-of-N does not fall as N grows (N=1 → {big})",
                            "numbers": f"{_pct(b[0])} → {_pct(a[0])} [{_pct(a[1])}, {_pct(a[2])}]", "verdict": verdict})
        if "hrm:min" in curves and "prm:min" in curves:
            a, b = _interval(curves["hrm:min"], last), _interval(curves["prm:min"], last)
            out.append({"paper": "HRM", "claim": f"HRM beats PRM at N={big} (robust to errors later steps fix)",
                        "numbers": f"HRM {_pct(a[0])} [{_pct(a[1])}, {_pct(a[2])}] vs PRM {_pct(b[0])} "
                                   f"[{_pct(b[1])}, {_pct(b[2])}]", "verdict": _compare(a, b)})
    steps = bon.get("step_eval") or {}
    if "prm" in steps and "hrm" in steps:
        key = "auroc_same_position" if steps["prm"].get("auroc_same_position") is not None else "auroc"
        p, h = steps["prm"].get(key), steps["hrm"].get(key)
        if p is not None and h is not None:
            out.append({"paper": "HRM", "claim": f"HRM ranks steps at least as well as PRM ({key})",
                        "numbers": f"HRM {h:.3f} vs PRM {p:.3f} (fresh samples, domain ground truth)",
                        # the stated rule for an "at least as well" claim: the claimed sign holds; the AUROCs carry
                        # no intervals here, so a lower HRM is not settled by this run (never "held" by a margin)
                        "verdict": "held" if h >= p else "open"})
    for k, v in (bon.get("search") or {}).items():
        rm, _, strategy = k.partition(" ")
        common = [n for n in v["n"] if n in ns]
        if rm == "oracle" or f"{rm}:min" not in curves or not common:
            continue
        n = common[-1]  # the largest N both were run at
        a, b = _interval(v, v["n"].index(n)), _interval(curves[f"{rm}:min"], ns.index(n))
        out.append({"paper": "HRM", "claim": f"{rm.upper()} {strategy} beats best-of-N at the same N={n}",
                    "numbers": f"{_pct(a[0])} vs {_pct(b[0])}", "verdict": _compare(a, b)})
    out += _search_trend_claims(bon.get("search") or {})
    sft = st.get("selftrain") or {}
    if sft.get("before") and sft.get("after"):
        b, a = sft["before"]["accuracy"], sft["after"]["accuracy"]
        out.append({"paper": "HRM", "claim": "self-training on high-value trajectories raises accuracy",
                    "numbers": f"{_pct(b)} → {_pct(a)} (n = {sft['after'].get('n')})",
                    "verdict": _binomial_verdict(a, b, sft["after"].get("n") or 0)})
    acc = (st.get("po_eval") or {}).get("accuracy") or {}
    n = (st.get("po_eval") or {}).get("n") or 0
    if {"base", "dpo"} <= acc.keys():
        out.append({"paper": "HiPO", "claim": "DPO beats the base policy", "numbers":
                    f"{_pct(acc['dpo'])} vs {_pct(acc['base'])} (n = {n})",
                    "verdict": _binomial_verdict(acc["dpo"], acc["base"], n)})
    if {"dpo", "hipo"} <= acc.keys():
        v = _binomial_verdict(acc["hipo"], acc["dpo"], n)
        out.append({"paper": "HiPO", "claim": "HiPO matches or beats DPO at the same cost", "numbers":
                    f"{_pct(acc['hipo'])} vs {_pct(acc['dpo'])} (n = {n})",
                    "verdict": "held" if v == "open" and acc["hipo"] >= acc["dpo"] else v})
    return out


def _binomial_verdict(a: float, b: float, n: int) -> str:
    """Two accuracies on the same n problems: 'held' / 'failed' when they differ by more than
    ~2 standard errors of a difference of two proportions (unpaired, conservative), else 'open'."""
    if n <= 0:
        return "open"
    se = ((a * (1 - a) + b * (1 - b)) / n) ** 0.5
    if a - b > 1.96 * se and a > b:
        return "held"
    if b - a > 1.96 * se:
        return "failed"
    return "open"


# ----------------------------------------------------------------------------- sections
def _header(r: dict) -> str:
    cfg, m = r["config"], r.get("machine", {})
    versions = ", ".join(f"{k} {_e(v)}" for k, v in (r.get("versions") or {}).items()) or "versions not recorded"
    return (f"<h1>hiero demo report ({_e(cfg['size'])})</h1>"
            f"<p>Command: <code>hiero demo --out {_e(cfg['out'])} --seed {_e(cfg['seed'])} --size {_e(cfg['size'])}"
            f"</code><br>Seed {_e(r.get('seed', cfg['seed']))}; wall time {r['wall_time_s']:.1f} s (this run; cached "
            f"stages cost ~0); peak memory {r['peak_rss_mb']:.0f} MB; {_e(m.get('cpus'))} CPUs, "
            f"{_e(m.get('threads'))} threads, CUDA {_e(m.get('cuda'))}; {versions}.</p>")


def _claims_section(r: dict) -> str:
    rows = claims(r)
    if not rows:
        return ""
    label = {"held": "held", "failed": "did not hold", "open": "not settled by this run"}
    body = [[_e(c["paper"]), _e(c["claim"]), _e(c["numbers"]), f'<span class="{c["verdict"]}">{label[c["verdict"]]}</span>']
            for c in rows]
    return ("<h2>What held and what did not</h2><p class='note'>Each claim of the two papers, tested on this run. "
            "<b>held</b>: the difference has the claimed sign and the 95% intervals do not overlap (for "
            "\"does not fall\" and \"matches or beats\": the claimed sign, and no significant difference against "
            "it); <b>did not hold</b>: the opposite sign with disjoint intervals; otherwise not settled (more "
            "problems or seeds are needed: <code>--size full</code>).</p>"
            + _table(["paper", "claim", "this run", "verdict"], body, text_cols=(0, 1, 2, 3)))


def coincidence_note(r: dict) -> str:
    """What the best-of-N curves can and cannot compare: where the reward models' curves coincide (at every
    N each one's accuracy lies inside the other's 95% interval), why — plain text for the Markdown and
    HTML reports ("" where some pair differs)."""
    st = r.get("stages", {})
    curves = (st.get("bon") or {}).get("curves") or {}
    names = [n for n in ("orm", "prm:min", "hrm:min") if n in curves]
    if len(names) < 2:
        return ""
    pairs = [(curves[x], curves[y]) for i, x in enumerate(names) for y in names[i + 1:]]
    inside = all(b["ci_low"][k] <= a["acc"][k] <= b["ci_high"][k] and a["ci_low"][k] <= b["acc"][k] <= a["ci_high"][k]
                 for a, b in pairs for k in range(len(a["acc"])))
    if not inside:
        return ""
    gap = max(abs(u - v) for a, b in pairs for u, v in zip(a["acc"], b["acc"], strict=True))
    rms = st.get("rm_train") or {}
    heads = {(rms.get(n.split(":")[0]) or {}).get("head") for n in names}
    why = ("all of them score a step with the same backbone's likelihood of its tokens, calibrated by a "
           "five-weight head (--head likelihood) on different rows (ORM: outcomes; PRM: steps; HRM: steps and "
           "merged pairs of steps), so they rank the candidates alike"
           if heads == {"likelihood"} else "they share one backbone and rank the candidates alike")
    return (f"{', '.join(n.split(':')[0].upper() for n in names)} coincide here (at most {100 * gap:.0f} points "
            f"apart at any N, each inside the others' 95% intervals): {why}. This run cannot tell process from outcome "
            "supervision, nor merged steps from single ones; the step-level checks below and "
            "`--variant self_correct` are where they can differ (docs/embedded-default.md).")


def _bon_section(r: dict) -> str:
    bon = r["stages"].get("bon")
    if not bon or "curves" not in bon:
        return ""
    ns, curves = bon["n"], bon["curves"]
    names = [n for n in ("orm", "prm:min", "hrm:min", "prm+vote", "hrm+vote", "majority", "oracle", "pass@N")
             if n in curves]
    rows = [[_e(n)] + [f"{_pct(a)}<br><span class='note'>[{_pct(lo)}, {_pct(hi)}]</span>"
                       for a, lo, hi in zip(curves[n]["acc"], curves[n]["ci_low"], curves[n]["ci_high"], strict=True)]
            for n in names]
    plot = Path((bon.get("files") or {}).get("plot", ""))
    if plot.is_file():  # the plot `hiero eval bon` drew in its stage folder
        png = plot.read_bytes()
    else:
        with tempfile.TemporaryDirectory() as tmp:  # plot_curves writes a file (atomically)
            png = plot_curves(ns, curves, Path(tmp) / "curves.png", title="accuracy vs N",
                              primary=[n for n in names if n not in ("prm+vote", "hrm+vote")]).read_bytes()
    note = coincidence_note(r)
    return (f"<h2>Best-of-N</h2><p>{bon['n_problems']} held-out problems, one pool of {bon['pool_size']} samples "
            f"each (sample accuracy {_pct(bon.get('sample_accuracy'))}); the first N of the pool are the candidates "
            "at N; 95% bootstrap intervals over problems.</p>"
            + (f"<p class='note'>{_e(note)}</p>" if note else "")
            + _table(["method"] + [f"N={n}" for n in ns], rows) + _img(png, "accuracy vs N"))


def _steps_section(r: dict) -> str:
    se = (r["stages"].get("bon") or {}).get("step_eval") or {}
    if not se:
        return ""
    rows = [[_e(k), _num(v.get("auroc")), _num(v.get("auroc_within")), _num(v.get("auroc_same_position")),
             _num(v.get("auroc_within_same_position")), _num(v.get("auroc_first_error")), _num(v.get("solution_auroc_within")), _num(v.get("f1")),
             _num(v.get("acc_error")), _num(v.get("acc_correct")),
             _e(", ".join(f"{kind} ({x['n']}): {_num(x['auroc'], 2)}" for kind, x in v.get("kinds", {}).items()))]
            for k, v in se.items()]
    roc = ""
    if any(v.get("roc") for v in se.values()):
        roc = _img(_roc_png(se), "step ROC curves")
    return ("<h2>Step-level checks</h2><p>Every per-step reward model on the best-of-N pool, against the built-in "
            "domain's own check of each step (never seen in training). ProcessBench F1: threshold tuned on the "
            "even-numbered problems, reported on the odd ones. Wrong steps sit late in a solution (every step after "
            "a first error counts as wrong), so a score that merely falls with depth ranks well pooled; the "
            "controls compare right and wrong steps at the same index (over all problems, and inside each problem), "
            "right steps with first errors only, and the "
            "right and wrong solutions of one problem by their min score (what best-of-N needs).</p>"
            + _table(["RM", "step AUROC", "AUROC within problem", "same index", "same index within problem",
                      "first error", "solutions within problem", "F1", "acc. erroneous", "acc. correct",
                      "AUROC per error kind (n)"], rows, text_cols=(0, 10)) + roc)


def _roc_png(se: dict) -> bytes:
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    for k, v in se.items():
        if v.get("roc"):
            ax.plot(v["roc"]["fpr"], v["roc"]["tpr"], label=f"{k} (AUROC {_num(v.get('auroc'))})")
    ax.plot([0, 1], [0, 1], "--", color="#999", linewidth=1, label="chance")
    ax.set_xlabel("false positive rate (wrong steps scored as right)")
    ax.set_ylabel("true positive rate")
    ax.set_title("step ROC against the domain's truth")
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
    return _fig_png(fig)


def _search_section(r: dict) -> str:
    bon = r["stages"].get("bon") or {}
    search, curves, ns = bon.get("search") or {}, bon.get("curves") or {}, bon.get("n") or []
    if not search:
        return ""
    rows = []
    for k, v in search.items():
        rm = k.split(" ")[0]
        ref = curves.get(f"{rm}:min") if rm != "oracle" else curves.get("oracle")
        for i, n in enumerate(v["n"]):
            same = _pct(ref["acc"][ns.index(n)]) if ref and n in ns else "n/a"
            rows.append([_e(k), _e(n), f"{_pct(v['acc'][i])} [{_pct(v['ci_low'][i])}, {_pct(v['ci_high'][i])}]", same])
    plot = Path((bon.get("files") or {}).get("search_plot", ""))
    img = _img(plot.read_bytes(), "step-level search: accuracy vs N candidate steps") if plot.is_file() else ""
    return ("<h2>Step-level search</h2><p class='note'>N candidate next steps, the reward model keeps the best, "
            "until an answer (the HRM paper's protocol; its PRM800K curve: HRM 72.2% → 80.0%, PRM 70.0% → 57.7% "
            "as N goes 2 → 24). The candidates of a prefix are drawn once and shared across N.</p>" + img
            + _table(["search", "N (width)", "accuracy [95% CI]", "best-of-N at the same N"], rows))


def _selftrain_section(r: dict) -> str:
    x = r["stages"].get("selftrain") or {}
    if not x.get("after"):
        return ""
    return (f"<h2>Self-training</h2><p>{_e(x.get('examples'))} examples (select={_e(x.get('select'))}, MC ≥ "
            f"{_e(x.get('threshold'))}) from {_e(x.get('trees'))} trees; loss CE + {_e(x.get('lam'))}·"
            f"{_e(x.get('kl_form'))}(KL). Held-out greedy accuracy {_pct(x['before']['accuracy'])} → "
            f"<b>{_pct(x['after']['accuracy'])}</b> (n = {_e(x['after'].get('n'))}).</p>")


def _margins_png(po_dir: Path) -> bytes | None:
    series = {}
    for kind in ("dpo", "hipo"):
        f = po_dir / kind / "metrics.jsonl"
        if f.exists():
            series[kind] = [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
    if not series:
        return None
    keys = sorted({k for rows in series.values() for row in rows for k in row if k.startswith("margins/")})
    if not keys:
        return None
    fig, axes = plt.subplots(1, len(series), figsize=(5.5 * len(series), 3.8), squeeze=False)
    for ax, (kind, rows) in zip(axes[0], series.items(), strict=True):
        for k in keys:
            pts = [(row["step"], row[k]) for row in rows if k in row]
            if pts:
                w = max(1, len(pts) // 15)  # running mean: one batch's margin is noisy
                ys = [sum(y for _, y in pts[max(0, i - w + 1):i + 1]) / len(pts[max(0, i - w + 1):i + 1])
                      for i in range(len(pts))]
                ax.plot([x for x, _ in pts], ys, label=k.removeprefix("margins/"))
        ax.set_title(f"{kind}: chosen − rejected reward, per segment")
        ax.set_ylabel("margin (running mean)")
        ax.set_xlabel("optimizer step")
        ax.axhline(0, color="#999", linewidth=1)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    return _fig_png(fig)


def _po_section(r: dict) -> str:
    ev, po = r["stages"].get("po_eval") or {}, r["stages"].get("po") or {}
    if not ev and not po:
        return ""
    parts = ["<h2>DPO vs HiPO</h2>"]
    acc, seg = ev.get("accuracy") or {}, ev.get("segments") or {}
    if acc:
        rows = [[_e(k), _pct(v)] + ([_pct(seg[k]["clarification_right"]), _pct(seg[k]["step_accuracy"]),
                                     _num(seg[k]["mean_first_error"], 2)] if k in seg else ["n/a"] * 3)
                for k, v in acc.items()]
        parts.append(f"<p>{_e(ev.get('n'))} held-out problems, the same prompt for every model; segments checked by "
                     "the domain (no judge).</p>" + _table(["model", "accuracy", "clarification right",
                                                            "steps right", "mean first-error step"], rows))
    po_dir = Path(po["dpo"]["model_dir"]).parent if isinstance(po.get("dpo"), dict) else None
    png = _margins_png(po_dir) if po_dir and po_dir.exists() else None
    if png:
        parts.append(_img(png, "per-segment reward margins over training"))
    return "".join(parts)


def _tree_section(r: dict) -> str:
    ann = r["stages"].get("annotate") or {}
    path = Path(ann.get("out", ""))
    if not ann or not path.is_file():
        return ""
    from hiero.data.io import read_jsonl
    from hiero.trees.view import render_html
    from hiero.types import Tree

    trees = list(itertools.islice(read_jsonl(path, Tree), 200))
    if not trees:
        return ""
    # the first with right and wrong leaves among the first 200, else the first
    tree = next((t for t in trees if 0 < t.root.mc_score < 1), trees[0])
    page = render_html([tree], title=f"example tree {tree.problem.id}")
    return (f"<h2>One example tree</h2><p>An annotated problem with right and wrong solutions "
            f"({_e(ann.get('mode', ''))} annotation); "
            f"all trees: <code>hiero trees html {_e(path)}</code>.</p>"
            f'<iframe title="example tree" srcdoc="{html.escape(page, quote=True)}"></iframe>')


def _stages_section(r: dict) -> str:
    rows = [[_e(k), "cached" if v.get("_cached") else ("skipped" if isinstance(v.get("skipped"), str) else "ran"),
             _num(v.get("_time_s"), 1), _num(v.get("_peak_rss_mb"), 0)] for k, v in r["stages"].items()]
    return "<h2>Time and memory per stage</h2>" + _table(["stage", "status", "time (s)", "peak memory so far (MB)"], rows)


def _settings_section(r: dict) -> str:
    """Every stage's settings, folded away (closed until clicked): a long dump a reader rarely needs."""
    return ("<details class='settings'><summary>Settings (results.json → settings)</summary>"
            "<p class='note'>The stage settings of this size, as run.</p>"
            f"<pre>{_e(json.dumps(r.get('settings', {}), indent=1))}</pre></details>")


SECTIONS: list[Callable[[dict], str]] = [_header, _claims_section, _bon_section, _steps_section, _search_section,
                                         _selftrain_section, _po_section, _tree_section, _stages_section,
                                         _settings_section]


def render_html(results: dict) -> str:
    body = "".join(section(results) for section in SECTIONS)
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>hiero demo report</title>"
            f"<style>{CSS}</style></head><body>{body}</body></html>")

