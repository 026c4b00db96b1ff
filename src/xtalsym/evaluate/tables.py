"""The report's tables: models side by side with the published figures, confusion rates
between close crystal systems, accuracy per crystal system, training summaries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..spacegroups import CRYSTAL_SYSTEMS

PAPER = (
    "L. C. O. Tiong, J. Kim, S. S. Han, D. Kim, npj Comput. Mater. 6, 196 (2020), arXiv:2005.12476"
)
PAPER_DATA = "108,658 ICSD crystals, 72 space groups, simulated noisy patterns (their split)"
#: The published figures quoted beside ours.
PUBLISHED_MSDN_TOP1 = 0.802
PUBLISHED = (
    {
        "model": "MSDN (published)",
        "role": "paper",
        "sg_top1": "80.2% (80.12 ± 0.09% over runs)",
        "gap": "",
        "data": PAPER_DATA,
    },
    {
        "model": "conventional CNNs (published)",
        "role": "paper",
        "sg_top1": "53-63% (17-27 points below MSDN)",
        "gap": "-17 to -27",
        "data": PAPER_DATA,
    },
)

ROLE_MSDN, ROLE_BASELINE, ROLE_ABLATION = "MSDN", "baseline CNN", "ablation: MSDN, unshaped"


def pct(v: Any) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "-"
    return f"{100 * float(v):.1f}%" if isinstance(v, int | float) else str(v)


def model_role(m: Mapping[str, Any], name: str) -> str:
    info = m.get("model", {})
    arch = info.get("arch", "msdn" if name.startswith("msdn") else name)
    mode = info.get("input_mode", "unshaped" if "unshaped" in name else "shaped")
    if arch not in ("msdn", "msdn_set"):
        return ROLE_BASELINE
    return ROLE_MSDN if mode == "shaped" else ROLE_ABLATION


def pick_msdn_and_baseline(
    metrics: Mapping[str, Mapping[str, Any]],
) -> tuple[str | None, str | None]:
    """The MSDN (shaped input; the best if several) and the best baseline CNN by top-1.

    Without a CNN baseline, the best other model (e.g. the unshaped ablation) stands in.
    """

    def best(names: list[str]) -> str | None:
        return max(names, key=lambda n: metrics[n]["sg_top1"]) if names else None

    roles = {n: model_role(m, n) for n, m in metrics.items()}
    msdn = best([n for n, r in roles.items() if r == ROLE_MSDN])
    base = best([n for n, r in roles.items() if r == ROLE_BASELINE])
    if base is None:
        base = best([n for n in metrics if n != msdn])
    return msdn, base


def data_description(m: Mapping[str, Any], sources: str) -> str:
    """Where one model's metrics were measured: the pipeline's test split or a user directory."""
    data = m.get("data", {})
    if "structures_dir" in data:
        return f"structure files in {data['structures_dir']}, n = {m['n']}"
    where = f"{data.get('split', 'test')} split (variant {data.get('variant', 0)}), n = {m['n']}"
    return f"{where}; of {sources}" if sources else where


def comparison_table(metrics: Mapping[str, Mapping[str, Any]], sources: str = "") -> pd.DataFrame:
    """Every model side by side with the published figures and the data each was measured on.

    ``sources``: a summary of the structures the split was drawn from (:func:`source_summary`).
    """
    msdn, _ = pick_msdn_and_baseline(metrics)
    ref = metrics[msdn]["sg_top1"] if msdn else None
    rows = []
    for name, m in metrics.items():
        info = m.get("model", {})
        rows.append(
            {
                "model": name,
                "role": model_role(m, name),
                "arch": info.get("arch", "-"),
                "input": info.get("input_mode", "-"),
                "sg_top1": pct(m["sg_top1"]),
                "sg_top5": pct(m["sg_top5"]),
                "balanced": pct(m["sg_balanced_accuracy"]),
                "macro_F1": pct(m["sg_macro_f1"]),
                "cs_accuracy": pct(m["cs_accuracy"]),
                "gap": "" if ref is None or name == msdn else f"{100 * (m['sg_top1'] - ref):+.1f}",
                "data": data_description(m, sources),
            }
        )
    for p in PUBLISHED:
        rows.append({**{k: "-" for k in rows[0]}, **p})
    df = pd.DataFrame(rows)
    return df.rename(
        columns={
            "sg_top1": "SG top-1",
            "sg_top5": "SG top-5",
            "balanced": "SG balanced acc.",
            "macro_F1": "SG macro F1",
            "cs_accuracy": "crystal-system acc.",
            "gap": "top-1 vs MSDN (points)",
        }
    )


RATE_KEYS = (
    ("confusion_mono_ortho", "mono <-> ortho"),
    ("monoclinic->orthorhombic", "mono -> ortho"),
    ("orthorhombic->monoclinic", "ortho -> mono"),
    ("confusion_trig_hex", "trig <-> hex"),
    ("trigonal->hexagonal", "trig -> hex"),
    ("hexagonal->trigonal", "hex -> trig"),
)


def confusion_rates_table(metrics: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Confusion rates between the paper's close systems, per model, then MSDN vs baseline."""
    rows = [
        {"model": n, "role": model_role(m, n), **{lab: pct(m.get(k)) for k, lab in RATE_KEYS}}
        for n, m in metrics.items()
    ]
    msdn, base = pick_msdn_and_baseline(metrics)
    if msdn and base:
        diff = {}
        for k, lab in RATE_KEYS:
            a, b = metrics[msdn].get(k), metrics[base].get(k)
            diff[lab] = "-" if a is None or b is None else f"{100 * (a - b):+.1f} points"
        rows.append({"model": f"{msdn} minus {base}", "role": "MSDN vs best baseline", **diff})
    return pd.DataFrame(rows)


