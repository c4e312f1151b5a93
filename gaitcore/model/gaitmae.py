"""GaitMAE: a dual-stream spatio-temporal transformer (DSTformer-style) masked autoencoder for skeletons.

One readable module, nanoGPT-style. Shapes use B batch, T frames, J joints (26, MODEL26 order),
C channels (``dim``), H heads, D head size (C / H).

    x [B, T, J, 4]  (x, y, z, confidence; masked inputs are all zero)
      -> Linear(4 -> C) + learned spatial position embedding [J, C]          [B, T, J, C]
      -> ``depth`` x Level:
             a = Temporal(Spatial(h))    spatial -> temporal stream
             b = Spatial(Temporal(h))    temporal -> spatial stream
             w = softmax(Linear(2C -> 2)([a, b]))   learned per-token fusion weights
             h = w0 * a + w1 * b                                                [B, T, J, C]
      -> LayerNorm  ("features": the embedding is pooled from here)            [B, T, J, C]
      -> Linear(C -> 32) + tanh -> Linear(32 -> 3)  reconstruction              [B, T, J, 3]

Spatial attention runs over the J joints of one frame (sequences [B*T, J, C]) with the learned
joint embedding as its position signal; temporal attention runs over the T frames of one joint
(sequences [B*J, T, C]) with rotary position embeddings on queries and keys, so any window length
works. Attention is ``F.scaled_dot_product_attention`` (flash kernel on CPU and GPU). Blocks are
pre-norm transformer blocks (attention + MLP with ratio ``mlp_ratio``).

Inference on CPU (no autograd, fp32) runs the same function through a faster path (``_forward_fast``,
``FAST_INFERENCE``): oneDNN linear with fused bias / GELU / residual add, contiguous q, k, v, in-place
rotary, one-lerp fusion, and the batch encoded in groups of about one 900-frame window so activations
stay in cache. Training always runs the reference path; tests hold both to the same outputs.

Sizes (``CONFIGS``): ``paper`` (8 levels, dim 128, 8 heads, MLP ratio 2: ~4.25 M parameters, ~374
GFLOP per 900-frame window), ``small`` (the shipped CPU model) and ``tiny`` (tests).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

MODEL_VERSION = "gaitmae/1"
N_JOINTS = 26
N_CHANNELS = 4


@dataclass(frozen=True)
class GaitMAEConfig:
    """Network size. ``train_frames``: crop length used in pretraining (windows are 900 frames)."""

    name: str = "paper"
    depth: int = 8  # DSTformer levels
    dim: int = 128
    heads: int = 8
    mlp_ratio: float = 2.0
    head_hidden: int = 32  # reconstruction head: Linear(dim -> 32) + tanh, Linear(32 -> 3)
    n_joints: int = N_JOINTS
    in_channels: int = N_CHANNELS
    rope_base: float = 10000.0
    dropout: float = 0.0
    train_frames: int = 900
    # Temporal attention context: longer inputs are encoded in chunks of this many frames (the last
    # chunk aligned to the end). 0 = the whole input at once (the paper: one 900-frame window).
    context_frames: int = 0

    def __post_init__(self) -> None:
        if self.dim % self.heads or (self.dim // self.heads) % 2:
            raise ValueError(f"dim {self.dim} must split into {self.heads} heads of even size")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> GaitMAEConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown GaitMAE config fields {sorted(unknown)}")
        return cls(**d)

    @property
    def embedding_dim(self) -> int:
        return 4 * 2 * self.dim  # 4 regions x (mean, p99) x dim


CONFIGS: dict[str, GaitMAEConfig] = {
    "paper": GaitMAEConfig("paper", depth=8, dim=128, heads=8, mlp_ratio=2.0, train_frames=900),
    # The shipped CPU model: the paper's width, heads and MLP (so the embedding is 1,024-d), one
    # DSTformer level, temporal attention within 4 s (120-frame) chunks, pretrained on 120-frame crops:
    # ~1/14 of the paper's compute per window, trainable in ~30 min on 2 shared CPU cores.
    "small": GaitMAEConfig("small", depth=1, dim=128, heads=8, mlp_ratio=2.0, train_frames=120,
                           context_frames=120),
    "tiny": GaitMAEConfig("tiny", depth=1, dim=32, heads=4, mlp_ratio=2.0, head_hidden=8, train_frames=48,
                          context_frames=0),
}


def get_config(name: str) -> GaitMAEConfig:
    try:
        return CONFIGS[name]
    except KeyError:
        raise KeyError(f"unknown config {name!r}; known: {', '.join(CONFIGS)}") from None


# --- rotary position embedding ---------------------------------------------------------------------
_ROTARY_CACHE: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}


def rotary_tables(n: int, head_dim: int, base: float, device, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin tables [n, head_dim] for positions 0..n-1 (each frequency repeated for both halves).

    Cached per (n, head_dim, base, device, dtype) outside autograd (the tables hold no parameters)."""
    key = (n, head_dim, base, str(device), dtype)
    hit = _ROTARY_CACHE.get(key)
    if hit is not None:
        return hit
    with torch.no_grad():
        inv = 1.0 / (base ** (torch.arange(0, head_dim, 2, device=device, dtype=torch.float32) / head_dim))
        ang = torch.arange(n, device=device, dtype=torch.float32)[:, None] * inv[None, :]  # [n, D/2]
        ang = torch.cat((ang, ang), dim=-1)  # [n, D]
        tables = (ang.cos().to(dtype), ang.sin().to(dtype))
    if len(_ROTARY_CACHE) > 64:
        _ROTARY_CACHE.clear()
    _ROTARY_CACHE[key] = tables
    return tables


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate x [..., n, D] by position: pairs are (x[i], x[i + D/2]) ("rotate half" convention).

    out[:h] = x[:h] cos - x[h:] sin, out[h:] = x[h:] cos + x[:h] sin, written half by half (no cat)."""
    h = x.shape[-1] // 2
    x1, x2 = x[..., :h], x[..., h:]
    c, s = cos[..., :h], sin[..., :h]
    if torch.is_grad_enabled() and x.requires_grad:  # training: differentiable form
        return torch.cat((x1 * c - x2 * s, x2 * c + x1 * s), dim=-1)
    out = torch.empty_like(x)  # inference: half by half, in place
    o1, o2 = out[..., :h], out[..., h:]
    torch.mul(x1, c, out=o1)
    o1.addcmul_(x2, s, value=-1.0)
    torch.mul(x2, c, out=o2)
    o2.addcmul_(x1, s)
    return out


def rotate_inplace(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> None:
    """In-place :func:`apply_rotary` (same arithmetic): x [..., D] rotated by cos/sin broadcast to it."""
    h = x.shape[-1] // 2
    x1, x2 = x[..., :h], x[..., h:]
    c, s = cos[..., :h], sin[..., :h]
    tmp = x2 * s
    x2.mul_(c).addcmul_(x1, s)  # x2 c + x1 s
    x1.mul_(c).sub_(tmp)  # x1 c - x2 s


# --- inference fast path ---------------------------------------------------------------------------
# Without autograd on CPU fp32 the blocks run a path that computes the same function with fewer memory
# passes (measured on 2 cores; see docs/gaitmae.md "The CPU inference path"): linear layers go through oneDNN with the
# bias, GELU and residual add fused into the matmul (no separate bias-broadcast copy, GELU pass or add
# pass), q, k and v come out of three matmuls as contiguous tensors, rotary positions are applied in
# place on them, a temporal block makes one transposed copy in and one out (a strided-frame layout
# makes the CPU flash kernel ~10 % slower than the copies cost), and the two streams are fused with one
# lerp. Training (autograd) always runs the reference path. ``FAST_INFERENCE = False`` forces the
# reference path (the tests compare both).
FAST_INFERENCE = True
FAST_GROUP_TOKENS = 24_000  # inference: windows encoded together (tokens = windows x frames x joints)


def _probe_onednn_linear() -> bool:
    try:
        op = torch.ops.mkldnn._linear_pointwise
        x, w, b = torch.ones(2, 4), torch.ones(3, 4), torch.zeros(3)
        with torch.no_grad():
            ok = bool(torch.equal(op(x, w, b, "none", [], ""), torch.full((2, 3), 4.0)))
            ok = ok and bool(torch.equal(op.binary(x, torch.ones(2, 3), w, b, "add"), torch.full((2, 3), 5.0)))
        return ok and torch.backends.mkldnn.is_available()
    except (AttributeError, RuntimeError):
        return False


ONEDNN_LINEAR = _probe_onednn_linear()


def _fast(x: torch.Tensor) -> bool:
    return FAST_INFERENCE and not torch.is_grad_enabled() and x.device.type == "cpu" and x.dtype == torch.float32


def _linear(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, act: str = "none") -> torch.Tensor:
    """act(x w^T + b) on 2-D x; act "none" or "gelu" (exact, erf)."""
    if ONEDNN_LINEAR:
        return torch.ops.mkldnn._linear_pointwise(x, w, b, act, [], "none" if act == "gelu" else "")
    y = F.linear(x, w, b)
    return F.gelu(y) if act == "gelu" else y


def _linear_add(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, residual: torch.Tensor) -> torch.Tensor:
    """residual + (x w^T + b) on 2-D x (the add fused into the matmul's output stage)."""
    if ONEDNN_LINEAR:
        return torch.ops.mkldnn._linear_pointwise.binary(x, residual, w, b, "add")
    return torch.addmm(residual, x, w.t()).add_(b) if b is not None else torch.addmm(residual, x, w.t())


# --- blocks ----------------------------------------------------------------------------------------
class Attention(nn.Module):
    """Multi-head self-attention over the second-to-last axis of [N, L, C] (optionally rotary)."""

    def __init__(self, cfg: GaitMAEConfig, rotary: bool) -> None:
        super().__init__()
        self.heads, self.rotary, self.base = cfg.heads, rotary, cfg.rope_base
        self.qkv = nn.Linear(cfg.dim, 3 * cfg.dim)
        self.proj = nn.Linear(cfg.dim, cfg.dim)
        self.dropout = cfg.dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        N, L, C = x.shape
        H = self.heads
        qkv = self.qkv(x).view(N, L, 3, H, C // H).permute(2, 0, 3, 1, 4)  # [3, N, H, L, D]
        if self.rotary:
            cos, sin = rotary_tables(L, C // H, self.base, x.device, x.dtype)
            q, k = apply_rotary(qkv[:2], cos, sin).unbind(0)  # one pass over q and k
            v = qkv[2]
        else:
            q, k, v = qkv.unbind(0)
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        y = y.transpose(1, 2).reshape(N, L, C)  # [N, L, C]
        return self.proj(y)


class MLP(nn.Module):
    def __init__(self, cfg: GaitMAEConfig) -> None:
        super().__init__()
        hidden = int(cfg.dim * cfg.mlp_ratio)
        self.fc1 = nn.Linear(cfg.dim, hidden)
        self.fc2 = nn.Linear(hidden, cfg.dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block acting along joints ("spatial") or frames ("temporal").

    Input and output [B, T, J, C]; internally [B*T, J, C] (spatial) or [B*J, T, C] (temporal).
    """

    def __init__(self, cfg: GaitMAEConfig, kind: str) -> None:
        super().__init__()
        assert kind in ("spatial", "temporal")
        self.kind = kind
        self.norm1 = nn.LayerNorm(cfg.dim)
        self.attn = Attention(cfg, rotary=(kind == "temporal"))
        self.norm2 = nn.LayerNorm(cfg.dim)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _fast(x) and not (self.training and self.attn.dropout):
            return self._forward_fast(x)
        B, T, J, C = x.shape
        if self.kind == "spatial":
            h = x.reshape(B * T, J, C)
        else:
            h = x.transpose(1, 2).reshape(B * J, T, C)
        h = h + self.attn(self.norm1(h))
        h = h + self.mlp(self.norm2(h))
        if self.kind == "spatial":
            return h.view(B, T, J, C)
        return h.view(B, J, T, C).transpose(1, 2)

    def _forward_fast(self, x: torch.Tensor) -> torch.Tensor:
        """Inference form of :meth:`forward` (same arithmetic, fewer memory passes)."""
        B, T, J, C = x.shape
        H = self.attn.heads
        D = C // H
        if self.kind == "spatial":  # sequences: the J joints of each of the B*T frames
            h = x.reshape(B * T * J, C)
            N, L = B * T, J
        else:  # sequences: the T frames of each joint, as contiguous [B*J, T, C] (one transposed copy)
            h = x.transpose(1, 2).reshape(B * J * T, C)
            N, L = B * J, T
        u = self.norm1(h)
        wqkv, bqkv = self.attn.qkv.weight, self.attn.qkv.bias
        # q, k, v as three contiguous [N, L, C] tensors (three N=C matmuls: no strided qkv slices)
        q, k, v = (_linear(u, wqkv[i * C:(i + 1) * C], bqkv[i * C:(i + 1) * C]).view(N, L, H, D) for i in range(3))
        if self.attn.rotary:
            cos, sin = rotary_tables(L, D, self.attn.base, x.device, x.dtype)
            cos, sin = cos[:, None], sin[:, None]  # [L, 1, D] against [N, L, H, D]
            rotate_inplace(q, cos, sin)
            rotate_inplace(k, cos, sin)
        y = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        y = y.transpose(1, 2).reshape(N * L, C)  # the CPU kernel writes [N, L, H, D]: no copy
        h = _linear_add(y, self.attn.proj.weight, self.attn.proj.bias, h)
        g = _linear(self.norm2(h), self.mlp.fc1.weight, self.mlp.fc1.bias, "gelu")
        h = _linear_add(g, self.mlp.fc2.weight, self.mlp.fc2.bias, h)
        if self.kind == "spatial":
            return h.view(B, T, J, C)
        return h.view(B, J, T, C).transpose(1, 2).contiguous()


class Level(nn.Module):
    """One DSTformer level: S->T and T->S streams fused by learned per-token softmax weights."""

    def __init__(self, cfg: GaitMAEConfig) -> None:
        super().__init__()
        self.st = nn.ModuleList([Block(cfg, "spatial"), Block(cfg, "temporal")])
        self.ts = nn.ModuleList([Block(cfg, "temporal"), Block(cfg, "spatial")])
        self.fuse = nn.Linear(2 * cfg.dim, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, J, C] -> [B, T, J, C]
        a = self.st[1](self.st[0](x))
        b = self.ts[1](self.ts[0](x))
        if _fast(x):
            return self._fuse_fast(a, b)
        # softmax over 2 logits = sigmoid of their difference; Linear([a, b]) without materialising the cat
        C = a.shape[-1]
        W, bias = self.fuse.weight, self.fuse.bias  # [2, 2C], [2]
        logit = F.linear(a, W[:, :C], bias) + F.linear(b, W[:, C:])  # [B, T, J, 2]
        w0 = torch.sigmoid(logit[..., :1] - logit[..., 1:])  # weight of the S->T stream
        return b + (a - b) * w0

    def _fuse_fast(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Inference form of the fusion above: b + (a - b) w0 as one lerp."""
        C = a.shape[-1]
        W, bias = self.fuse.weight, self.fuse.bias
        a2, b2 = a.reshape(-1, C), b.reshape(-1, C)
        logit = torch.addmm(F.linear(a2, W[:, :C], bias), b2, W[:, C:].t())  # [BTJ, 2]
        w0 = torch.sigmoid(logit[:, :1] - logit[:, 1:])
        return torch.lerp(b2, a2, w0).view(a.shape)


class GaitMAE(nn.Module):
    """The GaitMAE network. ``forward`` reconstructs xyz; ``features`` gives the pre-head tokens."""

    def __init__(self, cfg: GaitMAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Linear(cfg.in_channels, cfg.dim)
        self.joint_pos = nn.Parameter(torch.zeros(1, 1, cfg.n_joints, cfg.dim))
        self.levels = nn.ModuleList([Level(cfg) for _ in range(cfg.depth)])
        self.norm = nn.LayerNorm(cfg.dim)
        self.head = nn.Sequential(nn.Linear(cfg.dim, cfg.head_hidden), nn.Tanh(), nn.Linear(cfg.head_hidden, 3))
        self.apply(self._init)
        nn.init.trunc_normal_(self.joint_pos, std=0.02)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, T, J, 4] -> tokens after the final LayerNorm [B, T, J, C]."""
        if x.shape[-2:] != (self.cfg.n_joints, self.cfg.in_channels):
            raise ValueError(f"expected input [B, T, {self.cfg.n_joints}, {self.cfg.in_channels}], "
                             f"got {list(x.shape)}")
        ctx = self.cfg.context_frames
        T = x.shape[1]
        if ctx and T > ctx:
            return self._chunked_features(x, ctx)
        return self.norm(self._encode(self.embed(x) + self.joint_pos))

    def _encode(self, h: torch.Tensor) -> torch.Tensor:
        """The DSTformer levels over [B, T, J, C]. Inference on CPU runs them group by group of the
        batch (about ``FAST_GROUP_TOKENS`` tokens each), so a group's activations stay in cache across
        the blocks instead of streaming the whole batch through memory at every op; sequences never mix
        across the batch, so the result is the same."""
        B, T, J, _ = h.shape
        group = max(1, FAST_GROUP_TOKENS // (T * J))
        if _fast(h) and B > group:
            return torch.cat([self._encode(h[i:i + group]) for i in range(0, B, group)])
        for level in self.levels:
            h = level(h)
        return h

    def _chunked_features(self, x: torch.Tensor, ctx: int) -> torch.Tensor:
        """Encode [B, T, J, 4] in chunks of ``ctx`` frames (last chunk ends at T); [B, T, J, C]."""
        B, T = x.shape[:2]
        starts = list(range(0, T - ctx + 1, ctx))
        if starts[-1] + ctx < T:
            starts.append(T - ctx)
        chunks = torch.stack([x[:, s:s + ctx] for s in starts], dim=1).flatten(0, 1)  # [B*n, ctx, J, 4]
        h = self._encode(self.embed(chunks) + self.joint_pos)
        h = self.norm(h).view(B, len(starts), ctx, *h.shape[2:])  # [B, n, ctx, J, C]
        out = h.new_empty(B, T, *h.shape[3:])
        for i in reversed(range(len(starts))):  # earlier chunks win where the last one overlaps
            out[:, starts[i]:starts[i] + ctx] = h[:, i]
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, T, J, 4] -> reconstructed positions [B, T, J, 3] (normalised units)."""
        return self.head(self.features(x))

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


def build_model(config: str | GaitMAEConfig | dict) -> GaitMAE:
    if isinstance(config, str):
        config = get_config(config)
    elif isinstance(config, dict):
        config = GaitMAEConfig.from_dict(config)
    return GaitMAE(config)


def flops_estimate(cfg: GaitMAEConfig, frames: int = 900) -> float:
    """Analytic forward FLOPs of one window (matmuls only; 2 FLOPs per multiply-add)."""
    if cfg.context_frames and frames > cfg.context_frames:
        n_chunks = -(-frames // cfg.context_frames)
        return n_chunks * flops_estimate(cfg, cfg.context_frames)
    n = frames * cfg.n_joints
    d, hid = cfg.dim, int(cfg.dim * cfg.mlp_ratio)
    block_linear = 2 * n * (4 * d * d + 2 * d * hid)
    spatial_attn = 2 * 2 * n * cfg.n_joints * d
    temporal_attn = 2 * 2 * n * frames * d
    level = 4 * block_linear + 2 * spatial_attn + 2 * temporal_attn + 2 * n * 2 * d * 2
    return float(cfg.depth * level + 2 * n * (cfg.in_channels * d + d * cfg.head_hidden + cfg.head_hidden * 3))


__all__ = ["GaitMAE", "GaitMAEConfig", "CONFIGS", "get_config", "build_model", "MODEL_VERSION", "flops_estimate"]
