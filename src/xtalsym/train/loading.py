"""Each epoch's images of a split: held in memory when they fit the RAM budget, else streamed.

Streaming reads HDF5 chunk-aligned blocks in a random order, a window of blocks at a time, in
DataLoader workers, and shuffles within the window: never one small random read per sample.
With an uncompressed training copy (:mod:`.rawcopy`) an in-memory split is a memory map of it
(no up-front load; processes share the page cache) and streaming reads its byte ranges without
decoding; on CUDA a split that fits in half the free GPU memory is moved there once
(:meth:`InMemoryImages.resident`), so a batch is a gather on the GPU.
An epoch's order (and, for ``split.imbalance: sampler``, which crystals are drawn) is a pure
function of a seeded numpy Generator, so a resumed run replays exactly what an uninterrupted
run would have done.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass

import h5py
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from .data import ImageFile, SplitRows

logger = logging.getLogger(__name__)

# Target size of one HDF5 read (bytes): large enough to amortise per-call overhead.
_BLOCK_BYTES = 4 << 20
# Fewest blocks a streaming window should mix (shuffle quality).
_BLOCKS_PER_WINDOW = 16
# Share of the free GPU memory the images may take when made resident (the rest: the model,
# activations, the allocator's slack).
_GPU_RESIDENT_FRACTION = 0.5


# ---------------------------------------------------------------- epoch plans (the "sampler")


def draw_counts(
    labels: np.ndarray, rng: np.random.Generator, class_probs: np.ndarray | None
) -> np.ndarray:
    """Times each crystal is drawn this epoch: once each, or (balanced sampler) a multinomial
    draw of len(labels) crystals with probability proportional to ``class_probs[label]``,
    i.e. sampling with replacement as torch's WeightedRandomSampler does."""
    n = len(labels)
    if class_probs is None:
        return np.ones(n, dtype=np.int64)
    p = class_probs[labels].astype(np.float64)
    return rng.multinomial(n, p / p.sum())


@dataclass(frozen=True)
class Window:
    """A set of HDF5 row ranges read together and the draws taken from them, in order."""

    blocks: tuple[tuple[int, int], ...]  # (start, stop) file rows, chunk-aligned
    positions: np.ndarray  # indices into the split's rows, in draw order
    variants: np.ndarray  # variant of each draw


