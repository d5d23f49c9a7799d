"""SmolLM2-135M greedy decoding at batch 1: dense vs calibrated thresholds + sparse kernels.

    .venv/bin/python -m benchmarks.smollm2_decode

"Model-wide density d" (TEAL-style): a magnitude threshold on the input of every Linear in the
decoder layers (q/k/v/o projections and gate/up/down, 210 layers), calibrated to density d on
16 train passages, then each of those Linears swapped for ``SparseInputLinear`` (mode 'auto')
with its threshold carried over. Both steps are ``accelerate()`` with ``prune=False,
measure=False``. The tied ``lm_head`` (576 x 49152, 21% of the weights) keeps its dense input
and stays an ``nn.Linear`` (its input density is 1, below ``min_speedup``'s FLOP ratio).

Measured, in one process with 2 threads:

- greedy decoding (manual loop, ``use_cache=True``, argmax): prompts of 32 tokens from
  held-out passages, 64 new tokens; dense and each density interleaved, medians of repeats.
  Tokens/s counts the 63 steps after the prefill; the prefill is reported apart.
- perplexity on 32 held-out passages x up to 128 tokens (``calibrate_thresholds.perplexity``);
- the lowest density also with every SparseInputLinear forced to ``mode='sparse'`` (the kernel
  even where the measured crossover says dense) and ``mode='dense'`` (the same thresholds on
  ``F.linear``: the cost of the thresholds alone, and the reference for token agreement);
- where the time of one decode step goes (dense, and the lowest density in 'auto' and
  'sparse' mode): exclusive times per module kind from forward hooks, and inside
  SparseInputLinear the kernel's ctypes call, the dense fallback and the Python around them
  (timed by wrapping them in this process; the library is not changed).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import time
from collections import defaultdict
from typing import Any

import torch
from torch import Tensor, nn

from actsparse import zoo
from actsparse.exploit.accelerate import accelerate
from actsparse.exploit.linear import SparseInputLinear
from actsparse.exploit.linear_kernels import linear_kernel
from actsparse.induce.magnitude import MagnitudeThreshold
from benchmarks._timing import write_json
from benchmarks.calibrate_thresholds import CASES, batches, perplexity

DECODER_LINEARS = ["model.layers.*.self_attn.*_proj", "model.layers.*.mlp.*_proj"]


def prompts(zm: zoo.ZooModel, count: int, length: int) -> list[Tensor]:
    """The first ``length`` tokens of the first ``count`` held-out passages that long."""
    out: list[Tensor] = []
    for text in zoo.load_data("text", split="test").texts:
        ids = zm.tokenizer(text, return_tensors="pt")["input_ids"]
        if ids.shape[1] >= length:
            out.append(ids[:, :length])
        if len(out) == count:
            break
    return out


@torch.inference_mode()
def greedy(model: nn.Module, prompt: Tensor, new_tokens: int) -> tuple[list[int], float, float]:
    """Greedy continuation of ``prompt``; returns (tokens, prefill seconds, decode seconds)."""
    t0 = time.perf_counter()
    out = model(input_ids=prompt, use_cache=True, logits_to_keep=1)
    past = out.past_key_values
    nxt = out.logits[:, -1].argmax(-1, keepdim=True)
    t1 = time.perf_counter()
    tokens = [int(nxt)]
    for _ in range(new_tokens - 1):
        out = model(input_ids=nxt, past_key_values=past, use_cache=True)
        past = out.past_key_values
        nxt = out.logits[:, -1].argmax(-1, keepdim=True)
        tokens.append(int(nxt))
    return tokens, t1 - t0, time.perf_counter() - t1


def set_mode(model: nn.Module, mode: str) -> None:
    """Set every SparseInputLinear's route ('auto', 'sparse' or 'dense')."""
    for m in model.modules():
        if isinstance(m, SparseInputLinear):
            m.mode = mode  # type: ignore[assignment]


