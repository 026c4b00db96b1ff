"""The text output of ``predict``: one input's record, or a table of several."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd


def format_predictions(results: Sequence[dict[str, Any]]) -> str:
    """Human-readable table of a top-k list (:func:`predict`)."""
    lines = [f"{'rank':>4}  {'space group':<16}{'crystal system':<16}{'probability':>11}"]
    for r in results:
        sg = f"{r['spacegroup']:>3}  {r['symbol']}"
        lines.append(f"{r['rank']:>4}  {sg:<16}{r['crystal_system']:<16}{r['probability']:>11.3f}")
    return "\n".join(lines)


def verdict(rec: dict[str, Any]) -> str:
    """One line on whether the answer can be right: the spglib group, in the class set or not,
    its rank and probability."""
    sg = rec.get("spglib")
    if not sg:
        return "no reference label (pattern images): nothing to check the answer against"
    n = rec["model"]["n_classes"]
    head = f"spglib: {sg['spacegroup']} ({sg['symbol']}) at symprec {sg['symprec']:g} Å"
    if not rec["in_class_set"]:
        return (
            f"{head}; NOT one of the model's {n} classes: no prediction can be right "
            "(the nearest classes it knows are listed)"
        )
    k = len(rec["top_k"])
    where = f"rank {rec['true_rank']} of {n}, probability {rec['true_probability']:.3f}"
    flag = "" if rec["true_rank"] <= k else f"; not in the top {k}"
    return f"{head}; in the model's class set: {where}{flag}"


def decision_line(rec: dict[str, Any]) -> str:
    """ "undecided" with the candidates when the top probability is below --min-confidence,
    else the decided space group; then each symmetry level with its own probability."""
    d, top = rec.get("decision"), rec["top_k"][0]
    if d is None:
        return ""
    levels = ", ".join(
        f"{h['level'].replace('_', ' ')} {h['value']} ({h['probability']:.2f})"
        for h in rec["hierarchy"]
    )
    if d["decided"]:
        head = f"decided: {top['spacegroup']} {top['symbol']} (p = {top['probability']:.3f}"
        head += f" >= {d['min_confidence']:g})" if d["min_confidence"] else ")"
    else:
        cands = " ".join(f"{c['spacegroup']} ({c['probability']:.2f})" for c in d["candidates"])
        head = f"undecided: top probability {top['probability']:.3f} < {d['min_confidence']:g}; "
        head += f"candidates {cands}"
    return f"  {head}\n  levels: {levels}"


def format_record(rec: dict[str, Any]) -> str:
    """The text output of one input: header, verdict, decision and levels, top-k table."""
    m = rec["model"]
    sim = rec.get("simulation")
    how = f"; patterns: {sim['mode']} ({sim['description']})" if sim else ""
    lines = [
        f"{rec['input']}",
        f"  model {m['name']} ({m['arch']}, {m['input_mode']}, {m['n_classes']} classes), "
        f"xtalsym {rec['xtalsym_version']}{how}",
        f"  {verdict(rec)}",
    ]
    if decision_line(rec):
        lines.append(decision_line(rec))
    return "\n".join([*lines, format_predictions(rec["top_k"])])


def format_table(records: Sequence[dict[str, Any]]) -> str:
    """One row per input: file, spglib group, in class set, its rank and probability, the
    top-1 and its probability, the top-k list; failed inputs with their reason."""
    rows = []
    blank = ("in set", "rank", "p(true)", "top-1", "p(top-1)", "top-k")
    for r in records:
        if r["status"] != "ok":
            rows.append({"input": r["input"], "spglib": "failed", **dict.fromkeys(blank, "")})
            continue
        sg, top = r.get("spglib"), r["top_k"][0]
        rows.append(
            {
                "input": r["input"],
                "spglib": f"{sg['spacegroup']} {sg['symbol']}" if sg else "-",
                "in set": "-" if sg is None else ("yes" if r["in_class_set"] else "NO"),
                "rank": "-" if r["true_rank"] is None else str(r["true_rank"]),
                "p(true)": "-" if r["true_probability"] is None else f"{r['true_probability']:.3f}",
                "top-1": f"{top['spacegroup']} {top['symbol']}",
                "p(top-1)": f"{top['probability']:.3f}",
                "top-k": " ".join(str(t["spacegroup"]) for t in r["top_k"]),
            }
        )
    table = pd.DataFrame(rows)
    ok = [r for r in records if r["status"] == "ok"]
    first = (ok or records)[0]
    m, sim = first["model"], next((r["simulation"] for r in ok if r["simulation"]), None)
    foot = (
        f"model {m['name']} ({m['n_classes']} classes), xtalsym {first['xtalsym_version']}"
        + (f", patterns {sim['mode']} ({sim['description']})" if sim else "")
        + f"; {len(ok)} of {len(records)} input(s) classified"
        + ("" if len(ok) == len(records) else " (the reasons for the others on stderr)")
    )
    return table.to_string(index=False) + "\n" + foot
