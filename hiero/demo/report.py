"""The demo's reports: report.md and a self-contained report.html, from results.json.

    render_report(results) -> str (Markdown)        render_html(results) -> str (one HTML file)

Each stage's section comes from its record (`hiero.demo.records`: a stage renders its own section, in
Markdown and in HTML); the report adds only what spans the stages: a header, the papers' claims against
this run (HTML), time and memory per stage, and the settings. report.html loads nothing: CSS inline,
plots as PNG data URIs, the example tree as an <iframe srcdoc>, so it can be mailed or archived as is.
"""

from __future__ import annotations

import json

from hiero.demo.claims import claims
from hiero.demo.html import CSS, e, md_table, num, table
from hiero.demo.records import Run, sections


def _command(cfg: dict) -> str:
    variant = cfg.get("variant", "plain")
    recipe = cfg.get("recipe") or ""
    return (
        f"hiero demo --out {cfg['out']} --seed {cfg['seed']} --size {cfg['size']}"
        + ("" if variant == "plain" else f" --variant {variant}")
        + (f" --recipe {recipe}" if recipe else "")
    )


def render_report(results: dict) -> str:
    run = Run.of(results)
    cfg, m = results["config"], results["machine"]
    variant = cfg.get("variant", "plain")
    lines = [f"# hiero demo report ({cfg['size']}{'' if variant == 'plain' else ', ' + variant})", "",
             f"Command: `{_command(cfg)}`  ",
             f"Wall time {results['wall_time_s']:.1f} s (this run; cached stages cost ~0), peak memory "
             f"{results['peak_rss_mb']:.0f} MB; {m['cpus']} CPUs, torch {m['torch']}, CUDA {m['cuda']}.", ""]
    lines += md_table(
        ["stage", "status", "time (s)", "peak memory so far (MB)"],
        [[k, r.status, f"{r.time_s_stage:.1f}", f"{r.peak_rss_mb:.0f}"] for k, r in run.records.items()],
    )
    for rec in sections(run):
        lines += rec.markdown(run)
    return "\n".join(lines) + "\n"


def _claims_html(run: Run) -> str:
    rows = claims(run)
    if not rows:
        return ""
    label = {"held": "held", "failed": "did not hold", "open": "not settled by this run"}
    body = [
        [
            e(c["paper"]),
            e(c["claim"]),
            e(c["numbers"]),
            f'<span class="{c["verdict"]}">{label[c["verdict"]]}</span>',
        ]
        for c in rows
    ]
    return (
        "<h2>What held and what did not</h2><p class='note'>Each claim of the two papers, tested on this "
        "run. "
        "<b>held</b>: the difference has the claimed sign and the 95% intervals do not overlap (for "
        '"does not fall" and "matches or beats": the claimed sign, and no significant difference against '
        "it); <b>did not hold</b>: the opposite sign with disjoint intervals; otherwise not settled (more "
        "problems or seeds are needed: <code>--size full</code>).</p>"
        + table(["paper", "claim", "this run", "verdict"], body, text_cols=(0, 1, 2, 3))
    )


def render_html(results: dict) -> str:
    run = Run.of(results)
    cfg, m = results["config"], results["machine"]
    versions = ", ".join(f"{k} {e(v)}" for k, v in results["versions"].items())
    header = (
        f"<h1>hiero demo report ({e(cfg['size'])})</h1><p>Command: <code>{e(_command(cfg))}</code><br>"
        f"Seed {e(results['seed'])}; wall time {results['wall_time_s']:.1f} s (this run; cached stages cost "
        "~0); "
        f"peak memory {results['peak_rss_mb']:.0f} MB; {e(m['cpus'])} CPUs, {e(m['threads'])} threads, CUDA "
        f"{e(m['cuda'])}; {versions}.</p>"
    )
    sections_html = "".join(rec.html(run) for rec in sections(run))
    stages = "<h2>Time and memory per stage</h2>" + table(
        ["stage", "status", "time (s)", "peak memory so far (MB)"],
        [[e(k), r.status, num(r.time_s_stage, 1), num(r.peak_rss_mb, 0)] for k, r in run.records.items()])
    settings = ("<details class='settings'><summary>Settings (results.json → settings)</summary>"
                "<p class='note'>The stage settings of this recipe, as run.</p>"
                f"<pre>{e(json.dumps(results['settings'], indent=1))}</pre></details>")
    body = header + _claims_html(run) + sections_html + stages + settings
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>hiero demo report</title>"
            f"<style>{CSS}</style></head><body>{body}</body></html>")
