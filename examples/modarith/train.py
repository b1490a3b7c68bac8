"""Train a transformer on a + b mod p and write a run folder for the claims registry.

    python -m examples.modarith.train --out /tmp/modarith-demo --steps 3000 --seed 0

Two passes.  Pass 1 trains and logs every step to metrics.csv; the spike finder (spikes.py) then
finds the onsets of loss spikes on log(loss).  Pass 2 replays the same training from the same seed,
checks that every step's loss (float32 bytes) and parameters (blake2b digest) equal pass 1's, and
records activations and answers on a fixed probe set at the steps around each onset.  Checkpoints
and samples are written only when the whole replay matched.  See README.md in this folder.
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import hashlib
import json
import math
import os
import platform
import shutil
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
import yaml

from examples.tinygpt.model import TinyGPT
from examples.tinygpt.train import canonicalize_header

from . import spikes

FP16_MAX = 65504.0
OFFSETS = "-20,-5,-1,0,1,5,20"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m examples.modarith.train", description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--out", required=True, help="run folder to create (its name is the run id)")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    # task
    p.add_argument("--p", type=int, default=53, help="modulus (a prime); vocabulary = 0..p-1 and '=' (id p)")
    p.add_argument("--train-frac", type=float, default=0.4, help="fraction of the p*p pairs used for training")
    p.add_argument("--split-seed", type=int, default=0, help="seed of the train/validation split (fixed across runs)")
    # model
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--d-model", type=int, default=128)
    p.add_argument("--heads", type=int, default=4)
    # optimiser
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--beta1", type=float, default=0.9)
    p.add_argument("--beta2", type=float, default=0.98)
    p.add_argument("--eps", type=float, default=1e-12)
    p.add_argument("--weight-decay", type=float, default=0.0, help="AdamW decoupled decay on 2-D weights only")
    p.add_argument("--seed", type=int, default=0, help="torch.manual_seed for the initialisation")
    p.add_argument("--steps", type=int, default=6000)
    # recording
    p.add_argument("--val-every", type=int, default=10, help="validation loss/accuracy every N steps (empty cells between)")
    p.add_argument("--probe-train", type=int, default=48, help="training pairs in the probe set")
    p.add_argument("--probe-val", type=int, default=48, help="validation pairs in the probe set")
    p.add_argument("--probe-seed", type=int, default=1234)
    p.add_argument(
        "--sample-seed",
        type=int,
        default=4321,
        help="answers are sampled at temperature 1: pair j at step s from a generator seeded sample_seed + 1000*s + j",
    )
    p.add_argument("--ckpt-offsets", default=OFFSETS, help="checkpoint steps relative to each spike onset")
    p.add_argument("--extra-ckpts", default="", help="comma-separated extra checkpoint steps (besides 0 and the last)")
    p.add_argument("--spike-window", type=int, default=spikes.WINDOW)
    p.add_argument("--spike-z", type=float, default=spikes.Z)
    p.add_argument("--spike-min-log-rise", type=float, default=spikes.MIN_LOG_RISE)
    p.add_argument("--no-replay", action="store_true", help="pass 1 only: metrics, no checkpoints or samples")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    p.add_argument("--tag", action="append", default=[], help="extra run tag (repeatable)")
    p.add_argument("--description", default=None)
    return p


# ---------------------------------------------------------------- data


class Task:
    """All p*p pairs (a, b) as token rows [a, b, '='], answer (a + b) mod p; a fixed split and probe set."""

    def __init__(self, p: int, train_frac: float, split_seed: int, n_probe_train: int, n_probe_val: int, probe_seed: int):
        self.p = p
        self.eq = p
        a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
        a, b = a.reshape(-1), b.reshape(-1)
        tokens = torch.stack([a, b, torch.full_like(a, p)], dim=1)
        answers = (a + b) % p
        perm = torch.randperm(p * p, generator=torch.Generator().manual_seed(split_seed))
        n_train = round(train_frac * p * p)
        tr, va = perm[:n_train].sort().values, perm[n_train:].sort().values
        self.x_train, self.y_train = tokens[tr], answers[tr]
        self.x_val, self.y_val = tokens[va], answers[va]
        g = torch.Generator().manual_seed(probe_seed)
        pt = torch.randperm(len(tr), generator=g)[:n_probe_train].sort().values
        pv = torch.randperm(len(va), generator=g)[:n_probe_val].sort().values
        self.x_probe = torch.cat([self.x_train[pt], self.x_val[pv]])
        self.y_probe = torch.cat([self.y_train[pt], self.y_val[pv]])
        self.probe_is_train = torch.cat([torch.ones(len(pt), dtype=torch.uint8), torch.zeros(len(pv), dtype=torch.uint8)])
        self.split_sha256 = hashlib.sha256(self.x_train.numpy().astype(np.int32).tobytes()).hexdigest()

    def token(self, i: int) -> str:
        return "=" if i == self.eq else str(i)

    def info(self) -> dict:
        return {
            "task": "a + b mod p; input tokens [a, b, '='], target the answer token at the '=' position",
            "vocab": f"{self.p + 1} tokens: 0..{self.p - 1} and '=' (id {self.p})",
            "pairs": self.p * self.p,
            "train_pairs": len(self.y_train),
            "val_pairs": len(self.y_val),
            "split": "torch.randperm(p*p, generator seeded split_seed); first round(train_frac*p*p) are training",
            "train_pairs_sha256": self.split_sha256,
            "probe": {
                "train": int(self.probe_is_train.sum()),
                "val": int((1 - self.probe_is_train).sum()),
                "choice": "torch.randperm of the training then the validation pairs, generator seeded probe_seed",
            },
        }


# ---------------------------------------------------------------- model pieces


def answer_logits(model: TinyGPT, x: torch.Tensor) -> torch.Tensor:
    return model(x)[:, -1]


def param_digest(params: list[torch.Tensor]) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    for q in params:
        h.update(q.detach().numpy().tobytes())
    return h.digest()


@torch.no_grad()
def capture(model: TinyGPT, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The forward pass of TinyGPT written out, keeping TransformerLens-named activations.

    Residual streams are kept at the answer position (the '=' token) only; attention for all
    (query, key) pairs of the 3 positions."""
    T = x.shape[1]
    h = model.tok_emb(x) + model.pos_emb(torch.arange(T))[None]
    cache: dict[str, torch.Tensor] = {}
    for i, block in enumerate(model.blocks):
        mid = h + block.attn(block.ln1(h), capture=True)
        cache[f"blocks.{i}.attn.hook_attn_scores"] = block.attn.cache["attn_scores"]
        cache[f"blocks.{i}.attn.hook_pattern"] = block.attn.cache["pattern"]
        block.attn.cache = {}
        h = mid + block.mlp(block.ln2(mid))
        cache[f"blocks.{i}.hook_resid_mid"] = mid[:, -1]
        cache[f"blocks.{i}.hook_resid_post"] = h[:, -1]
    logits = model.unembed(model.ln_f(h))[:, -1]
    return logits, cache


