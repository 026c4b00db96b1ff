"""The train stage: input composition, loading modes, training, resume, the bundle."""

import json
import os
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from xtalsym import config
from xtalsym.io import image_dataset, stamp_attrs, write_ids
from xtalsym.train import compose_inputs, load_bundle, predict_proba, run_train
from xtalsym.train.data import open_image_file, read_split_rows
from xtalsym.train.loading import load_splits
from xtalsym.train.trainer import select_device

pytestmark = pytest.mark.usefixtures("one_torch_thread")


CLASSES = [2, 14, 62, 225]


def toy_images(n_per_class=16, size=16, channels=2, variants=1, seed=0):
    """Separable toy crystals: class k lights a bright 4 x 4 square at a class-specific place
    in every axis image (E and S), over weak uniform noise."""
    rng = np.random.default_rng(seed)
    n = n_per_class * len(CLASSES)
    labels = np.repeat(np.arange(len(CLASSES)), n_per_class)
    rng.shuffle(labels)
    img = rng.integers(0, 40, size=(n, variants, 3, channels, size, size), dtype=np.uint8)
    corners = [(1, 1), (1, size - 5), (size - 5, 1), (size - 5, size - 5)]
    for i, k in enumerate(labels):
        r, c = corners[k]
        img[i, :, :, :, r : r + 4, c : c + 4] = 230
    ids = [f"toy-{i:04d}" for i in range(n)]
    return img, ids, np.array(CLASSES)[labels]


def write_toy(tmp_path, mode="shaped", chunk_rows=4, **kw):
    """images.h5, split.csv (8:2:2 per class) and class_weights.csv in the contract format."""
    img, ids, sg = toy_images(channels=2 if mode == "shaped" else 1, **kw)
    h5_path = tmp_path / f"{mode}.h5"
    with h5py.File(h5_path, "w") as h5:
        ds = image_dataset(h5, "images", img.shape, chunk_rows=chunk_rows)
        ds[...] = img
        write_ids(h5, ids)
        h5.create_dataset("spacegroup", data=sg)
        stamp_attrs(h5, {"input_size": img.shape[-1]}, mode=mode)
    split = []
    for g in CLASSES:
        members = [i for i in range(len(ids)) if sg[i] == g]
        for j, i in enumerate(members):
            part = "val" if j % 6 == 4 else "test" if j % 6 == 5 else "train"
            split.append({"id": ids[i], "spacegroup": g, "family": ids[i], "split": part})
    split_path = tmp_path / "split.csv"
    pd.DataFrame(split).to_csv(split_path, index=False)
    weights_path = tmp_path / "class_weights.csv"
    pd.DataFrame({"spacegroup": CLASSES, "weight": [1.0] * len(CLASSES)}).to_csv(
        weights_path, index=False
    )
    return h5_path, split_path, weights_path


def tiny_cfg(arch="msdn", mode="shaped", epochs=4, **train):
    return config.validate(
        {
            "seed": 3,
            "classes": CLASSES,
            "split": {"imbalance": train.pop("imbalance", "class_weights")},
            "train": {
                "models": {"m": {"arch": arch, "input": mode}},
                "epochs": epochs,
                "batch_size": 8,
                "lr": 0.01,
                "patience": 50,
                "growth": 4,
                "blocks": [1, 1, 1],
                "stem": 8,
                "dropout": 0.1,
                "device": "cpu",
                "workers": 0,
                **train,
            },
        }
    )


def test_compose_inputs_shaped_and_unshaped():
    rng = np.random.default_rng(0)
    u8 = rng.integers(0, 256, size=(2, 3, 2, 5, 5), dtype=np.uint8)
    x = compose_inputs(u8, "msdn")
    assert x.shape == (2, 3, 3, 5, 5) and x.dtype == torch.float32
    for a in range(3):  # stream a: channel a is E (0), the other two S (1), / 255
        for c in range(3):
            src = 0 if c == a else 1
            assert torch.equal(x[:, a, c], torch.from_numpy(u8[:, a, src]).float() / 255)
    cl = compose_inputs(u8, "msdn", channels_last=True)
    assert torch.equal(cl, x)
    assert cl.flatten(0, 1).is_contiguous(memory_format=torch.channels_last)
    un = compose_inputs(u8[:, :, :1], "msdn")
    assert torch.equal(un, torch.from_numpy(u8[:, :, :1]).float().expand(-1, -1, 3, -1, -1) / 255)
    st = compose_inputs(u8, "vgg")
    assert st.shape == (2, 3, 5, 5)
    assert torch.equal(st, torch.from_numpy(u8[:, :, 0]).float() / 255)
    with pytest.raises(ValueError, match="C in 1|2"):
        compose_inputs(u8[:, :2], "msdn")


