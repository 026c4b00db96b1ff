"""XRD-Edge: the authors' shaping of a spot pattern into an edge image, vectorised.

A faithful re-implementation of ``Shaped_DP.py`` of Tiong et al. (2020) as described step by
step in ``testdata/authors-samples/README.md``; on their nine samples it is bit-identical to
their script. For a raw pattern P (H x W, the direct beam near the centre):

1. zero the central-beam box (rows and columns 116-137 at 256 px);
2. normalise so the brightest pixel outside the box becomes 256, put the raw box back: S;
3. spot pixels: S >= 50 (every pixel, not grouped into spots);
4. distances of all ordered pairs of spot pixels; the reference is the smallest one >= 10 px;
5. join pairs no farther apart than 1.7 x the reference (all pairs if at most 100 distances
   were collected);
6. draw the lines (value 255) on a copy of S with ``numpy.linspace`` sampling;
7. overlay: pixels with S > 5 show S again; 8-9. cast to uint8 as C does (256 wraps to 0).

Five quirks of their script are kept by default and can each be switched off
(:class:`ShapingOptions`); all of them off is the "clean" variant for ablations.

Hot paths never loop over pixels or pairs: pair matrices are built per image by broadcasting
over its spot-pixel coordinates (tens to hundreds), and every line of a batch is rasterised in
one vectorised pass.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

#: The authors' image size; pixel constants below are theirs at this size and scale with H.
REF_SIZE = 256
#: Their central-beam box at 256 px: rows and columns 116..137 (22 px, not centred on 128).
BOX_START, BOX_SIZE = 116, 22
#: Pair-matrix entries built at once for one image (memory guard for patterns with thousands
#: of spot pixels; typical patterns have ~10^4 pairs).
PAIR_BLOCK = 1 << 20
#: Joined pairs held before their lines are drawn (memory guard).
LINE_FLUSH = 1 << 17
#: Spot pixels per image above which a warning is logged (the pair stage is O(n^2)).
MANY_SPOT_PIXELS = 5000
#: Line samples rasterised at once: keeps the float64 temporaries in cache (~256 kB each).
POINT_BLOCK = 1 << 15
#: Images shaped at once inside shape_batch (float32 temporaries of ~4 MB at 256 px).
IMAGE_BLOCK = 16


@dataclasses.dataclass(frozen=True)
class ShapingOptions:
    """Switches for the authors' quirks (all True = faithful) and their constants.

    Quirks (README of the authors' samples, steps 4-9):

    - ``skip_shared_row_col``: pairs of spot pixels in the same row or column are never
      measured nor joined (their ``i != m and j != n``). Off: every distinct pair counts.
    - ``quirky_distance``: the reference distance is d' = sqrt(dr^2 + dc^2 - 2) instead of the
      Euclidean one (the join test always uses the Euclidean distance, as theirs does).
    - ``all_pairs_rule``: when at most ``all_pairs_max`` distances >= ``min_distance`` were
      collected, join every pair whatever its length. Off: always the 1.7 x reference rule
      (no lines when no distance was collected).
    - ``line_gap``: lines sample k = max(|dr|, |dc|) points, which skips one pixel near the
      middle (their ``linspace(..., nPoints - 1)``). Off: k + 1 points, a gap-free line.
    - ``wrap_256``: the uint8 cast wraps 256 to 0, so the brightest spots outside the box turn
      black. Off: saturate at 255.

    Constants (theirs; pixel lengths are at 256 px and scale with the image size):
    ``spot_threshold`` (normalised level), ``min_distance`` (px), ``tolerance`` (x reference),
    ``all_pairs_max`` (count of ordered-pair distances), ``overlay_threshold`` (normalised
    level), ``line_value`` (8-bit level), ``peak`` (level of the brightest pixel after
    normalisation).
    """

    skip_shared_row_col: bool = True
    quirky_distance: bool = True
    all_pairs_rule: bool = True
    line_gap: bool = True
    wrap_256: bool = True
    spot_threshold: float = 50.0
    min_distance: float = 10.0
    tolerance: float = 1.7
    all_pairs_max: int = 100
    overlay_threshold: float = 5.0
    line_value: float = 255.0
    peak: float = 256.0
    #: Not theirs: an image with more spot pixels than this fraction of its area gets no
    #: lines. When no spot rises above the background outside the box, normalisation lifts
    #: the background itself over the threshold, every pixel becomes a "spot" and their
    #: O(n^2) pair loop would join millions of pairs (minutes per image, a noise texture as
    #: the result); real spot patterns stay below ~3 %. None: no limit, as theirs.
    max_spot_fraction: float | None = 0.1

    QUIRKS = (
        "skip_shared_row_col",
        "quirky_distance",
        "all_pairs_rule",
        "line_gap",
        "wrap_256",
    )

    @classmethod
    def from_config(cls, quirks: Mapping[str, Any] | None = None) -> ShapingOptions:
        """Options from the config's ``shaping.quirks`` mapping (missing keys: faithful)."""
        quirks = dict(quirks or {})
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(quirks) - fields)
        if unknown:
            raise ValueError(f"shaping.quirks: unknown key(s) {', '.join(unknown)}")
        return cls(**quirks)

    @classmethod
    def clean(cls) -> ShapingOptions:
        """Every quirk switched off: the cleaner variant, for ablations."""
        return cls(**{q: False for q in cls.QUIRKS})

    def quirks(self) -> dict[str, bool]:
        return {q: getattr(self, q) for q in self.QUIRKS}


