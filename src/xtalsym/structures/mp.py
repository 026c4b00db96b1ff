"""The materials_project source: structures per space group through the official client.

The client (``mp-api``, the optional extra ``xtalsym[mp]``) is imported only when something
must be downloaded. The user's key comes from the environment variable ``MP_API_KEY``; it is
passed to the client and never logged or written (error messages are scrubbed of it).
Downloads are cached as JSON, one file per space group and query, under
``<out>/.mp_cache/``, so a rerun (even offline, without a key) reads the cache.

Labels come from spglib on the downloaded structure, never from the document's own
``symmetry`` field: a document queried for one group may be kept under another or dropped.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..io import config_hash, write_text
from .outcomes import Outcome, Skip
from .standard import check_cell, check_species, order_majority, structure_row

logger = logging.getLogger(__name__)

SOURCE = "materials_project"
CACHE_DIR = ".mp_cache"
KEY_ENV = "MP_API_KEY"
FIELDS = ("material_id", "formula_pretty", "structure", "symmetry")
PAGE = 1000  # documents per request


def build_queries(
    classes: Sequence[int], max_per_class: int | None, max_sites: int
) -> list[dict[str, Any]]:
    """Keyword arguments of ``MPRester().materials.summary.search`` for each space group.

    MP's ``nsites`` counts the primitive cell, at most the conventional one, so
    ``num_sites <= max_sites`` only pre-filters; the conventional-cell check comes later.
    """
    page = PAGE if max_per_class is None else min(PAGE, int(max_per_class))
    out = []
    for sg in sorted(int(c) for c in classes):
        q: dict[str, Any] = {
            "spacegroup_number": sg,
            "deprecated": False,
            "num_sites": (1, int(max_sites)),
            "fields": list(FIELDS),
            "all_fields": False,
            "chunk_size": page,
        }
        if max_per_class is not None:
            q["num_chunks"] = math.ceil(int(max_per_class) / page)
        out.append(q)
    return out


def api_key(env: Mapping[str, str] | None = None) -> str:
    """The user's Materials Project key; a clear error when it is not set."""
    key = (env if env is not None else os.environ).get(KEY_ENV, "").strip()
    if not key:
        raise RuntimeError(
            f"materials_project source: set the environment variable {KEY_ENV} to your "
            "Materials Project API key (https://next-gen.materialsproject.org/api), or remove "
            "materials_project from structures.sources"
        )
    return key


def make_client(key: str) -> Any:
    """An ``mp_api`` MPRester returning plain dicts; a clear error when it is not installed."""
    try:
        from mp_api.client import MPRester
    except ImportError as e:
        raise RuntimeError(
            "materials_project source: the Materials Project client is not installed; "
            "run `pip install 'xtalsym[mp]'` (mp-api)"
        ) from e
    return MPRester(api_key=key, use_document_model=False, mute_progress_bars=True)


def _plain(obj: Any) -> Any:
    """A JSON-ready copy of a client value (pydantic model, pymatgen object, enum, ...)."""
    if hasattr(obj, "model_dump"):
        obj = obj.model_dump()
    if hasattr(obj, "as_dict"):
        return obj.as_dict()
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, str | int | float | bool) or obj is None:
        return obj
    return str(getattr(obj, "value", obj))


def normalise_document(doc: Any) -> dict[str, Any]:
    """``material_id`` (str), ``formula_pretty``, ``structure`` (Structure dict), ``symmetry``."""
    d = doc if isinstance(doc, dict) else {f: getattr(doc, f, None) for f in FIELDS}
    return {
        "material_id": str(d.get("material_id")),
        "formula_pretty": d.get("formula_pretty"),
        "structure": _plain(d.get("structure")),
        "symmetry": _plain(d.get("symmetry")),
    }


def _cache_file(cache_dir: Path, query: dict[str, Any]) -> Path:
    return cache_dir / f"sg{query['spacegroup_number']:03d}-{config_hash(query)}.json"