def test_streamed_equals_in_memory(tmp_path):
    """Both loading modes deliver the same draws; streaming reads chunk-aligned blocks."""
    h5_path, split_path, _ = write_toy(tmp_path, variants=2)
    f = open_image_file(h5_path)
    splits = read_split_rows(h5_path, split_path, CLASSES)
    ram = load_splits(f, splits, budget_bytes=10**9, workers=0)
    stream = load_splits(f, splits, budget_bytes=f.row_bytes * 12, workers=1)
    assert ram["train"].in_memory and not stream["train"].in_memory
    with h5py.File(h5_path) as h5:
        ref = h5["images"][...]
    rng = np.random.default_rng(5)
    windows = stream["train"].plan(rng, class_probs=None)
    assert len(windows) > 1  # the budget forces several windows
    sx, sy = zip(*stream["train"].batches(windows, 5), strict=True)
    rx, ry = zip(*ram["train"].batches(windows, 5), strict=True)
    assert torch.equal(torch.cat(sx), torch.cat(rx)) and torch.equal(torch.cat(sy), torch.cat(ry))
    # Every train crystal exactly once, with its own image and label.
    pos = np.concatenate([w.positions for w in windows])
    var = np.concatenate([w.variants for w in windows])
    assert sorted(pos) == list(range(len(splits["train"])))
    rows = splits["train"].rows[pos]
    assert np.array_equal(torch.cat(sx).numpy(), ref[rows, var])
    assert set(var) == {0, 1}
    # A balanced sampler draws the rare class as often as the common one, with replacement.
    probs = np.array([1.0, 1.0, 1.0, 8.0])
    draws = np.concatenate([w.positions for w in stream["train"].plan(rng, probs)])
    counts = np.bincount(splits["train"].labels[draws], minlength=4)
    assert len(draws) == len(splits["train"]) and counts[3] > counts[:3].max()


@pytest.mark.parametrize(
    ("arch", "mode", "imbalance"),
    [
        ("msdn", "shaped", "class_weights"),
        ("vgg", "unshaped", "sampler"),
        ("msdn", "shaped", "logit_adjust"),
    ],
)
def test_training_learns_separable_toy_set(tmp_path, arch, mode, imbalance):
    h5_path, split_path, weights_path = write_toy(tmp_path, mode=mode)
    cfg = tiny_cfg(arch, mode, epochs=8, imbalance=imbalance)
    out, ck = tmp_path / "model", tmp_path / "ckpt"
    run_train(cfg, "m", h5_path, split_path, weights_path, out, ck)
    hist = pd.read_csv(out / "history.csv")
    assert list(hist.columns) == [
        "epoch",
        "train_loss",
        "train_acc",
        "val_loss",
        "val_acc",
        "lr",
        "seconds",
    ]
    assert list(hist["epoch"]) == list(range(1, 9))
    assert hist["train_loss"].iloc[-1] < 0.5 * hist["train_loss"].iloc[0]
    card = json.loads((out / "model_card.json").read_text())
    assert card["val_acc"] == pytest.approx(hist["val_acc"].max())
    assert card["val_acc"] >= 0.75
    assert card["classes"] == CLASSES and card["arch"] == arch and card["input_mode"] == mode
    assert card["input_size"] == 16 and card["data_source"]["mode"] == mode
    # Best = highest val accuracy, ties broken by lower val loss.
    best = hist[hist["val_acc"] == hist["val_acc"].max()]
    assert card["best_epoch"] in set(best["epoch"])
    assert card["val_loss"] <= best["val_loss"].min() + 1e-4
    # Calibration on val, the training class counts, and the prior only for logit_adjust.
    splits = read_split_rows(h5_path, split_path, CLASSES)
    counts = np.bincount(splits["train"].labels, minlength=4)
    assert card["train_class_counts"] == counts.tolist()
    cal = card["calibration"]
    assert cal["fitted_on"] == "val" and cal["n"] == len(splits["val"]) and cal["temperature"] > 0
    assert cal["val_nll_after"] <= cal["val_nll_before"] + 1e-9
    if imbalance == "logit_adjust":
        prior = (counts + 1) / (counts.sum() + 4)
        assert card["logit_adjustment"] == pytest.approx(np.log(prior).tolist())
    else:
        assert "logit_adjustment" not in card
    # The bundle reloads and predicts: probabilities over the class order, right on val.
    model, card2 = load_bundle(out)
    assert not model.training and card2 == card
    with h5py.File(h5_path) as h5:
        imgs, sg = h5["images"][:, 0], h5["spacegroup"][...]
    proba = predict_proba(model, card, imgs, batch_size=7)
    assert proba.shape == (len(sg), 4) and np.allclose(proba.sum(1), 1, atol=1e-5)
    acc = np.mean(np.array(CLASSES)[proba.argmax(1)] == sg)
    assert acc >= 0.75
    with pytest.raises(ValueError, match="expects"):
        predict_proba(model, card, imgs[:, :, :1] if mode == "shaped" else imgs[:, :, :, :8])