def plan_windows(
    split: SplitRows,
    block_rows: int,
    window_rows: int,
    n_variants: int,
    rng: np.random.Generator | None,
    class_probs: np.ndarray | None = None,
) -> list[Window]:
    """One epoch's read plan. With ``rng``: blocks in random order, draws shuffled within each
    window, random variants. Without: file order, each crystal once, variant 0 (evaluation)."""
    block_of = split.rows // block_rows
    counts = (
        draw_counts(split.labels, rng, class_probs)
        if rng is not None
        else np.ones(len(split), np.int64)
    )
    keep = counts > 0
    blocks = np.unique(block_of[keep])
    if rng is not None:
        blocks = rng.permutation(blocks)
    per_window = max(1, window_rows // block_rows)
    windows = []
    for w in range(0, len(blocks), per_window):
        chosen = blocks[w : w + per_window]
        sel = np.flatnonzero(np.isin(block_of, chosen) & keep)
        positions = np.repeat(sel, counts[sel])
        if rng is not None:
            positions = rng.permutation(positions)
            variants = rng.integers(0, n_variants, size=len(positions))
        else:
            variants = np.zeros(len(positions), dtype=np.int64)
        spans = tuple((int(b) * block_rows, int(b + 1) * block_rows) for b in np.sort(chosen))
        windows.append(Window(spans, positions, variants))
    return windows


# ---------------------------------------------------------------------------- batch sources


def slab_rows(image_file: ImageFile) -> int:
    """Rows of one sequential read: chunk-aligned, about 64 MB."""
    chunk = image_file.chunk_rows
    return max(chunk, (_BLOCK_BYTES * 16 // max(1, image_file.row_bytes)) // chunk * chunk)


def read_rows(image_file: ImageFile, requests: list[tuple[np.ndarray, int]]) -> list[np.ndarray]:
    """Arrays (len(rows), n_variants, 3, C, S, S) for each (ascending rows, n_variants) request,
    filled in one pass over the file in contiguous chunk-aligned slabs of about 64 MB."""
    out = [np.empty((len(r), v, *image_file.shape[2:]), np.uint8) for r, v in requests]
    n = image_file.shape[0]
    step = slab_rows(image_file)
    with h5py.File(image_file.path, "r") as h5:
        ds = h5["images"]
        for start in range(0, n, step):
            stop = min(start + step, n)
            spans = [np.searchsorted(r, [start, stop]) for r, _ in requests]
            if all(hi == lo for lo, hi in spans):
                continue
            slab = ds[start:stop, : max(v for _, v in requests)]
            for (rows, v), (lo, hi), arr in zip(requests, spans, out, strict=True):
                arr[lo:hi] = slab[rows[lo:hi] - start, :v]
    return out


class InMemoryImages:
    """A split's images addressable in memory, (rows, n_variants, 3, C, S, S) uint8: an array
    of the split's rows in RAM, a memory map of the whole raw copy (``file_rows``: where the
    split's rows are in it), or a torch tensor on the compute device (:meth:`resident`)."""

    def __init__(
        self,
        split: SplitRows,
        data: np.ndarray | torch.Tensor,
        file_rows: np.ndarray | None = None,
    ) -> None:
        self.split, self.data = split, data
        self.index = np.arange(len(split)) if file_rows is None else np.asarray(file_rows)

    def resident(self, device: torch.device, n_variants: int) -> InMemoryImages:
        """The split's rows (first ``n_variants``) copied into one tensor on ``device``, slab
        by slab (no host copy of the whole split on the way)."""
        shape = (len(self.index), n_variants, *self.data.shape[2:])
        out = torch.empty(shape, dtype=torch.uint8, device=device)
        step = max(1, (_BLOCK_BYTES * 16) // max(1, int(np.prod(shape[1:]))))
        for s in range(0, len(self.index), step):
            rows = self.index[s : s + step]
            slab = np.ascontiguousarray(self.data[rows][:, :n_variants])
            out[s : s + len(rows)] = torch.from_numpy(slab).to(device)
        return InMemoryImages(self.split, out)

    def batches(
        self, windows: list[Window], batch_size: int, part: tuple[int, int] = (0, 1)
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        rank, size = part
        positions = np.concatenate([w.positions for w in windows]) if windows else np.empty(0)
        variants = np.concatenate([w.variants for w in windows]) if windows else np.empty(0)
        positions, variants = positions.astype(np.int64), variants.astype(np.int64)
        on_device = isinstance(self.data, torch.Tensor)
        for s in range(0, len(positions), batch_size):
            # Only this rank's share of the global batch is gathered.
            p = positions[s : s + batch_size][rank::size]
            v = variants[s : s + batch_size][rank::size]
            rows = self.index[p]
            if on_device:
                dev = self.data.device
                x = self.data[torch.from_numpy(rows).to(dev), torch.from_numpy(v).to(dev)]
            else:  # a gather: a copy, also from a memory map
                x = torch.from_numpy(self.data[rows, v])
            yield x, torch.from_numpy(self.split.labels[p])


class _WindowDataset(Dataset):
    """Item k = window k of the current plan, read from HDF5 (runs in DataLoader workers)."""

    def __init__(self, image_file: ImageFile, split: SplitRows, windows: list[Window]) -> None:
        self.image_file, self.split, self.windows = image_file, split, windows
        self._h5: h5py.Dataset | np.ndarray | None = None
        self._pid = -1

    def __len__(self) -> int:
        return len(self.windows)

    def _dataset(self) -> h5py.Dataset | np.ndarray:
        # h5py handles must not cross a fork: open one per worker process.
        if self._h5 is None or self._pid != os.getpid():
            if self.image_file.raw is not None:
                self._h5 = np.load(self.image_file.raw, mmap_mode="r")
            else:
                self._h5 = h5py.File(self.image_file.path, "r")["images"]
            self._pid = os.getpid()
        return self._h5

    def __getitem__(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        w = self.windows[k]
        ds = self._dataset()
        n = self.image_file.shape[0]
        # Spans are ascending (plan_windows sorts them), so file rows are too.
        data = np.concatenate([ds[a : min(b, n)] for a, b in w.blocks])
        file_rows = np.concatenate([np.arange(a, min(b, n)) for a, b in w.blocks])
        local = np.searchsorted(file_rows, self.split.rows[w.positions])
        return (
            torch.from_numpy(np.ascontiguousarray(data[local, w.variants])),
            torch.from_numpy(self.split.labels[w.positions]),
        )


class StreamedImages:
    """A split streamed from HDF5 a window of chunk-aligned blocks at a time."""

    def __init__(
        self, image_file: ImageFile, split: SplitRows, workers: int, pin_memory: bool = False
    ) -> None:
        self.image_file, self.split, self.workers = image_file, split, workers
        self.pin_memory = pin_memory

    def batches(
        self, windows: list[Window], batch_size: int, part: tuple[int, int] = (0, 1)
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        rank, size = part
        loader = DataLoader(
            _WindowDataset(self.image_file, self.split, windows),
            batch_size=None,
            shuffle=False,
            num_workers=self.workers,
            prefetch_factor=1 if self.workers else None,
            pin_memory=self.pin_memory,  # CUDA: page-locked batches copy asynchronously
            # Workers draw no random numbers; a private generator keeps the global torch RNG
            # (dropout) untouched by iterator creation.
            generator=torch.Generator().manual_seed(0),
        )
        carry_x: list[torch.Tensor] = []
        carry_y: list[torch.Tensor] = []
        n_carry = 0
        for x, y in loader:
            carry_x.append(x)
            carry_y.append(y)
            n_carry += len(y)
            if n_carry < batch_size:
                continue
            xs, ys = torch.cat(carry_x), torch.cat(carry_y)
            full = (len(ys) // batch_size) * batch_size
            for s in range(0, full, batch_size):
                yield xs[s : s + batch_size][rank::size], ys[s : s + batch_size][rank::size]
            carry_x, carry_y, n_carry = [xs[full:]], [ys[full:]], len(ys) - full
        if n_carry:
            yield torch.cat(carry_x)[rank::size], torch.cat(carry_y)[rank::size]


@dataclass
class SplitData:
    """A split's batch source and the geometry needed to plan its epochs."""

    split: SplitRows
    source: InMemoryImages | StreamedImages
    block_rows: int
    window_rows: int
    n_variants: int

    @property
    def in_memory(self) -> bool:
        return isinstance(self.source, InMemoryImages)

    def plan(
        self, rng: np.random.Generator | None, class_probs: np.ndarray | None = None
    ) -> list[Window]:
        return plan_windows(
            self.split, self.block_rows, self.window_rows, self.n_variants, rng, class_probs
        )

    def batches(
        self, windows: list[Window], batch_size: int, part: tuple[int, int] = (0, 1)
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Batches of ``batch_size`` draws in plan order (the last one smaller); with
        ``part`` = (rank, size) each batch is cut to its every ``size``-th draw from
        ``rank`` (one batch per global batch, possibly empty: data-parallel training)."""
        return self.source.batches(windows, batch_size, part)


def load_splits(
    image_file: ImageFile,
    splits: dict[str, SplitRows],
    budget_bytes: int,
    workers: int,
    device: torch.device | None = None,
) -> dict[str, SplitData]:
    """Train (every variant) and val (variant 0) sources: in memory if both fit the budget
    together (mapped from ``image_file.raw`` when there is a raw copy; moved to ``device``
    when it is a GPU with room for them), else streamed with ``workers`` DataLoader workers."""
    v = image_file.n_variants
    per_variant = image_file.row_bytes // v
    need = len(splits["train"]) * v * per_variant + len(splits["val"]) * per_variant
    in_memory = need <= budget_bytes
    # Streaming keeps (workers + 2) windows alive: prefetched ones, the current one, the carry.
    window_bytes = budget_bytes // (workers + 2)
    chunk = image_file.chunk_rows
    window_rows = max(chunk, window_bytes // max(1, image_file.row_bytes))
    # Reads of about _BLOCK_BYTES, but at least _BLOCKS_PER_WINDOW blocks per window, so that
    # a window mixes crystals from all over the file.
    block_rows = chunk * max(
        1,
        min(
            _BLOCK_BYTES // max(1, chunk * image_file.row_bytes),
            window_rows // (_BLOCKS_PER_WINDOW * chunk),
        ),
    )
    logger.info(
        "images: %.2f GB needed for train+val, budget %.2f GB -> %s",
        need / 1e9,
        budget_bytes / 1e9,
        "in memory" if in_memory else f"streamed ({workers} workers, {window_rows} rows/window)",
    )
    # Training samples every variant; validation sees variant 0 only.
    n_variants = {"train": v, "val": 1}
    cuda = device is not None and device.type == "cuda"
    sources: dict[str, InMemoryImages | StreamedImages]
    if in_memory and image_file.raw is not None:
        mapped = np.load(image_file.raw, mmap_mode="r")
        sources = {k: InMemoryImages(splits[k], mapped, splits[k].rows) for k in n_variants}
    elif in_memory:
        arrays = read_rows(image_file, [(splits[k].rows, n_variants[k]) for k in n_variants])
        sources = {k: InMemoryImages(splits[k], a) for k, a in zip(n_variants, arrays, strict=True)}
    else:
        sources = {k: StreamedImages(image_file, splits[k], workers, cuda) for k in n_variants}
    if in_memory and cuda and need <= _GPU_RESIDENT_FRACTION * torch.cuda.mem_get_info(device)[0]:
        logger.info("images: %.2f GB resident on %s", need / 1e9, device)
        sources = {k: src.resident(device, n_variants[k]) for k, src in sources.items()}
    return {
        k: SplitData(splits[k], sources[k], block_rows, window_rows, n_variants[k])
        for k in n_variants
    }