def central_box(size: int) -> slice:
    """Rows (and columns) of the central-beam box for an image of ``size`` px.

    Theirs at 256 px; at other sizes the same fractions of the image (rounded).
    """
    if size == REF_SIZE:
        return slice(BOX_START, BOX_START + BOX_SIZE)
    start = round(BOX_START * size / REF_SIZE)
    return slice(start, start + max(1, round(BOX_SIZE * size / REF_SIZE)))


def _as_batch(patterns: np.ndarray) -> np.ndarray:
    a = np.asarray(patterns)
    if a.ndim != 3 or a.shape[1] < 2 or a.shape[2] < 2:
        raise ValueError(f"patterns must be (N, H, W) images, got shape {a.shape}")
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise ValueError(f"patterns must be integer or float images, got {a.dtype}")
    return a


def c_cast_uint8(x: np.ndarray, wrap: bool = True) -> np.ndarray:
    """float -> uint8 as the authors' cast: drop the fraction; 256 wraps to 0 (or saturates).

    Negative values (not produced by the algorithm) become 0.
    """
    x = np.asarray(x)
    if x.size and (x.min() < 0 or x.max() >= 65536):
        x = np.clip(x, 0, 65535)
    if wrap:
        # float -> uint16 truncates; uint16 -> uint8 keeps the low byte, so 256 -> 0.
        return x.astype(np.uint16).astype(np.uint8)
    return np.minimum(x, 255).astype(np.uint8)


def normalise_batch(patterns: np.ndarray, opts: ShapingOptions | None = None) -> np.ndarray:
    """Steps 1-2 for a batch: the normalised pattern S, float32 (N, H, W).

    The brightest pixel outside the central box becomes ``opts.peak`` (256), computed in
    float32 in their order ((P / max) * 256); the box keeps its raw values. An image that is
    all zero outside the box is returned raw, as theirs does.
    """
    return _normalise(_as_batch(patterns), opts or ShapingOptions())[0]


def _normalise(p: np.ndarray, opts: ShapingOptions) -> tuple[np.ndarray, np.ndarray]:
    """S (float32) and whether each image has anything non-zero outside the box."""
    s = p.astype(np.float32)
    h, w = s.shape[1:]
    rb, cb = central_box(h), central_box(w)
    box = s[:, rb, cb].copy()
    s[:, rb, cb] = 0
    m = s.max(axis=(1, 2))
    live = m != 0
    # In place, in their float32 operation order, so the result is bit-identical.
    s /= np.where(live, m, np.float32(1))[:, None, None]
    s *= np.float32(opts.peak)
    # An image with nothing outside the box is now its raw self, as theirs returns it.
    s[:, rb, cb] = box
    return s, live