def test_same_config_same_weights_and_streaming_works(tmp_path):
    h5_path, split_path, weights_path = write_toy(tmp_path)
    cfg = tiny_cfg(epochs=2)
    states = []
    for name in ("a", "b"):
        run_train(
            cfg, "m", h5_path, split_path, weights_path, tmp_path / name, tmp_path / f"c{name}"
        )
        states.append(torch.load(tmp_path / name / "model.pt", weights_only=True))
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    # Forced streaming (tiny RAM budget, one worker process) trains and reports too.
    cfg_s = tiny_cfg(epochs=2, cache_gb=2e-6, workers=1)
    run_train(cfg_s, "m", h5_path, split_path, weights_path, tmp_path / "s", tmp_path / "cs")
    hist = pd.read_csv(tmp_path / "s" / "history.csv")
    assert len(hist) == 2 and np.isfinite(hist["val_loss"]).all()


def test_early_stopping_keeps_best_epoch(tmp_path):
    h5_path, split_path, weights_path = write_toy(tmp_path)
    # A learning rate too small to change anything: validation never improves.
    # (No BatchNorm either, whose running statistics would still move the val loss.)
    cfg = tiny_cfg(epochs=10, patience=2, lr=1e-12, norm="none")
    run_train(cfg, "m", h5_path, split_path, weights_path, tmp_path / "o", tmp_path / "c")
    card = json.loads((tmp_path / "o" / "model_card.json").read_text())
    assert card["stopped_early"] and card["best_epoch"] == 1 and card["epochs_run"] == 3
    assert len(pd.read_csv(tmp_path / "o" / "history.csv")) == 3
    # Started again, a finished (early-stopped) run trains no more epochs.
    ran = []
    run_train(
        cfg,
        "m",
        h5_path,
        split_path,
        weights_path,
        tmp_path / "o",
        tmp_path / "c",
        on_epoch_end=lambda e, r: ran.append(e),
    )
    assert ran == []


KILL_SCRIPT = textwrap.dedent(
    """
    import json, os, signal, sys
    from xtalsym.train import run_train

    cfg, args = json.loads(sys.argv[1]), json.loads(sys.argv[2])

    def die(epoch, row):
        if epoch == 2:  # a hard kill right after epoch 2's checkpoint: no clean-up runs
            os.kill(os.getpid(), signal.SIGKILL)

    run_train(cfg, "m", *args, on_epoch_end=die)
    """
)