def time_decoding(models: dict[str, tuple[nn.Module, str]], prompt_ids: list[Tensor],
                  new_tokens: int, repeats: int) -> dict[str, Any]:
    """All models on all prompts, interleaved within each repeat; medians over repeats."""
    for model, mode in models.values():  # warm-up: crossovers, weight re-layout, caches
        set_mode(model, mode)
        greedy(model, prompt_ids[0], 8)
    decode: dict[str, list[float]] = defaultdict(list)
    prefill: dict[str, list[float]] = defaultdict(list)
    tokens: dict[str, list[list[int]]] = {}
    for r in range(repeats):
        for name, (model, mode) in models.items():
            set_mode(model, mode)
            dec, pre, toks = 0.0, 0.0, []
            for ids in prompt_ids:
                out, p, d = greedy(model, ids, new_tokens)
                dec, pre = dec + d, pre + p
                toks.append(out)
            decode[name].append(dec)
            prefill[name].append(pre)
            tokens[name] = toks
        print(f"repeat {r + 1}/{repeats}: " + ", ".join(
            f"{n} {len(prompt_ids) * (new_tokens - 1) / decode[n][-1]:.2f} tok/s"
            for n in models))
    steps = len(prompt_ids) * (new_tokens - 1)
    base = next(iter(models))
    thresholded = next((n for n in models if n.endswith("mode=dense")), base)
    rows = {}
    for name in models:
        ratios = [b / c for b, c in zip(decode[base], decode[name], strict=True)]
        same = [_common_prefix(a, b) for a, b in zip(tokens[base], tokens[name], strict=True)]
        rows[name] = {
            "decode_tokens_per_s": steps / statistics.median(decode[name]),
            "decode_ms_per_token": 1e3 * statistics.median(decode[name]) / steps,
            "prefill_ms_per_prompt": 1e3 * statistics.median(prefill[name]) / len(prompt_ids),
            "speedup_vs_dense": statistics.median(ratios),
            "speedup_per_repeat": ratios,
            "tokens_identical_to_dense": sum(same) / (len(same) * new_tokens),
            "first_divergence_per_prompt": same,
            "tokens_identical_to_same_thresholds_F_linear": sum(
                _common_prefix(a, b) for a, b in zip(tokens[thresholded], tokens[name],
                                                     strict=True)) / (len(same) * new_tokens),
            "decode_s_per_repeat": decode[name],
        }
    return rows


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=True):
        if x != y:
            break
        n += 1
    return n


def step_breakdown(model: nn.Module, prompt: Tensor, steps: int) -> dict[str, Any]:
    """Where one decode step's time goes, by module kind: exclusive times from forward hooks
    (a module's time minus that of the hooked modules it calls)."""
    with torch.inference_mode():
        out = model(input_ids=prompt, use_cache=True, logits_to_keep=1)
    past, nxt = out.past_key_values, out.logits[:, -1].argmax(-1, keepdim=True)
    spent: dict[str, float] = defaultdict(float)
    stack: list[list[float]] = []  # [start, time spent in hooked children]
    handles = []
    for name, module in model.named_modules():
        key = _kind(name, module)
        if key is None:
            continue

        def pre(_m: nn.Module, _a: Any) -> None:
            stack.append([time.perf_counter(), 0.0])

        def post(_m: nn.Module, _a: Any, _o: Any, key: str = key) -> None:
            start, children = stack.pop()
            elapsed = time.perf_counter() - start
            spent[key] += elapsed - children
            if stack:
                stack[-1][1] += elapsed

        # appended: runs after the threshold pre-hook (prepended), so a Linear's time
        # excludes its threshold, which is timed by its own hooks
        handles.append(module.register_forward_pre_hook(pre))
        handles.append(module.register_forward_hook(post))
    inside: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    try:
        _instrument(inside, calls)
        with torch.inference_mode():
            model(input_ids=nxt, past_key_values=past, use_cache=True)  # warm
            spent.clear()
            inside.clear()
            calls.clear()
            t0 = time.perf_counter()
            for _ in range(steps):
                out = model(input_ids=nxt, past_key_values=past, use_cache=True)
                nxt = out.logits[:, -1].argmax(-1, keepdim=True)
            total = 1e3 * (time.perf_counter() - t0) / steps
    finally:
        _restore()
        for h in handles:
            h.remove()
    ms = {k: 1e3 * v / steps for k, v in spent.items()}
    within = {k: round(1e3 * v / steps, 3) for k, v in inside.items()}
    sil = ms.get("decoder Linears (SparseInputLinear)")
    if sil is not None:
        within["python outside kernel and F.linear"] = round(
            sil - within.get("kernel (ctypes call)", 0.0)
            - within.get("dense route F.linear", 0.0), 3)
        within["per_call_python_us"] = round(
            1e3 * within["python outside kernel and F.linear"] * steps / max(
                calls["module"], 1), 2)
    per_step_calls = {k: v / steps for k, v in calls.items()}
    ms["rest (embedding, rotary table, masks, cache, HF outputs, argmax)"] = total - sum(
        ms.values())
    return {"ms_per_step_with_hooks": total,
            "ms": {k: round(v, 3) for k, v in ms.items()},
            "inside_SparseInputLinear_ms": within, "calls_per_step": per_step_calls,
            "share": {k: round(v / total, 4) for k, v in ms.items()}}


