"""Train the instrumented tiny GPT and write a run folder for the claims registry.

    python -m examples.tinygpt.train --out runs/tinygpt-demo --lr 1e-2 --no-qk-norm --seed 0 --steps 500

See README.md in this folder for what is recorded and how.
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import json
import math
import os
import platform
import shutil
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
import yaml

from .data import PROMPTS, VOCAB_SIZE, Batches, decode_token, encode, load_corpus
from .model import TinyGPT

FP16_MAX = 65504.0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m examples.tinygpt.train", description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--out", help="run folder to create (its name is the run id)")
    p.add_argument("--all", action="store_true", help="regenerate the shipped set (see make_runs.py) and exit")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    # optimisation
    p.add_argument("--lr", type=float, default=1e-2, help="peak learning rate")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--warmup", type=int, default=0, help="linear warm-up steps")
    p.add_argument(
        "--schedule",
        choices=["constant", "cosine"],
        default="constant",
        help="lr after warm-up: constant, or cosine decay to min-lr-frac * lr at the last step",
    )
    p.add_argument("--min-lr-frac", type=float, default=0.1)
    p.add_argument("--lr-jumps", default="", help="piecewise-constant overrides after warm-up, 'STEP:LR,...' (lr from STEP on)")
    p.add_argument("--beta1", type=float, default=0.9)
    p.add_argument("--beta2", type=float, default=0.95)
    p.add_argument("--eps", type=float, default=1e-8)
    p.add_argument("--weight-decay", type=float, default=0.0, help="AdamW decoupled decay on 2-D weights only")
    p.add_argument("--clip", type=float, default=0.0, help="clip the global grad norm to this (0 = no clipping)")
    # model
    p.add_argument("--qk-norm", action=argparse.BooleanOptionalAction, default=False, help="LayerNorm on queries and keys")
    p.add_argument(
        "--attn-dtype",
        choices=["float32", "bfloat16", "float16"],
        default="float32",
        help="dtype in which q.k^T is computed (then cast back to float32 for the softmax)",
    )
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--n-layers", type=int, default=2)
    p.add_argument("--n-heads", type=int, default=4)
    p.add_argument("--ctx", type=int, default=64)
    # seeds and data
    p.add_argument("--seed", type=int, default=0, help="torch.manual_seed for the initialisation")
    p.add_argument("--data-seed", type=int, default=None, help="seed of the batch order (default: --seed)")
    p.add_argument("--n-files", type=int, default=60, help="training files: the first N stdlib *.py by name")
    p.add_argument(
        "--shuffle-steps", default="", help="comma-separated steps whose batch has its characters permuted (injected anomalies)"
    )
    # recording
    p.add_argument("--ckpt-every", type=int, default=50, help="checkpoint period; plus step 0 and the last step")
    p.add_argument("--extra-ckpts", default="", help="comma-separated extra checkpoint steps")
    p.add_argument("--probe-batch", type=int, default=4)
    p.add_argument("--probe-len", type=int, default=32)
    p.add_argument(
        "--attn-scores",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="also save pre-softmax attention scores in the checkpoints",
    )
    p.add_argument("--sample-len", type=int, default=48)
    p.add_argument("--sample-seed", type=int, default=1234)
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    p.add_argument(
        "--max-seconds",
        type=float,
        default=0.0,
        help="stop after this much wall time (0 = no limit); the run is then shorter than --steps",
    )
    p.add_argument("--stop-on-nan", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--tag", action="append", default=[], help="extra run tag (repeatable)")
    p.add_argument("--description", default=None)
    return p


def lr_at(step: int, a: argparse.Namespace) -> float:
    if a.warmup and step < a.warmup:
        return a.lr * (step + 1) / a.warmup
    jumps = sorted((int(k), float(v)) for k, v in (j.split(":") for j in a.lr_jumps.split(",") if j.strip()))
    for at, lr in reversed(jumps):
        if step >= at:
            return lr
    if a.schedule == "cosine":
        span = max(1, a.steps - 1 - a.warmup)
        frac = min(1.0, (step - a.warmup) / span)
        return a.lr * (a.min_lr_frac + (1 - a.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * frac)))
    return a.lr


def fmt(x: float) -> str:
    return f"{x:.7g}"


def to_np(t: torch.Tensor, key: str, dtypes: dict) -> np.ndarray:
    """float16 unless a finite value would overflow it, then float32."""
    t = t.detach().float()
    finite = t[torch.isfinite(t)]
    if finite.numel() and finite.abs().max().item() > FP16_MAX:
        dtypes[key] = "float32"
        return t.contiguous().numpy()
    dtypes[key] = "float16"
    return t.half().contiguous().numpy()


AXES_TEMPLATE = {
    "blocks.0.hook_resid_pre": ["batch", "pos", "d_model"],
    "blocks.{i}.hook_resid_post": ["batch", "pos", "d_model"],
    "blocks.{i}.attn.hook_pattern": ["batch", "head", "query_pos", "key_pos"],
    "blocks.{i}.attn.hook_attn_scores": ["batch", "head", "query_pos", "key_pos"],
    "ln_final.w": ["d_model"],
    "ln_final.b": ["d_model"],
    "unembed.W_U": ["d_model", "d_vocab"],
    "unembed.b_U": ["d_vocab"],
    "probe.tokens": ["batch", "pos"],
    "probe.targets": ["batch", "pos"],
}


@torch.no_grad()
def save_checkpoint(model: TinyGPT, probe: torch.Tensor, step: int, path: str, a, probe_file: str) -> None:
    from safetensors.numpy import save_file

    tokens, targets = probe[:, :-1], probe[:, 1:]
    _, cache = model(tokens, capture=True)
    dtypes: dict[str, str] = {}
    out: dict[str, np.ndarray] = {}
    for k, v in cache.items():
        if k.endswith("hook_attn_scores") and not a.attn_scores:
            continue
        out[k] = to_np(v, k, dtypes)
    out["ln_final.w"] = to_np(model.ln_f.weight, "ln_final.w", dtypes)
    out["ln_final.b"] = to_np(model.ln_f.bias, "ln_final.b", dtypes)
    out["unembed.W_U"] = to_np(model.unembed.weight.T, "unembed.W_U", dtypes)
    out["unembed.b_U"] = to_np(model.unembed.bias, "unembed.b_U", dtypes)
    out["probe.tokens"] = tokens.to(torch.int32).contiguous().numpy()
    out["probe.targets"] = targets.to(torch.int32).contiguous().numpy()
    axes = {}
    for k in out:
        for tmpl, ax in AXES_TEMPLATE.items():
            if "{i}" in tmpl:
                pre, post = tmpl.split("{i}")
                if k.startswith(pre) and k.endswith(post) and k[len(pre) : len(k) - len(post)].isdigit():
                    axes[k] = ax
            elif k == tmpl:
                axes[k] = ax
    meta = {
        "axes": json.dumps(axes, sort_keys=True),
        "step": str(step),
        "names": "TransformerLens hook names",
        "probe": json.dumps(
            {
                "file": probe_file,
                "batch": a.probe_batch,
                "len": a.probe_len,
                "targets": "next-token ids, probe.tokens shifted by one",
            }
        ),
        "notes": "checkpoint at step s = parameters after s optimizer updates, i.e. the model whose "
        "training loss is metrics.csv row s; masked attention scores are -inf; "
        "float tensors are float16 unless a value exceeds the float16 range, then float32",
    }
    tmp = path + ".tmp"
    save_file(out, tmp, metadata=meta)
    canonicalize_header(tmp)
    os.replace(tmp, path)


def canonicalize_header(path: str) -> None:
    """Rewrite a safetensors header with its ``__metadata__`` keys sorted.

    ``safetensors`` writes the metadata entries in hash-map order, which differs between processes,
    so identical checkpoints would otherwise differ in bytes (and in sha256) between regenerations.
    Tensor entries and data are left as they are (data offsets are relative to the end of the
    header); the header is padded with spaces to a multiple of 8 bytes, as safetensors does.
    """
    with open(path, "rb") as fh:
        blob = fh.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n])
    meta = header.pop("__metadata__", None)
    new = ({"__metadata__": dict(sorted(meta.items()))} if meta else {}) | header
    enc = json.dumps(new, separators=(",", ":")).encode("utf-8")
    enc += b" " * (-len(enc) % 8)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(enc)) + enc + blob[8 + n :])


@torch.no_grad()
def generate(model: TinyGPT, step: int, a) -> list[dict]:
    rows = []
    finite = all(torch.isfinite(p).all() for p in model.parameters())
    for j, prompt in enumerate(PROMPTS):
        gen = torch.Generator().manual_seed(a.sample_seed + j)  # same RNG stream at every checkpoint
        idx = encode(prompt)[None]
        toks, lps, tops = [], [], []
        for _ in range(a.sample_len if finite else 0):
            logits = model(idx[:, -model.ctx :])[0, -1].float()
            logp = F.log_softmax(logits, dim=-1)  # temperature 1
            if not torch.isfinite(logp).all():
                break
            nxt = int(torch.multinomial(logp.exp(), 1, generator=gen))
            top_v, top_i = torch.topk(logp, 5)
            toks.append(decode_token(nxt))
            lps.append(round(float(logp[nxt]), 5))
            tops.append({decode_token(i): round(float(v), 4) for v, i in zip(top_v.tolist(), top_i.tolist(), strict=True)})
            idx = torch.cat([idx, torch.tensor([[nxt]])], dim=1)
        rows.append(
            {
                "id": f"{step}-{j}",
                "step": step,
                "prompt": prompt,
                "text": "".join(toks),
                "tokens": toks,
                "token_logprobs": lps,
                "top_logprobs": tops,
            }
        )
    return rows


def default_tags(a) -> list[str]:
    tags = ["transformer", "tinygpt", "qk-norm" if a.qk_norm else "no-qk-norm", f"seed-{a.seed}"]
    if a.shuffle_steps:
        tags.append("injected-anomalies")
    for t in a.tag:
        if t not in tags:
            tags.append(t)
    return tags


def write_run_yaml(out: str, a, config: dict, created: str) -> None:
    run_id = os.path.basename(os.path.normpath(out))
    desc = a.description or (
        f"{a.n_layers}-layer char GPT (d_model {a.d_model}, {a.n_heads} heads, ctx {a.ctx}) on Python "
        f"stdlib source, lr {a.lr:g}, {'with' if a.qk_norm else 'no'} qk-layernorm, seed {a.seed}, "
        f"{a.steps} steps"
        + (f"; lr overrides (step:lr) {a.lr_jumps}" if a.lr_jumps else "")
        + (f"; characters of every sequence permuted at steps {a.shuffle_steps}" if a.shuffle_steps else "")
    )
    doc = {
        "id": run_id,
        "description": desc,
        "tags": default_tags(a),
        "config": config,
        "created": created,
        "artifacts": {
            "metrics": {"path": "metrics.csv"},
            "activations": {"path": "checkpoints", "kind": "activations"},
            "samples": {"path": "samples.jsonl", "kind": "text"},
        },
    }
    with open(os.path.join(out, "run.yaml"), "w") as fh:
        yaml.safe_dump(doc, fh, sort_keys=False, default_flow_style=None, width=100)


def train(a: argparse.Namespace) -> dict:
    t0 = time.time()
    created = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if a.data_seed is None:
        a.data_seed = a.seed
    shuffle_steps = frozenset(int(s) for s in a.shuffle_steps.split(",") if s.strip())
    out = a.out
    if os.path.exists(out):
        if not a.force:
            raise SystemExit(f"{out} exists (use --force to replace it)")
        shutil.rmtree(out)
    os.makedirs(os.path.join(out, "checkpoints"))

    torch.set_num_threads(a.threads)
    corpus = load_corpus(a.n_files, probe_batch=a.probe_batch, probe_len=a.probe_len)
    torch.manual_seed(a.seed)
    model = TinyGPT(VOCAB_SIZE, a.d_model, a.n_layers, a.n_heads, a.ctx, a.qk_norm, a.attn_dtype)
    matrices = [p for p in model.parameters() if p.dim() == 2]
    others = [p for p in model.parameters() if p.dim() != 2]
    opt = torch.optim.AdamW(
        [{"params": matrices, "weight_decay": a.weight_decay}, {"params": others, "weight_decay": 0.0}],
        lr=a.lr,
        betas=(a.beta1, a.beta2),
        eps=a.eps,
    )
    batches = Batches(corpus.data, a.batch_size, a.ctx, a.data_seed, shuffle_steps)
    extra = {int(x) for x in a.extra_ckpts.split(",") if x.strip()}
    ckpt_steps = sorted(set(range(0, a.steps, a.ckpt_every)) | {a.steps - 1} | {x for x in extra if 0 <= x < a.steps})

    config = {k: v for k, v in vars(a).items() if k not in ("out", "all", "force", "tag", "description")}
    config["shuffle_steps"] = sorted(shuffle_steps)
    config["lr_jumps"] = a.lr_jumps
    config.update(
        {
            "optimizer": "torch.optim.AdamW",
            "tied_embeddings": False,
            "n_params": sum(p.numel() for p in model.parameters()),
            "checkpoint_steps": ckpt_steps,
            "sampling": {
                "temperature": 1.0,
                "prompts": PROMPTS,
                "generator": "torch.Generator seeded sample_seed + prompt index at every checkpoint",
            },
            "corpus": corpus.info(),
            "env": {"torch": str(torch.__version__), "python": platform.python_version(), "numpy": np.__version__},
        }
    )
    write_run_yaml(out, a, config, created)

    n_layers = a.n_layers
    cols = (
        ["step", "loss", "grad_norm", "lr"]
        + [f"attn_logit_max_l{i}" for i in range(n_layers)]
        + ["attn_logit_max", "log_z_abs", "update_rms_ratio", "adam_g2v_rms"]
    )
    log = open(os.path.join(out, "train.log"), "w")  # noqa: SIM115 -- closed at the end of train()
    mf = open(os.path.join(out, "metrics.csv"), "w", newline="")  # noqa: SIM115
    writer = csv.writer(mf, lineterminator="\n")
    writer.writerow(cols)
    samples_f = open(os.path.join(out, "samples.jsonl"), "w")  # noqa: SIM115

    def say(msg: str) -> None:
        print(msg, flush=True)
        log.write(msg + "\n")
        log.flush()

    say(
        f"{os.path.basename(out)}: {config['n_params']} params, {corpus.data.numel()} chars, "
        f"{len(ckpt_steps)} checkpoints, torch {torch.__version__}, {a.threads} thread(s)"
    )
    params = list(model.parameters())
    last = {}
    steps_done = 0
    for step in range(a.steps):
        if step in ckpt_steps:
            model.eval()
            save_checkpoint(
                model,
                corpus.probe_tokens,
                step,
                os.path.join(out, "checkpoints", f"step_{step:06d}.safetensors"),
                a,
                corpus.probe_file,
            )
            for row in generate(model, step, a):
                samples_f.write(json.dumps(row, ensure_ascii=False) + "\n")
            samples_f.flush()
            model.train()
        lr = lr_at(step, a)
        for g in opt.param_groups:
            g["lr"] = lr
        x, y = batches.get(step)
        logits = model(x)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        with torch.no_grad():
            log_z_abs = torch.logsumexp(logits.detach(), dim=-1).abs().mean().item()
            attn = model.attn_logit_max()
            grads = [p.grad for p in params if p.grad is not None]
            grad_norm = torch.sqrt(sum((g.double() ** 2).sum() for g in grads)).item()
            if a.clip > 0:
                torch.nn.utils.clip_grad_norm_(params, a.clip)
            before = [m.detach().clone() for m in matrices]
        opt.step()
        with torch.no_grad():
            d2 = sum(((m.detach() - b).double() ** 2).sum() for m, b in zip(matrices, before, strict=True))
            w2 = sum((b.double() ** 2).sum() for b in before)
            update_rms_ratio = math.sqrt(d2.item() / w2.item()) if w2.item() > 0 else float("nan")
            num, cnt = 0.0, 0
            for p in params:
                st = opt.state.get(p)
                if p.grad is None or not st:
                    continue
                t = float(st["step"])
                vhat = st["exp_avg_sq"].double() / (1 - a.beta2**t)
                nz = vhat > 0
                num += ((p.grad.double() ** 2)[nz] / vhat[nz]).sum().item()
                cnt += int(nz.sum())
            adam_g2v_rms = math.sqrt(num / cnt) if cnt else float("nan")
        lv = loss.item()
        row = [step, lv, grad_norm, lr] + attn + [max(attn), log_z_abs, update_rms_ratio, adam_g2v_rms]
        writer.writerow([str(step)] + [fmt(float(v)) for v in row[1:]])
        steps_done = step + 1
        last = dict(zip(cols, row, strict=True))
        if step % 100 == 0 or step == a.steps - 1:
            mf.flush()
            say(
                f"step {step:5d} loss {lv:.4f} gnorm {grad_norm:.3g} lr {lr:.3g} attn_max "
                f"{' '.join(f'{v:.3g}' for v in attn)} logZ {log_z_abs:.3g} upd {update_rms_ratio:.3g} "
                f"g2v {adam_g2v_rms:.3g}  [{time.time() - t0:.0f}s]"
            )
        if a.stop_on_nan and not math.isfinite(lv):
            say(f"non-finite loss at step {step}: stopping")
            break
        if a.max_seconds and time.time() - t0 > a.max_seconds and step < a.steps - 1:
            say(f"--max-seconds {a.max_seconds:g} reached after step {step}: stopping")
            break
    mf.close()
    samples_f.close()
    wall = time.time() - t0
    say(f"done: {steps_done} steps in {wall:.1f}s ({wall / max(1, steps_done) * 1000:.0f} ms/step incl. recording)")
    log.close()
    return {"steps": steps_done, "wall_seconds": wall, "last": last}


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    if a.all:
        from .make_runs import main as make_all

        return make_all([])
    if not a.out:
        build_parser().error("--out is required (or --all)")
    train(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