AXES = {
    "blocks.{i}.hook_resid_mid": ["batch", "d_model"],
    "blocks.{i}.hook_resid_post": ["batch", "d_model"],
    "blocks.{i}.attn.hook_pattern": ["batch", "head", "query_pos", "key_pos"],
    "blocks.{i}.attn.hook_attn_scores": ["batch", "head", "query_pos", "key_pos"],
    "ln_final.w": ["d_model"],
    "ln_final.b": ["d_model"],
    "unembed.W_U": ["d_model", "d_vocab"],
    "unembed.b_U": ["d_vocab"],
    "probe.tokens": ["batch", "pos"],
    "probe.targets": ["batch"],
    "probe.is_train": ["batch"],
}


def axes_of(name: str) -> list[str]:
    for tmpl, ax in AXES.items():
        pre, _, post = tmpl.partition("{i}")
        if name == tmpl or (post and name.startswith(pre) and name.endswith(post) and name[len(pre) : -len(post)].isdigit()):
            return ax
    raise KeyError(name)


def activation(t: torch.Tensor) -> np.ndarray:
    """float16, unless a finite value is beyond its range: then float32."""
    t = t.detach().float()
    finite = t[torch.isfinite(t)]
    if finite.numel() and finite.abs().max().item() > FP16_MAX:
        return t.contiguous().numpy()
    return t.half().contiguous().numpy()


