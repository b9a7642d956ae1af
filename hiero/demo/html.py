"""Formatting shared by the demo's Markdown and HTML reports: numbers, tables, images, and the small
Markdown subset the stage sections write, turned into HTML (`md_to_html`).

    >>> print(md_to_html(["## 5. HNC", "*ran; 0.1 s*", "", "4 trees, **2** merges in `trees.jsonl`.", ""])
    ...       .replace("><", ">\\n<"))
    <h2>5. HNC</h2>
    <p class="note">
    <i>ran; 0.1 s</i>
    </p>
    <p>4 trees, <b>2</b> merges in <code>trees.jsonl</code>.</p>
    >>> md_to_html(["| kind | rows |", "|---|---|", "| prm | 12 |", ""])
    '<table><tr><th class="t">kind</th><th>rows</th></tr><tr><td class="t">prm</td><td>12</td></tr></table>'
"""

from __future__ import annotations

import base64
import html
import io
import re

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}td,th{border:1px solid #ccc;padding:.25em .55em;
text-align:right}th{background:#f4f4f4}.t{text-align:left}
img{max-width:100%;border:1px solid #eee}code{background:#f4f4f4;padding:0 .2em}
.held{color:#1a7f37;font-weight:600}.failed{color:#b42318;font-weight:600}.open{color:#9a6700;font-weight:600}
iframe{width:100%;height:420px;border:1px solid #ddd}.note{color:#555;font-size:.9em}
details.settings{margin-top:2em;border-top:1px solid
#ddd;padding-top:.6em}details.settings>summary{cursor:pointer;
font-weight:600}
"""


def e(x) -> str:
    """HTML-escaped text."""
    return html.escape(str(x))


def pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def num(x, nd=3) -> str:
    return "n/a" if x is None else (f"{x:.{nd}f}" if isinstance(x, float) else str(x))


def md_table(header: list[str], rows: list[list]) -> list[str]:
    """A Markdown table (cells already formatted), then a blank line."""
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows] + [""])


def table(header: list[str], rows: list[list[str]], text_cols: tuple[int, ...] = (0,)) -> str:
    """An HTML table. Cells are HTML already (escape text with `e` first); `text_cols` are left-aligned,
    the others (numbers) right-aligned."""
    def cell(tag: str, i: int, c: str) -> str:
        return f'<{tag} class="t">{c}</{tag}>' if i in text_cols else f"<{tag}>{c}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(cell("td", i, c) for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def img(png: bytes, alt: str) -> str:
    """A PNG inline, as a data URI (the report loads nothing)."""
    return f'<img alt="{e(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend (imported on first use; Markdown needs none)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def fig_png(fig) -> bytes:
    plt = pyplot()
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


_INLINE = [(re.compile(r"\*\*(.+?)\*\*"), r"<b>\1</b>"), (re.compile(r"`([^`]+)`"), r"<code>\1</code>")]


def _inline(text: str) -> str:
    out = e(text)
    for pattern, repl in _INLINE:
        out = pattern.sub(repl, out)
    return out


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def md_to_html(lines: list[str]) -> str:
    """The Markdown the stage sections write, as HTML: `#`/`##`/`###` headings, a line in single `*` as a
    note, pipe tables (first column text), ``` blocks, paragraphs, `**bold**` and `code`."""
    out: list[str] = []
    para: list[str] = []
    i = 0

    def flush() -> None:
        if para:
            out.append("<p>" + " ".join(_inline(x.rstrip()) for x in para) + "</p>")
            para.clear()

    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            flush()
            j = next((k for k in range(i + 1, len(lines)) if lines[k].startswith("```")), len(lines))
            out.append("<pre>" + e("\n".join(lines[i + 1:j])) + "</pre>")
            i = j + 1
            continue
        if line.startswith("|") and i + 1 < len(lines) and lines[i + 1].startswith("|---"):
            flush()
            j = i + 2
            while j < len(lines) and lines[j].startswith("|"):
                j += 1
            out.append(table([_inline(c) for c in _cells(line)],
                             [[_inline(c) for c in _cells(x)] for x in lines[i + 2:j]]))
            i = j
            continue
        m = re.match(r"(#{1,3}) (.*)", line)
        if m:
            flush()
            level = len(m.group(1))
            out.append(f"<h{level}>{_inline(m.group(2))}</h{level}>")
        elif re.fullmatch(r"\*[^*].*[^*]\*", line.strip()):
            flush()
            out.append(f'<p class="note"><i>{_inline(line.strip()[1:-1])}</i></p>')
        elif not line.strip():
            flush()
        else:
            para.append(line)
        i += 1
    flush()
    return "".join(out)
