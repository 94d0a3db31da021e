"""docs/blocks.md's worked examples (ECA, selective kernels, GRN, a transformer block on a feature
map, multi-head attention written out) are real: each block, as the doc prints it, builds a module
whose output equals a small PyTorch module written here from the paper's equations, given the
same weights (the keys mapped), within 1e-5."""

import math
import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import archdsl
from conftest import ROOT

DOC = (ROOT / "docs" / "blocks.md").read_text()
BLOCKS = re.findall(r"^```[a-z]*\n(.*?)^```", DOC, re.S | re.M)
TOL = 1e-5


def example(name: str) -> str:
    found = [b for b in BLOCKS if b.startswith(f"block {name} ")]
    assert len(found) == 1, f"docs/blocks.md has no single example `block {name}`"
    return found[0]


def build(block: str, use: str, input_size: str = "16x8x8"):
    text = f"network doc\ninput {input_size}\n{example(block)}\n{use}\n"
    assert archdsl.check(text) == [], text
    return archdsl.build(text).eval()


def load_mapped(ours: nn.Module, reference: nn.Module, mapping) -> None:
    """Random weights into the reference, then the same values into ours under our keys."""
    torch.manual_seed(0)
    for p in reference.parameters():
        nn.init.normal_(p, std=0.5)
    theirs = reference.state_dict()
    state = {ours_key: theirs[their_key].reshape(ours.state_dict()[ours_key].shape)
             for ours_key, their_key in mapping.items()}
    assert set(state) == set(ours.state_dict()), "every parameter of ours is mapped"
    ours.load_state_dict(state)


def same(ours, reference, x) -> float:
    with torch.no_grad():
        a, b = ours(x), reference(x)
    assert a.shape == b.shape
    return (a - b).abs().max().item()


class ECA(nn.Module):
    """ECA-Net (Wang et al. 2020): y = GAP(x); w = sigmoid(conv1d_k(y)) across channels; x * w."""

    def __init__(self, channels: int, gamma: int = 2, b: int = 1):
        super().__init__()
        t = int(abs((math.log2(channels) + b) / gamma))
        self.k = t if t % 2 else t + 1
        self.weight = nn.Parameter(torch.empty(1, 1, self.k))

    def forward(self, x):
        y = x.mean(dim=(2, 3)).unsqueeze(1)  # B x 1 x C
        w = torch.sigmoid(F.conv1d(y, self.weight, padding=self.k // 2))
        return x * w.transpose(1, 2).unsqueeze(-1)


@pytest.mark.parametrize("channels, k", [(16, 3), (64, 3), (256, 5)])
def test_eca_is_a_conv1d_across_channels(channels, k):
    ours = build("eca", "e eca", f"{channels}x6x5")
    reference = ECA(channels)
    assert reference.k == k and ours.state_dict()["e.conv1d.weight"].shape == (1, 1, 1, k)
    load_mapped(ours, reference, {"e.conv1d.weight": "weight"})
    assert same(ours, reference, torch.randn(2, channels, 6, 5)) < TOL


class SelectiveKernel(nn.Module):
    """SKNet (Li et al. 2019): U = U3 + U5; z = relu(fc(GAP(U))); a, b = softmax over the branches
    of (A z, B z) per channel; V = a * U3 + b * U5."""

    def __init__(self, c: int, d: int):
        super().__init__()
        self.paths = nn.ModuleList([nn.Conv2d(c, c, 3, padding=1), nn.Conv2d(c, c, 3, padding=2, dilation=2)])
        self.squeeze = nn.Linear(c, d)
        self.select = nn.ModuleList([nn.Linear(d, c), nn.Linear(d, c)])

    def forward(self, x):
        u = [torch.relu(p(x)) for p in self.paths]
        z = torch.relu(self.squeeze((u[0] + u[1]).mean(dim=(2, 3))))
        scores = torch.stack([s(z) for s in self.select], dim=1)  # B x 2 x C
        weights = scores.softmax(dim=1)
        return sum(weights[:, i, :, None, None] * u[i] for i in range(2))


def test_selective_kernel_weighs_its_branches_by_a_softmax_across_them():
    ours = build("selective_kernel", "sk selective_kernel 16")
    reference = SelectiveKernel(16, 8)
    mapping = {"sk.conv3.weight": "paths.0.weight", "sk.conv3.bias": "paths.0.bias",
               "sk.conv5.weight": "paths.1.weight", "sk.conv5.bias": "paths.1.bias",
               "sk.fc.weight": "squeeze.weight", "sk.fc.bias": "squeeze.bias",
               "sk.fc_a.weight": "select.0.weight", "sk.fc_a.bias": "select.0.bias",
               "sk.fc_b.weight": "select.1.weight", "sk.fc_b.bias": "select.1.bias"}
    load_mapped(ours, reference, mapping)
    assert same(ours, reference, torch.randn(2, 16, 8, 8)) < TOL


class GRN(nn.Module):
    """ConvNeXt V2's global response norm, channels last as the paper writes it:
    Gx = ||X|| over (H, W); Nx = Gx / (mean_c Gx + eps); gamma * (X * Nx) + beta + X."""

    def __init__(self, c: int, eps: float = 1e-6):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, 1, 1, c))
        self.beta = nn.Parameter(torch.zeros(1, 1, 1, c))
        self.eps = eps

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        gx = x.pow(2).sum(dim=(1, 2), keepdim=True).sqrt()
        nx = gx / (gx.mean(dim=-1, keepdim=True) + self.eps)
        return (self.gamma * (x * nx) + self.beta + x).permute(0, 3, 1, 2)


