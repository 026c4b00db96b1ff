"""A small document model (titled sections of text, tables, figures, code) rendered twice:
as a self-contained HTML page and as Markdown, so both report formats say the same thing."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass
class Section:
    """A titled list of blocks: ("text", str), ("table", DataFrame), ("figure", path, caption),
    ("code", str), ("details", summary, DataFrame), ("link", path, label)."""

    title: str
    blocks: list[tuple] = field(default_factory=list)


def md_table(df: pd.DataFrame) -> str:
    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    head = "| " + " | ".join(map(cell, df.columns)) + " |"
    rule = "|" + "---|" * len(df.columns)
    rows = ["| " + " | ".join(cell(v) for v in r) + " |" for r in df.itertuples(index=False)]
    return "\n".join([head, rule, *rows])


def render_markdown(title: str, intro: str, sections: list[Section]) -> str:
    out = [f"# {title}", "", intro, ""]
    for s in sections:
        out += [f"## {s.title}", ""]
        for b in s.blocks:
            kind = b[0]
            if kind == "text":
                out += [b[1], ""]
            elif kind == "table":
                out += [md_table(b[1]), ""]
            elif kind == "figure":
                out += [f"![{b[2]}]({b[1]})", "", f"*{b[2]}*", ""]
            elif kind == "code":
                out += ["```yaml", b[1].rstrip(), "```", ""]
            elif kind == "details":
                out += [f"**{b[1]}**", "", md_table(b[2]), ""]
            elif kind == "link":
                out += [f"[{b[2]}]({b[1]})", ""]
    return "\n".join(out)


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1150px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left}th{background:#f3f3f3}
tr:nth-child(even) td{background:#fafafa}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.9em;color:#555}pre{background:#f6f6f6;padding:.8em;overflow:auto;
font-size:.85em}.intro{color:#444}
"""


def render_html(title: str, intro: str, sections: list[Section]) -> str:
    e = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f'<p class="intro">{e(intro)}</p>',
        "<nav><ol>",
    ]
    out += [f'<li><a href="#s{i}">{e(s.title)}</a></li>' for i, s in enumerate(sections)]
    out.append("</ol></nav>")
    for i, s in enumerate(sections):
        out.append(f'<h2 id="s{i}">{e(s.title)}</h2>')
        for b in s.blocks:
            kind = b[0]
            if kind == "text":
                out.append(f"<p>{e(b[1])}</p>")
            elif kind == "table":
                out.append(b[1].to_html(index=False, border=0, escape=True, na_rep="-"))
            elif kind == "figure":
                out.append(
                    f'<figure><a href="{e(b[1])}"><img src="{e(b[1])}" alt="{e(b[2])}"></a>'
                    f"<figcaption>{e(b[2])}</figcaption></figure>"
                )
            elif kind == "code":
                out.append(f"<pre>{e(b[1])}</pre>")
            elif kind == "details":
                table = b[2].to_html(index=False, border=0, escape=True, na_rep="-")
                out.append(f"<details><summary>{e(b[1])}</summary>{table}</details>")
            elif kind == "link":
                out.append(f'<p><a href="{e(b[1])}">{e(b[2])}</a></p>')
    out.append("</body></html>")
    return "\n".join(out)