def test_kill_and_resume_matches_uninterrupted_run(tmp_path):
    h5_path, split_path, weights_path = write_toy(tmp_path)
    cfg = tiny_cfg(epochs=4)
    out, ck = tmp_path / "out", tmp_path / "ckpt"
    args = [str(h5_path), str(split_path), str(weights_path), str(out), str(ck)]
    # One thread, like this process (one_thread): the same kernels, the same bits.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, json.dumps(cfg), json.dumps(args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -9, proc.stderr  # killed by SIGKILL
    assert not (out / "model.pt").exists()
    ckpt = torch.load(ck / "checkpoint.pt", weights_only=True)
    assert ckpt["epoch"] == 2 and ckpt["sampler"]["next_epoch"] == 3
    steps_2 = int(next(iter(ckpt["optimizer"]["state"].values()))["step"])
    assert steps_2 > 0 and ckpt["scheduler"]["last_epoch"] == steps_2

    ran = []
    run_train(cfg, "m", *args, on_epoch_end=lambda e, row: ran.append(e))
    assert ran == [3, 4]  # continued, not started over
    final = torch.load(ck / "checkpoint.pt", weights_only=True)
    assert int(next(iter(final["optimizer"]["state"].values()))["step"]) == 2 * steps_2
    hist = pd.read_csv(out / "history.csv")
    assert list(hist["epoch"]) == [1, 2, 3, 4]
    assert hist["seconds"].iloc[:2].tolist() == [r["seconds"] for r in ckpt["history"]]

    ref_out = tmp_path / "ref"
    run_train(cfg, "m", h5_path, split_path, weights_path, ref_out, tmp_path / "ref_ckpt")
    a = torch.load(out / "model.pt", weights_only=True)
    b = torch.load(ref_out / "model.pt", weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    last_a = final["model"]
    last_b = torch.load(tmp_path / "ref_ckpt" / "checkpoint.pt", weights_only=True)["model"]
    assert all(torch.equal(last_a[k], last_b[k]) for k in last_a)
    ref_hist = pd.read_csv(ref_out / "history.csv")
    assert np.array_equal(hist["val_loss"].to_numpy(), ref_hist["val_loss"].to_numpy())


def test_changed_config_does_not_resume_stale_checkpoint(tmp_path):
    h5_path, split_path, weights_path = write_toy(tmp_path)
    args = (h5_path, split_path, weights_path, tmp_path / "o", tmp_path / "c")
    run_train(tiny_cfg(epochs=1), "m", *args)
    ran = []
    run_train(tiny_cfg(epochs=1, lr=0.001), "m", *args, on_epoch_end=lambda e, r: ran.append(e))
    assert ran == [1]


def test_rewritten_inputs_retrain_and_runtime_changes_resume(tmp_path):
    """The checkpoint is keyed on its inputs' identity (issue 22.5): images written again by
    their stage (a shaping code change, same config) or a changed split retrain; runtime
    keys (workers, RAM budget, precision, raw copy, processes) reuse the finished checkpoint."""
    h5_path, split_path, weights_path = write_toy(tmp_path)
    args = (h5_path, split_path, weights_path, tmp_path / "o", tmp_path / "c")

    def epochs_run(cfg):
        ran = []
        run_train(cfg, "m", *args, on_epoch_end=lambda e, r: ran.append(e))
        return ran

    assert epochs_run(tiny_cfg(epochs=1)) == [1]
    assert epochs_run(tiny_cfg(epochs=1, workers=1, cache_gb=2e-6)) == []
    assert epochs_run(tiny_cfg(epochs=1, precision="bf16", raw_copy=True, processes=2)) == []
    with h5py.File(h5_path) as f:
        first_id = f.attrs["artifact_id"]
    write_toy(tmp_path)  # the same config and pixels, written again
    with h5py.File(h5_path) as f:
        assert f.attrs["artifact_id"] != first_id
    assert epochs_run(tiny_cfg(epochs=1)) == [1]
    assert epochs_run(tiny_cfg(epochs=1)) == []
    split = pd.read_csv(split_path)
    split.iloc[1:].to_csv(split_path, index=False)
    assert epochs_run(tiny_cfg(epochs=1)) == [1]


def test_device_selection():
    assert select_device("cpu").type == "cpu"
    if torch.cuda.is_available():
        assert select_device("auto").type == "cuda"
    else:
        assert select_device("auto").type == "cpu"
        with pytest.raises(RuntimeError, match="no CUDA device"):
            select_device("cuda")