@torch.no_grad()
def record(model: TinyGPT, task: Task, step: int, sample_seed: int) -> tuple[dict[str, np.ndarray], list[dict]]:
    """Checkpoint tensors and sample rows (the model's answer to each probe pair) at one step.

    The answer is *sampled* at temperature 1 (as tinygpt's samples are), so it can differ from the
    model's own top-1; `greedy` is the top-1. Each (pair, step) has its own seeded generator, so an
    answer depends only on the model at that step, never on which other steps were recorded.
    """
    logits, cache = capture(model, task.x_probe)
    out = {k: activation(v) for k, v in cache.items()}
    out["ln_final.w"] = model.ln_f.weight.detach().numpy().copy()
    out["ln_final.b"] = model.ln_f.bias.detach().numpy().copy()
    out["unembed.W_U"] = model.unembed.weight.detach().T.contiguous().numpy()
    out["unembed.b_U"] = model.unembed.bias.detach().numpy().copy()
    out["probe.tokens"] = task.x_probe.to(torch.int32).numpy()
    out["probe.targets"] = task.y_probe.to(torch.int32).numpy()
    out["probe.is_train"] = task.probe_is_train.numpy()
    logp = F.log_softmax(logits.float(), dim=-1)
    assert len(task.y_probe) < 1000, "sample seeds are sample_seed + 1000 * step + pair"
    top_v, top_i = (t.tolist() for t in torch.topk(logp, 5, dim=-1))
    rows = []
    for j in range(len(task.y_probe)):
        a, b, _ = task.x_probe[j].tolist()
        gen = torch.Generator().manual_seed(sample_seed + 1000 * step + j)  # j < 1000 probe pairs
        ans = int(torch.multinomial(logp[j].exp(), 1, generator=gen))
        rows.append(
            {
                "id": f"{step}-{j}",
                "step": step,
                "prompt": f"{a} {b} =",
                "text": task.token(ans),
                "tokens": [task.token(ans)],
                "token_logprobs": [float(f"{float(logp[j, ans]):.7g}")],
                "top_logprobs": [{task.token(i): float(f"{v:.7g}") for v, i in zip(top_v[j], top_i[j], strict=True)}],
                "greedy": task.token(top_i[j][0]),
                "target": task.token(int(task.y_probe[j])),
                "split": "train" if task.probe_is_train[j] else "val",
            }
        )
    return out, rows


def save_checkpoint(tensors: dict[str, np.ndarray], step: int, path: str) -> None:
    from safetensors.numpy import save_file

    meta = {
        "axes": json.dumps({k: axes_of(k) for k in tensors}, sort_keys=True),
        "step": str(step),
        "names": "TransformerLens hook names",
        "notes": "checkpoint at step s = parameters after s optimizer updates, i.e. the model whose training loss "
        "is metrics.csv row s; residual streams at the answer ('=') position only; masked attention scores are "
        "-inf; activations float16 unless a value exceeds its range (then float32); parameters float32",
    }
    tmp = path + ".tmp"
    save_file(tensors, tmp, metadata=meta)
    canonicalize_header(tmp)
    os.replace(tmp, path)


# ---------------------------------------------------------------- training


def build(a: argparse.Namespace, task: Task) -> tuple[TinyGPT, torch.optim.Optimizer, list[torch.Tensor]]:
    torch.manual_seed(a.seed)
    model = TinyGPT(task.p + 1, a.d_model, a.layers, a.heads, ctx=3)
    matrices = [q for q in model.parameters() if q.dim() == 2]
    others = [q for q in model.parameters() if q.dim() != 2]
    opt = torch.optim.AdamW(
        [{"params": matrices, "weight_decay": a.weight_decay}, {"params": others, "weight_decay": 0.0}],
        lr=a.lr,
        betas=(a.beta1, a.beta2),
        eps=a.eps,
    )
    return model, opt, matrices


