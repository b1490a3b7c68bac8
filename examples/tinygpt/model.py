"""A small GPT-style character transformer with the hooks the example runs record.

Pre-LN blocks (LayerNorm -> attention -> residual add, LayerNorm -> MLP -> residual add), learned
token and position embeddings, a final LayerNorm and an UNTIED unembedding ``Linear(d_model, vocab)``
with a bias.  Linear layers inside the blocks have no bias.  Optional qk-layernorm: a LayerNorm
(with gain and bias, over d_head, shared by the heads of a layer) applied to queries and keys
before the dot product.  Attention is written out by hand (no fused kernel) so that the
pre-softmax scores can be observed.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class Attention(nn.Module):
    def __init__(self, d_model: int, n_heads: int, ctx: int, qk_norm: bool, attn_dtype: str = "float32"):
        super().__init__()
        self.attn_dtype = getattr(torch, attn_dtype)
        self.n_heads = n_heads
        self.d_head = d_model // n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=False)
        self.proj = nn.Linear(d_model, d_model, bias=False)
        self.q_ln = nn.LayerNorm(self.d_head) if qk_norm else None
        self.k_ln = nn.LayerNorm(self.d_head) if qk_norm else None
        self.register_buffer("mask", torch.tril(torch.ones(ctx, ctx, dtype=torch.bool)), persistent=False)
        self.logit_max: torch.Tensor | None = None  # max pre-softmax logit of the last forward
        self.cache: dict[str, torch.Tensor] = {}

    def forward(self, x: torch.Tensor, capture: bool = False) -> torch.Tensor:
        B, T, D = x.shape
        q, k, v = self.qkv(x).split(D, dim=2)
        q = q.view(B, T, self.n_heads, self.d_head).transpose(1, 2)  # [B, H, T, dh]
        k = k.view(B, T, self.n_heads, self.d_head).transpose(1, 2)
        v = v.view(B, T, self.n_heads, self.d_head).transpose(1, 2)
        if self.q_ln is not None:
            q = self.q_ln(q)
            k = self.k_ln(k)
        if self.attn_dtype != torch.float32:  # low-precision logits: q.k computed and rounded in bf16/fp16
            scores = ((q.to(self.attn_dtype) @ k.to(self.attn_dtype).transpose(-2, -1)) / math.sqrt(self.d_head)).float()
        else:
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.d_head)  # [B, H, Tq, Tk]
        mask = self.mask[:T, :T]
        scores = scores.masked_fill(~mask, float("-inf"))
        self.logit_max = scores.detach().amax()  # masked entries are -inf, so causal entries only
        pattern = F.softmax(scores, dim=-1)
        if capture:
            self.cache = {"attn_scores": scores.detach(), "pattern": pattern.detach()}
        y = (pattern @ v).transpose(1, 2).reshape(B, T, D)
        return self.proj(y)


class Block(nn.Module):
    def __init__(self, d_model: int, n_heads: int, ctx: int, qk_norm: bool, attn_dtype: str = "float32"):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = Attention(d_model, n_heads, ctx, qk_norm, attn_dtype)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, 4 * d_model, bias=False), nn.GELU(), nn.Linear(4 * d_model, d_model, bias=False)
        )

    def forward(self, x: torch.Tensor, capture: bool = False) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), capture)
        return x + self.mlp(self.ln2(x))


class TinyGPT(nn.Module):
    def __init__(
        self,
        vocab: int,
        d_model: int = 64,
        n_layers: int = 2,
        n_heads: int = 4,
        ctx: int = 64,
        qk_norm: bool = False,
        attn_dtype: str = "float32",
    ):
        super().__init__()
        self.ctx = ctx
        self.tok_emb = nn.Embedding(vocab, d_model)
        self.pos_emb = nn.Embedding(ctx, d_model)
        self.blocks = nn.ModuleList(Block(d_model, n_heads, ctx, qk_norm, attn_dtype) for _ in range(n_layers))
        self.ln_f = nn.LayerNorm(d_model)
        self.unembed = nn.Linear(d_model, vocab, bias=True)  # untied from tok_emb
        self._init(n_layers)

    def _init(self, n_layers: int) -> None:
        # GPT-2 style: N(0, 0.02); residual output projections scaled by 1/sqrt(2 * n_layers).
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02
                if name.endswith("attn.proj.weight") or name.endswith("mlp.2.weight"):
                    std = 0.02 / math.sqrt(2 * n_layers)
                nn.init.normal_(p, 0.0, std)
        nn.init.zeros_(self.unembed.bias)

    def forward(self, idx: torch.Tensor, capture: bool = False):
        """Returns logits [B, T, vocab]; with ``capture`` also a dict of TransformerLens-named
        activations (tensors detached)."""
        B, T = idx.shape
        pos = torch.arange(T, device=idx.device)
        x = self.tok_emb(idx) + self.pos_emb(pos)[None]
        cache: dict[str, torch.Tensor] = {}
        if capture:
            cache["blocks.0.hook_resid_pre"] = x.detach()
        for i, block in enumerate(self.blocks):
            x = block(x, capture)
            if capture:
                cache[f"blocks.{i}.attn.hook_attn_scores"] = block.attn.cache["attn_scores"]
                cache[f"blocks.{i}.attn.hook_pattern"] = block.attn.cache["pattern"]
                cache[f"blocks.{i}.hook_resid_post"] = x.detach()
                block.attn.cache = {}
        logits = self.unembed(self.ln_f(x))
        return (logits, cache) if capture else logits

    def attn_logit_max(self) -> list[float]:
        return [float(b.attn.logit_max) for b in self.blocks]