def test_global_response_norm():
    ours = build("grn", "g grn")
    reference = GRN(16)
    load_mapped(ours, reference, {"g.gamma": "gamma", "g.beta": "beta"})
    assert same(ours, reference, torch.randn(2, 16, 8, 8)) < TOL


def attend(x, wq, bq, wk, bk, wv, bv, wo, bo, heads: int):
    """Multi-head attention from its equations: softmax(Q K^T / sqrt(d)) V per head, heads joined, projected."""
    b, n, c = x.shape
    d = c // heads

    def split(t):
        return t.reshape(b, n, heads, d).transpose(1, 2)  # B x heads x n x d

    q, k, v = split(x @ wq.T + bq), split(x @ wk.T + bk), split(x @ wv.T + bv)
    weights = (q @ k.transpose(-1, -2) / math.sqrt(d)).softmax(dim=-1)
    return (weights @ v).transpose(1, 2).reshape(b, n, c) @ wo.T + bo


class MapTransformer(nn.Module):
    """A transformer block on a feature map: unfold p x p patches into tokens, t = t + MHA(LN(t)),
    t = t + MLP(LN(t)), fold the tokens back, add the map."""

    def __init__(self, c: int, heads: int, patch: int, mlp_ratio: int):
        super().__init__()
        d = c * patch * patch
        self.heads, self.patch = heads, patch
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.fc1, self.fc2 = nn.Linear(d, d * mlp_ratio), nn.Linear(d * mlp_ratio, d)

    def forward(self, x):
        b, c, h, w = x.shape
        p = self.patch
        # token (i, j) holds pixel (i*p + a, j*p + e), channel k, at feature (a*p + e)*c + k
        t = x.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1).reshape(b, (h // p) * (w // p), -1)
        wq, wk, wv = self.qkv.weight.chunk(3)
        bq, bk, bv = self.qkv.bias.chunk(3)
        t = t + attend(self.ln1(t), wq, bq, wk, bk, wv, bv, self.proj.weight, self.proj.bias, self.heads)
        t = t + self.fc2(F.gelu(self.fc1(self.ln2(t))))
        back = t.reshape(b, h // p, w // p, p, p, c).permute(0, 5, 1, 3, 2, 4).reshape(b, c, h, w)
        return x + back


def test_transformer_block_on_a_feature_map():
    ours = build("map_transformer", "t map_transformer 4")
    reference = MapTransformer(16, heads=4, patch=2, mlp_ratio=2)
    mapping = {"t.norm1.weight": "ln1.weight", "t.norm1.bias": "ln1.bias",
               "t.attn.in_proj_weight": "qkv.weight", "t.attn.in_proj_bias": "qkv.bias",
               "t.attn.out_proj.weight": "proj.weight", "t.attn.out_proj.bias": "proj.bias",
               "t.norm2.weight": "ln2.weight", "t.norm2.bias": "ln2.bias",
               "t.mlp.0.weight": "fc1.weight", "t.mlp.0.bias": "fc1.bias",
               "t.mlp.2.weight": "fc2.weight", "t.mlp.2.bias": "fc2.bias"}
    load_mapped(ours, reference, mapping)
    assert same(ours, reference, torch.randn(2, 16, 8, 8)) < TOL


def test_map_transformer_refuses_a_map_that_is_not_whole_patches():
    text = f"network doc\ninput 16x7x8\n{example('map_transformer')}\nt map_transformer 4\n"
    found = archdsl.check(text)
    assert [d.code for d in found] == ["E0340"] and "not divisible by 2" in found[0].message


WRITTEN_OUT = "tokens rearrange \"c h w -> n=(h w) c\"\nwritten multi_head_attention 4\n" \
              "fused attention 4 from tokens\noutput from written, fused\n"


def test_attention_written_out_equals_the_fused_op_with_the_same_weights():
    model = build("multi_head_attention", WRITTEN_OUT)
    torch.manual_seed(1)
    state = {k: torch.randn_like(v) * 0.5 for k, v in model.state_dict().items() if k.startswith("fused.")}
    wq, wk, wv = state["fused.in_proj_weight"].chunk(3)
    bq, bk, bv = state["fused.in_proj_bias"].chunk(3)
    state |= {"written.q.weight": wq, "written.q.bias": bq, "written.k.weight": wk, "written.k.bias": bk,
              "written.v.weight": wv, "written.v.bias": bv,
              "written.out_proj.weight": state["fused.out_proj.weight"],
              "written.out_proj.bias": state["fused.out_proj.bias"]}
    model.load_state_dict(state)
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        written, fused = model(x)
    tokens = x.flatten(2).transpose(1, 2)
    by_hand = attend(tokens, wq, bq, wk, bk, wv, bv, state["fused.out_proj.weight"], state["fused.out_proj.bias"], 4)
    assert written.shape == fused.shape == (2, 64, 16)
    assert (written - fused).abs().max().item() < TOL
    assert (fused - by_hand).abs().max().item() < TOL