def step_loss(model: TinyGPT, task: Task) -> tuple[torch.Tensor, torch.Tensor]:
    logits = answer_logits(model, task.x_train)
    return F.cross_entropy(logits, task.y_train), logits


def fmt(x: float) -> str:
    return f"{x:.7g}"


def columns(n_layers: int) -> list[str]:
    return (
        ["step", "loss", "train_acc", "val_loss", "val_acc", "grad_norm", "lr"]
        + [f"attn_logit_max_l{i}" for i in range(n_layers)]
        + ["attn_logit_max", "log_z_abs", "update_rms_ratio", "update_norm", "adam_g2v_rms", "unembed_norm", "param_norm"]
    )


def pass1(a, task: Task, out: str, say) -> tuple[list[bytes], list[bytes], list[float]]:
    """Train and log every step; returns per-step loss bytes, parameter digests and losses."""
    model, opt, matrices = build(a, task)
    params = list(model.parameters())
    cols = columns(a.layers)
    mf = open(os.path.join(out, "metrics.csv"), "w", newline="")  # noqa: SIM115 -- closed below
    writer = csv.writer(mf, lineterminator="\n")
    writer.writerow(cols)
    loss_bytes, digests, losses = [], [], []
    t0 = time.time()
    for step in range(a.steps):
        digests.append(param_digest(params))
        val_loss = val_acc = None
        if a.val_every and step % a.val_every == 0:
            with torch.no_grad():
                vl = answer_logits(model, task.x_val)
                val_loss = F.cross_entropy(vl, task.y_val).item()
                val_acc = (vl.argmax(-1) == task.y_val).double().mean().item()
        loss, logits = step_loss(model, task)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        with torch.no_grad():
            train_acc = (logits.argmax(-1) == task.y_train).double().mean().item()
            log_z_abs = torch.logsumexp(logits.detach(), dim=-1).abs().mean().item()
            attn = model.attn_logit_max()
            grad_norm = math.sqrt(sum((q.grad.double() ** 2).sum().item() for q in params if q.grad is not None))
            unembed_norm = model.unembed.weight.double().norm().item()
            before = [q.detach().clone() for q in params]
            param_norm = math.sqrt(sum((q.double() ** 2).sum().item() for q in before))
        opt.step()
        with torch.no_grad():
            is_matrix = [q.dim() == 2 for q in params]
            d2 = [((q.detach() - b).double() ** 2).sum().item() for q, b in zip(params, before, strict=True)]
            w2m = sum((b.double() ** 2).sum().item() for b, m in zip(before, is_matrix, strict=True) if m)
            d2m = sum(d for d, m in zip(d2, is_matrix, strict=True) if m)
            update_rms_ratio = math.sqrt(d2m / w2m) if w2m > 0 else math.nan
            update_norm = math.sqrt(sum(d2))
            num, cnt = 0.0, 0
            for q in params:
                st = opt.state.get(q)
                if q.grad is None or not st:
                    continue
                vhat = st["exp_avg_sq"].double() / (1 - a.beta2 ** float(st["step"]))
                nz = vhat > 0
                num += ((q.grad.double() ** 2)[nz] / vhat[nz]).sum().item()
                cnt += int(nz.sum())
            adam_g2v_rms = math.sqrt(num / cnt) if cnt else math.nan
        lv = loss.item()
        loss_bytes.append(loss.detach().numpy().tobytes())
        losses.append(lv)
        row = [lv, train_acc, val_loss, val_acc, grad_norm, a.lr, *attn, max(attn), log_z_abs]
        row += [update_rms_ratio, update_norm, adam_g2v_rms, unembed_norm, param_norm]
        writer.writerow([str(step)] + ["" if v is None else fmt(float(v)) for v in row])
        if step % 500 == 0 or step == a.steps - 1:
            mf.flush()
            va = "" if val_loss is None else f" val {val_loss:.3g}/{val_acc:.3f}"
            say(
                f"pass 1 step {step:5d} loss {lv:.3g} acc {train_acc:.3f}{va} gnorm {grad_norm:.3g} "
                f"attn_max {max(attn):.3g} |W_U| {unembed_norm:.4g} upd {update_norm:.3g}  [{time.time() - t0:.0f}s]"
            )
        if not math.isfinite(lv):
            say(f"non-finite loss at step {step}: stopping")
            break
    mf.close()
    return loss_bytes, digests, losses