def fetch_documents(
    queries: Sequence[dict[str, Any]],
    cache_dir: str | Path,
    client_factory: Callable[[str], Any] = make_client,
    env: Mapping[str, str] | None = None,
    max_per_class: int | None = None,
) -> list[dict[str, Any]]:
    """Documents for every query: from the cache, else downloaded (then cached).

    Raises RuntimeError with a clear message for a missing key, a missing client package or
    a failed download (network); the message never contains the key.
    """
    cache_dir = Path(cache_dir)
    docs: list[dict[str, Any]] = []
    client, key = None, ""
    for q in queries:
        path = _cache_file(cache_dir, q)
        if path.exists():
            docs += json.loads(path.read_text())
            continue
        if client is None:
            key = api_key(env)
            client = client_factory(key)
        sg = q["spacegroup_number"]
        try:
            got = client.materials.summary.search(**q)
        except Exception as e:
            msg = f"{type(e).__name__}: {e}".replace(key, "<MP_API_KEY>")
            raise RuntimeError(
                f"materials_project source: download for space group {sg} failed ({msg}); "
                "check the network connection and the key in MP_API_KEY"
            ) from None
        batch = [normalise_document(d) for d in got][:max_per_class]
        write_text(path, json.dumps(batch, sort_keys=True))
        logger.info("materials_project: space group %d: %d documents downloaded", sg, len(batch))
        docs += batch
    return docs


def document_row(
    doc: dict[str, Any],
    symprec: float,
    max_sites: int,
    classes: frozenset[int],
    setting: str = "ita",
) -> dict[str, Any]:
    """The artifact row of one normalised document; raises Skip."""
    from pymatgen.core import Structure

    if not isinstance(doc.get("structure"), dict):
        raise Skip("download_failed", "no structure in the document")
    try:
        s = Structure.from_dict(doc["structure"])
    except Exception as e:
        raise Skip("download_failed", f"{type(e).__name__}: {e}") from e
    check_species(s)
    if not s.is_ordered:
        s = order_majority(s)
    check_cell(s)
    return structure_row(
        s, doc["material_id"], SOURCE, symprec, max_sites=max_sites, classes=classes,
        setting=setting,
    )  # fmt: skip


def documents_to_rows(
    docs: Sequence[dict[str, Any]],
    symprec: float,
    max_sites: int,
    classes: Sequence[int],
    setting: str = "ita",
) -> tuple[list[dict[str, Any]], list[Outcome]]:
    """Rows (sorted by id, one per material) and outcomes for normalised documents."""
    cls = frozenset(int(c) for c in classes)
    rows, outcomes, seen = [], [], set()
    for doc in sorted(docs, key=lambda d: d["material_id"]):
        mid = doc["material_id"]
        if mid in seen:  # a material can only be returned under one group, but be safe
            continue
        seen.add(mid)
        try:
            rows.append(document_row(doc, symprec, max_sites, cls, setting))
            outcomes.append(Outcome(SOURCE, mid, "kept", "", mid))
        except Skip as e:
            outcomes.append(Outcome(SOURCE, mid, "skipped", e.reason))
    return rows, outcomes


def run_materials_project(
    sconf: dict[str, Any],
    classes: Sequence[int],
    out_dir: str | Path,
    client_factory: Callable[[str], Any] = make_client,
    env: Mapping[str, str] | None = None,
) -> tuple[list[dict[str, Any]], list[Outcome]]:
    """The materials_project source for ``structures`` config ``sconf``: rows and outcomes."""
    mp = sconf["materials_project"]
    queries = build_queries(classes, mp["max_per_class"], sconf["max_sites"])
    docs = fetch_documents(
        queries, Path(out_dir) / CACHE_DIR, client_factory, env, mp["max_per_class"]
    )
    return documents_to_rows(
        docs, float(sconf["symprec"]), int(sconf["max_sites"]), classes, str(sconf["setting"])
    )