_SAVED: dict[str, Any] = {}


def _instrument(inside: dict[str, float], calls: dict[str, int]) -> None:
    """Time, inside SparseInputLinear, the kernel's ctypes call and the dense fallback, by
    wrapping them in this process (the library files are not changed)."""
    lib = linear_kernel()
    _SAVED.update(dense=SparseInputLinear._dense, forward=SparseInputLinear.forward, lib=lib)
    dense_fn, forward_fn = SparseInputLinear._dense, SparseInputLinear.forward

    def dense(self: SparseInputLinear, input: Tensor, count: bool) -> Tensor:
        t0 = time.perf_counter()
        y = dense_fn(self, input, count)
        inside["dense route F.linear"] += time.perf_counter() - t0
        calls["dense route"] += 1
        return y

    def forward(self: SparseInputLinear, input: Tensor) -> Tensor:
        calls["module"] += 1
        return forward_fn(self, input)

    SparseInputLinear._dense = dense  # type: ignore[method-assign]
    SparseInputLinear.forward = forward  # type: ignore[method-assign]
    if lib is not None:
        kernel_fn = lib.actsparse_linear_f32
        _SAVED["kernel"] = kernel_fn

        class Kernel:
            argtypes, restype = kernel_fn.argtypes, kernel_fn.restype  # as load_library expects

            def __call__(self, *args: Any) -> int:
                t0 = time.perf_counter()
                status = kernel_fn(*args)
                inside["kernel (ctypes call)"] += time.perf_counter() - t0
                calls["kernel" if status == 0 else "kernel declined (too dense)"] += 1
                return int(status)

        lib.actsparse_linear_f32 = Kernel()


def _restore() -> None:
    if not _SAVED:
        return
    SparseInputLinear._dense = _SAVED["dense"]  # type: ignore[method-assign]
    SparseInputLinear.forward = _SAVED["forward"]  # type: ignore[method-assign]
    if "kernel" in _SAVED:
        _SAVED["lib"].actsparse_linear_f32 = _SAVED["kernel"]
    _SAVED.clear()


def _kind(name: str, module: nn.Module) -> str | None:
    if isinstance(module, MagnitudeThreshold):
        return "thresholds (abs, masked_fill)"
    if name == "lm_head":
        return "lm_head (dense)"
    if isinstance(module, SparseInputLinear):
        return "decoder Linears (SparseInputLinear)"
    if isinstance(module, nn.Linear):
        return "decoder Linears (dense nn.Linear)"
    cls = type(module).__name__
    for suffix, key in (("Attention", "attention core (rotary, cache update, sdpa, reshapes)"),
                        ("MLP", "mlp elementwise (silu * up)"), ("RMSNorm", "rmsnorm"),
                        ("DecoderLayer", "decoder-layer glue (residual adds)")):
        if cls.endswith(suffix):
            return key
    return None