def pass2(a, task: Task, ckpt_steps: list[int], loss_bytes: list[bytes], digests: list[bytes], say):
    """Replay from the same seed; record at `ckpt_steps`; refuse if any step differs from pass 1."""
    model, opt, _ = build(a, task)
    params = list(model.parameters())
    wanted = set(ckpt_steps)
    recorded: dict[int, tuple[dict, list[dict]]] = {}
    last = max(ckpt_steps)
    t0 = time.time()
    for step in range(last + 1):
        if param_digest(params) != digests[step]:
            raise SystemExit(f"replay differs from pass 1: parameters before step {step}; no checkpoints written")
        if step in wanted:
            recorded[step] = record(model, task, step, a.sample_seed)
        loss, _ = step_loss(model, task)
        if loss.detach().numpy().tobytes() != loss_bytes[step]:
            raise SystemExit(
                f"replay differs from pass 1 at step {step}: loss {loss.item()!r} vs "
                f"{np.frombuffer(loss_bytes[step], dtype=np.float32)[0]!r}; no checkpoints written"
            )
        if step == last:
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 1000 == 0:
            say(f"pass 2 step {step:5d}  [{time.time() - t0:.0f}s]")
    return recorded, last + 1


def default_tags(a) -> list[str]:
    tags = ["transformer", "modarith", "spontaneous-spikes", f"seed-{a.seed}", f"layers-{a.layers}"]
    tags.append("weight-decay" if a.weight_decay > 0 else "no-weight-decay")
    return tags + [t for t in a.tag if t not in tags]


def write_run_yaml(out: str, a, config: dict, created: str) -> None:
    desc = a.description or (
        f"{a.layers}-layer transformer (d_model {a.d_model}, {a.heads} heads) on a + b mod {a.p}, "
        f"{a.train_frac:g} of pairs for training, full batch, Adam(W) lr {a.lr:g} betas ({a.beta1:g}, {a.beta2:g}) "
        f"eps {a.eps:g} weight decay {a.weight_decay:g}, seed {a.seed}, {a.steps} steps"
    )
    doc = {
        "id": os.path.basename(os.path.normpath(out)),
        "description": desc,
        "tags": default_tags(a),
        "config": config,
        "created": created,
        "artifacts": {"metrics": {"path": "metrics.csv"}},
    }
    if not a.no_replay:
        lens = {f"lens.{2 * i}": f"blocks.{i}.hook_resid_mid" for i in range(a.layers)}
        lens |= {f"lens.{2 * i + 1}": f"blocks.{i}.hook_resid_post" for i in range(a.layers)}
        doc["artifacts"]["activations"] = {"path": "checkpoints", "kind": "activations", "aliases": dict(sorted(lens.items()))}
        doc["artifacts"]["samples"] = {"path": "samples.jsonl", "kind": "text"}
    with open(os.path.join(out, "run.yaml"), "w") as fh:
        yaml.safe_dump(doc, fh, sort_keys=False, default_flow_style=None, width=100)


def checkpoint_steps(onsets: list[int], offsets: list[int], extra: list[int], n_rows: int) -> list[int]:
    steps = {0, n_rows - 1} | {s for s in extra if 0 <= s < n_rows}
    steps |= {t + d for t in onsets for d in offsets if 0 <= t + d < n_rows}
    return sorted(steps)