def _pair_block(
    r: np.ndarray, c: np.ndarray, a0: int, a1: int, opts: ShapingOptions, min_d: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pair quantities for first indices a0..a1 against every spot pixel of the image."""
    dr = r[a0:a1, None] - r[None, :]
    dc = c[a0:a1, None] - c[None, :]
    q = dr * dr + dc * dc
    valid = (dr != 0) & (dc != 0) if opts.skip_shared_row_col else q != 0
    dq = q - 2 if opts.quirky_distance else q
    # Their d' is a float64 sqrt compared with 10.0; pairs with dq < 0 (possible only without
    # the row/column skip) are below any threshold.
    d = np.sqrt(np.maximum(dq, 0).astype(np.float64))
    collected = valid & (dq >= 0) & (d >= min_d)
    return q, valid, d, collected


def join_pairs(
    r: np.ndarray, c: np.ndarray, opts: ShapingOptions | None = None, size: int = REF_SIZE
) -> np.ndarray:
    """Steps 4-5 for one image: the ordered spot-pixel pairs to join, (P, 2) indices.

    ``r``, ``c``: row and column (px) of each spot pixel of a ``size`` px image. Every
    unordered pair appears in both orders, as in their double loop.
    """
    opts = opts or ShapingOptions()
    r, c = np.asarray(r, np.int64), np.asarray(c, np.int64)
    blocks = list(_joined_pairs(r, c, opts, opts.min_distance * size / REF_SIZE))
    return np.concatenate(blocks) if blocks else np.zeros((0, 2), np.int64)


def _joined_pairs(
    r: np.ndarray, c: np.ndarray, opts: ShapingOptions, min_d: float
) -> Iterator[np.ndarray]:
    """Yield the joined ordered pairs (P, 2) in blocks of bounded size.

    Two passes over the pair matrix, built ``PAIR_BLOCK`` entries at a time (one block for
    any ordinary pattern, so it is built once): the count and minimum of the collected
    distances, then the pairs within the limit.
    """
    n = len(r)
    if n < 2:
        return
    rows = max(1, PAIR_BLOCK // n)
    blocks = [(a0, min(n, a0 + rows)) for a0 in range(0, n, rows)]
    cached = None
    count, dmin = 0, np.inf
    for a0, a1 in blocks:
        q, valid, d, collected = _pair_block(r, c, a0, a1, opts, min_d)
        count += int(collected.sum())
        if collected.any():
            dmin = min(dmin, float(d[collected].min()))
        if len(blocks) == 1:
            cached = (q, valid)
    if opts.all_pairs_rule and count <= opts.all_pairs_max:
        limit = np.inf
    elif count == 0:
        return
    else:
        limit = opts.tolerance * dmin
    for a0, a1 in blocks:
        q, valid = cached if cached is not None else _pair_block(r, c, a0, a1, opts, min_d)[:2]
        join = valid if limit == np.inf else valid & (np.sqrt(q.astype(np.float64)) <= limit)
        a, b = np.nonzero(join)
        if len(a):
            yield np.stack([a + a0, b], axis=1)


def _line_samples(
    r0: np.ndarray, c0: np.ndarray, r1: np.ndarray, c1: np.ndarray, gap: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Samples of many lines at once: counts per line, rows and columns (px, float64).

    Each coordinate is ``round(linspace(a, b, num))`` bit-identical to numpy's: numpy computes
    ``t * ((b - a) / (num - 1)) + a`` in float64, sets the last sample to ``b`` (a single
    sample is ``a``) and rounds half to even.
    """
    k = np.maximum(np.abs(r1 - r0), np.abs(c1 - c0))
    num = np.maximum(k if gap else k + 1, 1)
    div = num - 1
    ends = np.cumsum(num) - 1
    t = np.arange(ends[-1] + 1 if len(num) else 0, dtype=np.float64)
    t -= np.repeat((ends - div).astype(np.float64), num)
    multi = div > 0
    div_f = np.where(multi, div, 1).astype(np.float64)
    out = []
    for a, b in ((r0, r1), (c0, c1)):
        y = np.repeat((b - a) / div_f, num)
        y *= t
        y += np.repeat(a.astype(np.float64), num)
        y[ends[multi]] = b[multi]
        out.append(np.rint(y, out=y))
    return num, out[0], out[1]


def rasterise_lines(
    r0: np.ndarray, c0: np.ndarray, r1: np.ndarray, c1: np.ndarray, gap: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixels of the lines (r0, c0) -> (r1, c1) drawn the authors' way (step 6).

    Returns ``(line, rows, cols)``: for each sampled pixel, the index of its line and its
    position (px). With ``gap`` a line has k = max(|dr|, |dc|) samples, so one pixel near the
    middle is skipped (k = 1 draws the start only); without, k + 1 samples. The two directions
    of a line round differently in rare float ties, which is why pairs are drawn both ways.
    """
    r0, c0, r1, c1 = (np.asarray(a, np.int64) for a in (r0, c0, r1, c1))
    num, rows, cols = _line_samples(r0, c0, r1, c1, gap)
    line = np.repeat(np.arange(len(num)), num)
    return line, rows.astype(np.int64), cols.astype(np.int64)


def _spot_pixels(s: np.ndarray, opts: ShapingOptions) -> list[tuple[np.ndarray, np.ndarray]]:
    """Spot-pixel coordinates (px) of each image of a batch, in row-major order."""
    n, h, w = s.shape
    flat = np.flatnonzero(s >= np.float32(opts.spot_threshold))
    bounds = np.searchsorted(flat, np.arange(n + 1) * (h * w))
    rc = np.divmod(flat - np.repeat(np.arange(n) * (h * w), np.diff(bounds)), w)
    return [(rc[0][a:b], rc[1][a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def shape_batch(
    patterns: np.ndarray, opts: ShapingOptions | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Shape a batch of patterns: the edge images E and normalised patterns S.

    ``patterns``: (N, H, W) uint8 (or float, 8-bit scale). Returns ``(E, S)``, each (N, H, W)
    uint8 after the authors' cast: E is the axis channel of their RGB image, S the other two.
    Loops over images (pair matrices differ in size), never over pixels or pairs.
    """
    opts = opts or ShapingOptions()
    p = _as_batch(patterns)
    e8 = np.empty(p.shape, np.uint8)
    s8 = np.empty(p.shape, np.uint8)
    # Small blocks keep the float temporaries in cache (several times faster than one pass).
    for a in range(0, len(p), IMAGE_BLOCK):
        e8[a : a + IMAGE_BLOCK], s8[a : a + IMAGE_BLOCK] = _shape_block(
            p[a : a + IMAGE_BLOCK], opts
        )
    return e8, s8


def _shape_block(p: np.ndarray, opts: ShapingOptions) -> tuple[np.ndarray, np.ndarray]:
    n, h, w = p.shape
    s, live = _normalise(p, opts)
    min_d = opts.min_distance * max(h, w) / REF_SIZE
    s8 = c_cast_uint8(s, opts.wrap_256)
    e8 = s8.copy()
    dark_level = np.float32(opts.overlay_threshold)
    # Overlay (step 7): lines show only where S is (near) dark, so an image without a dark
    # pixel (e.g. a high background) needs no pairs at all: exact, and it avoids the n^2
    # cost of tens of thousands of "spot" pixels.
    has_dark = (s <= dark_level).any(axis=(1, 2))
    e_flat, s_flat = e8.reshape(-1), s.reshape(-1)
    line8 = c_cast_uint8(np.float32(opts.line_value), opts.wrap_256)

    def draw(lines: list) -> None:
        for pix in _line_pixels(lines, opts.line_gap, h, w):
            e_flat[pix[s_flat[pix] <= dark_level]] = line8

    lines, pending = [], 0
    for i, (r, c) in enumerate(_spot_pixels(s, opts)):
        if not (live[i] and has_dark[i]):
            continue  # nothing outside the box: theirs returns the raw pattern
        if opts.max_spot_fraction is not None and len(r) > opts.max_spot_fraction * h * w:
            logger.warning(
                "image with %d spot pixels (> %g of its area): background, not spots; no lines",
                len(r), opts.max_spot_fraction,
            )  # fmt: skip
            continue
        if len(r) > MANY_SPOT_PIXELS:
            logger.warning("image with %d spot pixels: O(n^2) pairs, slow", len(r))
        for pairs in _joined_pairs(r, c, opts, min_d):
            # A line starts at the inner-loop pixel (m, n) of their double loop.
            a, b = pairs[:, 0], pairs[:, 1]
            lines.append((i, r[b], c[b], r[a], c[a]))
            pending += len(pairs)
            if pending >= LINE_FLUSH:  # bounded memory whatever the number of pairs
                draw(lines)
                lines, pending = [], 0
    draw(lines)
    return e8, s8


def _line_pixels(lines: list, gap: bool, h: int, w: int):
    """Yield flat indices into the (N, H, W) block of every line sample, in cache-sized parts."""
    img = np.concatenate([np.full(len(line[1]), line[0], np.int64) for line in lines] or [[]])
    r0, c0, r1, c1 = (np.concatenate([line[j] for line in lines] or [[]]) for j in range(1, 5))
    k = np.maximum(np.abs(r1 - r0), np.abs(c1 - c0)) + 1
    # Cut the lines into parts of about POINT_BLOCK samples.
    cuts = np.searchsorted(np.cumsum(k), np.arange(POINT_BLOCK, k.sum(), POINT_BLOCK))
    bounds = [0, *np.unique(cuts).tolist(), len(k)]
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        if b > a:
            num, rows, cols = _line_samples(r0[a:b], c0[a:b], r1[a:b], c1[a:b], gap)
            rows *= w
            rows += cols
            rows += np.repeat((img[a:b] * (h * w)).astype(np.float64), num)
            yield rows.astype(np.intp)


def shape(pattern: np.ndarray, opts: ShapingOptions | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Shape one pattern (H, W): ``(E, S)`` uint8, the edge image and the normalised pattern."""
    pattern = np.asarray(pattern)
    if pattern.ndim != 2:
        raise ValueError(f"pattern must be one (H, W) image, got shape {pattern.shape}")
    e, s = shape_batch(pattern[None], opts)
    return e[0], s[0]


def unshaped_batch(patterns: np.ndarray, opts: ShapingOptions | None = None) -> np.ndarray:
    """The ablation input: the normalised pattern S (N, H, W) uint8, no lines."""
    opts = opts or ShapingOptions()
    return c_cast_uint8(_normalise(_as_batch(patterns), opts)[0], opts.wrap_256)