def per_system_table(metrics: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    rows = []
    for n, m in metrics.items():
        per = m.get("cs_per_system", {})
        rows.append(
            {
                "model": n,
                **{s: pct(per[s]["accuracy"]) if s in per else "-" for s in CRYSTAL_SYSTEMS},
            }
        )
    first = next(iter(metrics.values()))
    per = first.get("cs_per_system", {})
    rows.append(
        {"model": "n (test)", **{s: str(per[s]["n"]) if s in per else "0" for s in CRYSTAL_SYSTEMS}}
    )
    return pd.DataFrame(rows)


def training_table(histories: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    rows = []
    for n, h in histories.items():
        best = h.loc[h["val_acc"].idxmax()] if "val_acc" in h and len(h) else None
        rows.append(
            {
                "model": n,
                "epochs": len(h),
                "best epoch": int(best["epoch"]) if best is not None else "-",
                "best val acc.": pct(best["val_acc"]) if best is not None else "-",
                "final train acc.": pct(h["train_acc"].iloc[-1])
                if "train_acc" in h and len(h)
                else "-",
                "time (min)": f"{h['seconds'].sum() / 60:.1f}" if "seconds" in h else "-",
            }
        )
    return pd.DataFrame(rows)


# ------------------------------------------------------- uncertainty (95 % Wilson intervals)

INTERVAL_NOTE = (
    "Brackets: 95% Wilson intervals over the n test crystals; a difference marked "
    '"within noise" is smaller than 1.96 standard errors of a difference of two fractions of '
    "these sizes (for two models on the same crystals this is conservative). Balanced "
    "accuracy and macro F1 are means over classes and carry no binomial interval."
)


def add_intervals(table: pd.DataFrame, metrics: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """:func:`comparison_table` with 95 % Wilson intervals on space-group top-1, top-5 and
    crystal-system accuracy of every model, and its top-1 gap to MSDN labelled when it is
    within noise (:func:`xtalsym.evaluate.stats.difference_text`)."""
    from .stats import difference_text, with_interval

    out = table.copy()
    msdn, _ = pick_msdn_and_baseline(metrics)
    for i, (name, m) in enumerate(metrics.items()):
        n = int(m["n"])
        for col, key in (
            ("SG top-1", "sg_top1"),
            ("SG top-5", "sg_top5"),
            ("crystal-system acc.", "cs_accuracy"),
        ):
            if m.get(key) is not None:
                out.loc[i, col] = with_interval(m[key], n)
        if msdn and name != msdn:
            ref = metrics[msdn]
            out.loc[i, "top-1 vs MSDN (points)"] = difference_text(
                m["sg_top1"], n, ref["sg_top1"], int(ref["n"])
            )
    return out


def per_system_table_ci(metrics: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """:func:`per_system_table` with a 95 % Wilson interval on every accuracy."""
    from .stats import with_interval

    rows = []
    for n, m in metrics.items():
        per = m.get("cs_per_system", {})
        rows.append(
            {
                "model": n,
                **{
                    s: with_interval(per[s]["accuracy"], per[s]["n"]) if s in per else "-"
                    for s in CRYSTAL_SYSTEMS
                },
            }
        )
    tail = per_system_table(metrics).iloc[[-1]]  # the "n (test)" row
    return pd.concat([pd.DataFrame(rows), tail], ignore_index=True)


def _rate_support(m: Mapping[str, Any], key: str) -> int:
    """Crystals a confusion rate is measured over (RATE_KEYS): both systems, or the source."""
    per = m.get("cs_per_system", {})
    n_of = lambda s: int(per.get(s, {}).get("n", 0))  # noqa: E731
    if key == "confusion_mono_ortho":
        return n_of("monoclinic") + n_of("orthorhombic")
    if key == "confusion_trig_hex":
        return n_of("trigonal") + n_of("hexagonal")
    return n_of(key.split("->")[0])


def confusion_rates_table_ci(metrics: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """:func:`confusion_rates_table` with 95 % Wilson intervals on the rates and the MSDN minus
    baseline row labelled where the difference is within noise."""
    from .stats import difference_text, with_interval

    out = confusion_rates_table(metrics)
    for i, (_, m) in enumerate(metrics.items()):
        for k, lab in RATE_KEYS:
            if m.get(k) is not None:
                out.loc[i, lab] = with_interval(m[k], _rate_support(m, k))
    msdn, base = pick_msdn_and_baseline(metrics)
    if msdn and base:
        a, b = metrics[msdn], metrics[base]
        for k, lab in RATE_KEYS:
            if a.get(k) is not None and b.get(k) is not None:
                out.loc[len(metrics), lab] = difference_text(
                    a[k], _rate_support(a, k), b[k], _rate_support(b, k)
                )
    return out