def train(a: argparse.Namespace) -> dict:
    t0 = time.time()
    created = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = a.out
    if os.path.exists(out):
        if not a.force:
            raise SystemExit(f"{out} exists (use --force to replace it)")
        shutil.rmtree(out)
    os.makedirs(out)
    torch.set_num_threads(a.threads)
    task = Task(a.p, a.train_frac, a.split_seed, a.probe_train, a.probe_val, a.probe_seed)
    log = open(os.path.join(out, "train.log"), "w")  # noqa: SIM115 -- closed at the end

    def say(msg: str) -> None:
        print(msg, flush=True)
        log.write(msg + "\n")
        log.flush()

    say(f"{os.path.basename(out)}: p {a.p}, {len(task.y_train)} training pairs, torch {torch.__version__}, {a.threads} thread(s)")
    loss_bytes, digests, losses = pass1(a, task, out, say)
    t1 = time.time()
    found = spikes.onsets(losses, a.spike_window, a.spike_z, a.spike_min_log_rise)
    events = [spikes.describe(losses, t, a.spike_window) for t in found]
    say(f"pass 1: {len(losses)} steps in {t1 - t0:.1f}s ({len(losses) / (t1 - t0):.2f} steps/s); onsets {found}")
    for e in events:
        say(
            f"  onset {e['onset']}: median {e['median_before']:.3g} -> peak {e['peak']:.3g} at {e['peak_step']} "
            f"(x{e['ratio']:.3g})"
        )
    offsets = [int(x) for x in a.ckpt_offsets.split(",") if x.strip()]
    extra = [int(x) for x in a.extra_ckpts.split(",") if x.strip()]
    ckpts = checkpoint_steps(found, offsets, extra, len(losses))
    replay = None
    if not a.no_replay:
        recorded, n_replayed = pass2(a, task, ckpts, loss_bytes, digests, say)
        t2 = time.time()
        say(f"pass 2: replayed {n_replayed} steps in {t2 - t1:.1f}s, loss bytes and parameters identical at every step")
        os.makedirs(os.path.join(out, "checkpoints"))
        with open(os.path.join(out, "samples.jsonl"), "w") as sf:
            for s in ckpts:
                tensors, rows = recorded[s]
                save_checkpoint(tensors, s, os.path.join(out, "checkpoints", f"step_{s:06d}.safetensors"))
                for r in rows:
                    sf.write(json.dumps(r, ensure_ascii=False) + "\n")
        replay = {
            "steps_compared": n_replayed,
            "identical": True,
            "compared": "float32 bytes of the training loss and a blake2b digest of all parameters, every step",
            "seconds": round(t2 - t1, 1),
        }
    config = {k: v for k, v in vars(a).items() if k not in ("out", "force", "tag", "description")}
    config.update(
        {
            "model": "examples.tinygpt.model.TinyGPT (pre-LN, GELU MLP 4*d_model, learned token+position embeddings, "
            "final LayerNorm, untied unembedding with bias), ctx 3",
            "optimizer": "torch.optim.AdamW (weight decay on 2-D weights only)",
            "batch": "full batch: every training pair at every step",
            "n_params": sum(q.numel() for q in TinyGPT(a.p + 1, a.d_model, a.layers, a.heads, ctx=3).parameters()),
            "data": task.info(),
            "steps_run": len(losses),
            "spikes": {
                "rule": "robust z on ln(loss): window, z, min_log_rise (see examples/modarith/spikes.py)",
                "window": a.spike_window,
                "z": a.spike_z,
                "min_log_rise": a.spike_min_log_rise,
                "onsets": found,
                "events": [{k: (round(v, 7) if isinstance(v, float) else v) for k, v in e.items()} for e in events],
            },
            "checkpoint_steps": ckpts if not a.no_replay else [],
            "replay": replay,
            "pass1_seconds": round(t1 - t0, 1),
            "env": {"torch": str(torch.__version__), "python": platform.python_version(), "numpy": np.__version__},
        }
    )
    write_run_yaml(out, a, config, created)
    wall = time.time() - t0
    say(f"done in {wall:.1f}s")
    log.close()
    return {"steps": len(losses), "onsets": found, "events": events, "checkpoint_steps": ckpts, "wall_seconds": wall}


def main(argv: list[str] | None = None) -> int:
    train(build_parser().parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