def weight_shares(model: nn.Module) -> dict[str, float]:
    decoder = sum(m.weight.numel() for n, m in model.named_modules()
                  if isinstance(m, nn.Linear) and n.startswith("model.layers."))
    head = model.get_submodule("lm_head").weight.numel()
    total = decoder + head
    return {"decoder_linear_params": decoder, "lm_head_params": head,
            "lm_head_share_of_matmul_weights": head / total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default="benchmarks/results/smollm2_decode.json")
    parser.add_argument("--densities", nargs="+", type=float, default=[0.6, 0.5])
    parser.add_argument("--prompts", type=int, default=3)
    parser.add_argument("--prompt-tokens", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    zm = zoo.load_model("smollm2")
    case = CASES["smollm2"]
    train, test = batches(zm, "train", case), batches(zm, "test", case)
    dense = zm.module
    models: dict[str, tuple[nn.Module, str]] = {"dense": (dense, "auto")}
    quality: dict[str, Any] = {"dense": {"perplexity": perplexity(zm, test)}}
    print(f"dense perplexity {quality['dense']['perplexity']:.3f}")
    calibrations = {}
    for d in args.densities:
        t0 = time.perf_counter()
        fast, report = accelerate(dense, train, target_density=d, layers=DECODER_LINEARS,
                                  prune=False, measure=False, min_speedup=1.1)
        seconds = time.perf_counter() - t0
        name = f"d={d:g}"
        swapped = [r.name for r in report.layers if r.swapped]
        kept = [r.name for r in report.layers if not r.swapped]
        ppl = perplexity(dataclasses.replace(zm, module=fast), test)
        quality[name] = {"perplexity": ppl,
                         "perplexity_ratio": ppl / quality["dense"]["perplexity"]}
        calibrations[name] = {
            "accelerate_seconds": round(seconds, 1), "swapped": len(swapped),
            "not_swapped": kept,
            "calibration_mean_density": statistics.fmean(
                r.input_density for r in report.layers if r.swapped)}
        models[name] = (fast, "auto")
        print(f"{name}: swapped {len(swapped)} Linears (kept {kept}), perplexity {ppl:.3f} "
              f"(x{ppl / quality['dense']['perplexity']:.3f}), {seconds:.0f} s")

    lowest = f"d={min(args.densities):g}"
    forced = f"{lowest} mode=sparse"
    models[forced] = (models[lowest][0], "sparse")  # the same model, every layer on the kernel
    models[f"{lowest} mode=dense"] = (models[lowest][0], "dense")  # thresholds, F.linear
    prompt_ids = prompts(zm, args.prompts, args.prompt_tokens)
    timing = time_decoding(models, prompt_ids, args.new_tokens, args.repeats)
    for name, row in timing.items():
        print(f"{name}: {row['decode_tokens_per_s']:.2f} tok/s "
              f"({row['decode_ms_per_token']:.1f} ms/token), speedup "
              f"{row['speedup_vs_dense']:.3f}x, prefill {row['prefill_ms_per_prompt']:.0f} ms, "
              f"tokens identical to dense {row['tokens_identical_to_dense']:.2f}, to the same "
              f"thresholds on F.linear {row['tokens_identical_to_same_thresholds_F_linear']:.2f}")

    breakdown = {}
    for name in ("dense", lowest, forced):
        model, mode = models[name]
        set_mode(model, mode)
        breakdown[name] = step_breakdown(model, prompt_ids[0], 20)
        print(f"{name} step breakdown (ms, hooks on): {breakdown[name]['ms']}")
        print(f"  inside SparseInputLinear: {breakdown[name]['inside_SparseInputLinear_ms']}, "
              f"calls per step {breakdown[name]['calls_per_step']}")

    write_json(args.json, {
        "benchmark": "smollm2_decode",
        "settings": {**vars(args), "layers": DECODER_LINEARS, "lm_head": "dense nn.Linear",
                     "calibration_passages": case["train"], "test_passages": case["test"],
                     "max_length": case["max_length"],
                     "swap_mode": "auto; the lowest density also with mode='sparse'",
                     "decode": "manual greedy loop, use_cache=True, batch 1"},
        "weights": weight_shares(dense),
        "calibration": calibrations, "perplexity": quality, "decoding": timing,
        "step_breakdown": breakdown,
    })


if __name__ == "__main__":
    main()
