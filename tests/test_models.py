"""Model builders: the MSDN's parameter count, shapes, shared streams, forward/backward."""

import pytest
import torch

from xtalsym.models import ARCHS, NORMS, STACKED_ARCHS, build_model, count_parameters

pytestmark = pytest.mark.usefixtures("one_torch_thread")


TINY = {"growth": 4, "blocks": (1, 2, 1), "stem": 8, "dropout": 0.2, "input_size": 16}


@pytest.mark.parametrize("norm", NORMS)
def test_msdn_paper_parameter_count(norm):
    # The authors' checkpoint: 1,542,426 variables = 1,542,424 weights + Adam's two
    # beta-power scalars (docs/models.md). Parameter-free BatchNorm keeps the count.
    paper = {"growth": 32, "blocks": (3, 6, 12, 8), "stem": 32, "input_size": 224, "norm": norm}
    m = build_model("msdn", 72, **paper)
    assert count_parameters(m) == 1_542_424
    assert sum(p.numel() for p in m.parameters()) == 1_542_424
    assert m.backbone.out_features == 960
    # Its parts, by hand: stem 7x7x3x32 + 32; 960 -> 72 heads, three of them.
    assert count_parameters(m.backbone.stem) == 7 * 7 * 3 * 32 + 32
    assert [count_parameters(h) for h in m.heads] == [960 * 72 + 72] * 3
    transitions = [t.conv.out_channels for t in m.backbone.features if hasattr(t, "pool")]
    assert transitions == [128, 320, 704]
    bns = [x for x in m.modules() if isinstance(x, torch.nn.BatchNorm2d)]
    if norm == "none":  # the authors' network: no normalisation state at all
        assert not bns and not list(m.buffers())
    else:  # one per convolution: stem, 2 per dense layer, 3 transitions
        assert len(bns) == 1 + 2 * 29 + 3 and not any(b.affine for b in bns)
    # The single-stream DenseNet is the same backbone with one head.
    s = build_model("densenet_stacked", 72, **paper)
    assert count_parameters(s) == 1_542_424 - 2 * (960 * 72 + 72)


def test_frozen_parameters_are_not_counted():
    m = build_model("msdn", 5, **TINY)
    n = count_parameters(m)
    m.heads[0].bias.requires_grad_(False)
    assert count_parameters(m) == n - 5


@pytest.mark.parametrize(
    ("arch", "norm"),
    [(a, "batch") for a in ARCHS] + [("msdn", "none"), ("densenet_stacked", "none")],
)
def test_forward_backward_every_model(arch, norm):
    torch.manual_seed(0)
    m = build_model(arch, 7, norm=norm, **TINY)
    torch.manual_seed(0)
    m2 = build_model(arch, 7, norm=norm, **TINY)  # same seed, same initial weights
    s1, s2 = m.state_dict(), m2.state_dict()
    assert all(torch.equal(s1[k], s2[k]) for k in s1)
    shape = (4, 3, 16, 16) if arch in STACKED_ARCHS else (4, 3, 3, 16, 16)
    x = torch.rand(shape)
    out = m(x)
    assert out.shape == (4, 7) and torch.isfinite(out).all()
    loss = torch.nn.functional.cross_entropy(out, torch.arange(4))
    loss.backward()
    grads = [p.grad for p in m.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0
    with pytest.raises(ValueError, match="expected input"):
        m(torch.rand(*shape[:-2], 20, 20))


def test_msdn_streams_share_the_backbone_and_sum_heads():
    torch.manual_seed(1)
    m = build_model("msdn", 6, **TINY).eval()
    x = torch.rand(2, 3, 3, 16, 16)
    with torch.no_grad():
        feats = [m.backbone(x[:, a]) for a in range(3)]
        expect = sum(m.heads[a](feats[a]) for a in range(3))
        assert torch.allclose(m(x), expect, atol=1e-5)
        # Swapping two streams changes the logits only through the per-stream heads.
        swapped = x[:, [1, 0, 2]]
        expect_sw = m.heads[0](feats[1]) + m.heads[1](feats[0]) + m.heads[2](feats[2])
        assert torch.allclose(m(swapped), expect_sw, atol=1e-5)


def test_build_model_rejects_unknown_arch():
    with pytest.raises(ValueError, match="unknown architecture"):
        build_model("alexnet", 3)


def test_baseline_widths_follow_stem():
    # At the paper's stem (32) the baselines have their textbook widths.
    r = build_model("resnet", 72, stem=32)
    assert r.fc.in_features == 512
    assert 11_000_000 < count_parameters(r) < 11_300_000  # ResNet-18 at 72 classes
    v = build_model("vgg", 10, stem=8, input_size=32)
    assert v.classifier[-1].in_features == 128


def test_align_streams_puts_every_edge_image_in_the_first_channel():
    torch.manual_seed(0)
    m = build_model("msdn", 5, align_streams=True, **TINY).eval()
    seen = []
    m.backbone.register_forward_pre_hook(lambda mod, args: seen.append(args[0]))
    # the authors' RGB: stream a holds its edge image (here: the value a + 1) in channel a
    x = torch.zeros(1, 3, 3, 16, 16)
    for a in range(3):
        x[0, a, a] = a + 1.0
    m(x)
    first = seen[0].view(1, 3, 3, 16, 16)[0, :, :, 0, 0]
    assert first.tolist() == [[1, 0, 0], [2, 0, 0], [3, 0, 0]]
    # unaligned, the same weights see the authors' layout
    plain = build_model("msdn", 5, align_streams=False, **TINY)
    assert plain.state_dict().keys() == m.state_dict().keys()
    plain.load_state_dict(m.state_dict())
    u = torch.rand(2, 1, 16, 16).expand(2, 3, 16, 16)[:, None].expand(2, 3, 3, 16, 16)
    assert torch.allclose(m(u.contiguous()), plain.eval()(u.contiguous()))  # unshaped: no effect


def test_network_input_composes_the_authors_rgb_images():
    """compose_inputs (training), compose_rgb (shaping files) and split_rgb (predict --shaped)
    follow the one channel rule of xtalsym.channels: E in the axis channel, S elsewhere."""
    import numpy as np

    from xtalsym.channels import input_channels
    from xtalsym.models import compose_inputs
    from xtalsym.predict.inputs import split_rgb
    from xtalsym.shaping import compose_rgb

    rng = np.random.default_rng(0)
    e, s = rng.integers(0, 256, (2, 3, 8, 8), dtype=np.uint8)
    images = np.stack([e, s], axis=1)[None]  # (1, 3 axes, 2, S, S)
    assert images.shape[2] == input_channels("shaped")
    x = compose_inputs(images, "msdn")[0].numpy()  # (3 streams, 3 RGB, S, S)
    rgb = [compose_rgb(e[a], s[a], axis) for a, axis in enumerate("xyz")]
    for a in range(3):
        assert np.allclose(x[a], np.moveaxis(rgb[a], -1, 0) / 255.0)
    back_e, back_s = split_rgb(rgb)
    assert np.array_equal(back_e, e) and np.array_equal(back_s, s)
    unshaped = compose_inputs(s[None, :, None], "msdn")[0].numpy()
    assert input_channels("unshaped") == 1 and np.allclose(unshaped, s[:, None] / 255.0)
    with pytest.raises(ValueError, match="shaped or unshaped"):
        input_channels("rgb")
