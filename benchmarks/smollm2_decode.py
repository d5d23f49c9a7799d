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
- where the time of one decode step goes at the lowest density (forward hooks per module
  kind) and, per swapped layer, the kernel alone vs the module call vs dense ``F.linear``.
"""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import os
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
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


def time_decoding(models: dict[str, nn.Module], prompt_ids: list[Tensor], new_tokens: int,
                  repeats: int) -> dict[str, Any]:
    """All models on all prompts, interleaved within each repeat; medians over repeats."""
    for model in models.values():  # warm-up: crossovers, weight re-layout, caches
        greedy(model, prompt_ids[0], 8)
    decode: dict[str, list[float]] = defaultdict(list)
    prefill: dict[str, list[float]] = defaultdict(list)
    tokens: dict[str, list[list[int]]] = {}
    for r in range(repeats):
        for name, model in models.items():
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
    try:
        with torch.inference_mode():
            model(input_ids=nxt, past_key_values=past, use_cache=True)  # warm
            spent.clear()
            t0 = time.perf_counter()
            for _ in range(steps):
                out = model(input_ids=nxt, past_key_values=past, use_cache=True)
                nxt = out.logits[:, -1].argmax(-1, keepdim=True)
            total = 1e3 * (time.perf_counter() - t0) / steps
    finally:
        for h in handles:
            h.remove()
    ms = {k: 1e3 * v / steps for k, v in spent.items()}
    ms["rest (embedding, rotary table, masks, cache, HF outputs, argmax)"] = total - sum(
        ms.values())
    return {"ms_per_step_with_hooks": total,
            "ms": {k: round(v, 3) for k, v in ms.items()},
            "share": {k: round(v / total, 4) for k, v in ms.items()}}


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


def linear_calls(model: nn.Module, prompt: Tensor, repeats: int) -> dict[str, Any]:
    """Per decode step, summed over the swapped layers: the module call, the kernel alone (one
    ctypes call, inputs prepared) and dense ``F.linear`` on the same thresholded inputs."""
    captured: dict[str, Tensor] = {}
    handles = []
    layers = {n: m for n, m in model.named_modules() if isinstance(m, SparseInputLinear)}
    for name, layer in layers.items():
        def grab(_m: nn.Module, args: tuple[Any, ...], key: str = name) -> None:
            captured[key] = args[0].detach().clone()
        handles.append(layer.register_forward_pre_hook(grab))  # after the threshold
    try:
        with torch.inference_mode():
            out = model(input_ids=prompt, use_cache=True, logits_to_keep=1)
            nxt = out.logits[:, -1].argmax(-1, keepdim=True)
            model(input_ids=nxt, past_key_values=out.past_key_values, use_cache=True)
    finally:
        for h in handles:
            h.remove()
    module_s, kernel_s, dense_s, routes = [], [], [], defaultdict(int)
    densities = []
    for name, layer in layers.items():
        x = captured[name].reshape(-1, layer.in_features).contiguous()
        with torch.inference_mode():
            module_t, kernel_t, dense_t = _time_layer(layer, x, repeats)
        module_s.append(module_t)
        kernel_s.append(kernel_t)
        dense_s.append(dense_t)
        routes[str(layer.last_route)] += 1
        densities.append(layer.last_density or 0.0)
    return {"layers": len(layers), "routes_at_decode": dict(routes),
            "mean_input_density_at_decode": statistics.fmean(densities),
            "module_call_ms": 1e3 * sum(module_s),
            "kernel_only_ms": 1e3 * sum(kernel_s),
            "dense_F_linear_ms": 1e3 * sum(dense_s),
            "python_overhead_ms": 1e3 * (sum(module_s) - sum(kernel_s)),
            "per_call_overhead_us": 1e6 * (sum(module_s) - sum(kernel_s)) / len(layers)}


def _time_layer(layer: SparseInputLinear, x: Tensor, repeats: int
                ) -> tuple[float, float, float]:
    """Seconds per call: the module's forward, the kernel alone, dense F.linear."""
    lib = linear_kernel()
    w_t = layer._input_major()
    bias = layer.bias
    y = torch.empty(x.shape[0], layer.out_features)
    nnz = ctypes.c_int64(0)
    args = (x.data_ptr(), x.shape[0], layer.in_features, x.stride(0), w_t.data_ptr(),
            layer.out_features, None if bias is None else bias.data_ptr(), y.data_ptr(),
            layer.out_features, 1.0, torch.get_num_threads(), ctypes.byref(nnz))

    def kernel() -> None:
        assert lib is not None
        lib.actsparse_linear_f32(*args)

    module_t = _best(lambda: layer.forward(x), repeats)
    kernel_t = _best(kernel, repeats) if lib is not None else float("nan")
    dense_t = _best(lambda: F.linear(x, layer.weight, layer.bias), repeats)
    return module_t, kernel_t, dense_t


def _best(fn: Callable[[], object], repeats: int) -> float:
    """Median seconds per call over ``repeats`` timings of 20 calls."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(20):
            fn()
        times.append((time.perf_counter() - t0) / 20)
    return statistics.median(times)


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
    models: dict[str, nn.Module] = {"dense": dense}
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
        models[name] = fast
        print(f"{name}: swapped {len(swapped)} Linears (kept {kept}), perplexity {ppl:.3f} "
              f"(x{ppl / quality['dense']['perplexity']:.3f}), {seconds:.0f} s")

    prompt_ids = prompts(zm, args.prompts, args.prompt_tokens)
    timing = time_decoding(models, prompt_ids, args.new_tokens, args.repeats)
    for name, row in timing.items():
        print(f"{name}: {row['decode_tokens_per_s']:.2f} tok/s "
              f"({row['decode_ms_per_token']:.1f} ms/token), speedup "
              f"{row['speedup_vs_dense']:.3f}x, prefill {row['prefill_ms_per_prompt']:.0f} ms, "
              f"tokens identical to dense {row['tokens_identical_to_dense']:.2f}")

    lowest = f"d={min(args.densities):g}"
    breakdown = {}
    for name in ("dense", lowest):
        breakdown[name] = step_breakdown(models[name], prompt_ids[0], 20)
        print(f"{name} step breakdown (ms, hooks on): {breakdown[name]['ms']}")
    calls = linear_calls(models[lowest], prompt_ids[0], 7)
    print(f"{lowest} decoder Linears per decode step: {calls}")

    write_json(args.json, {
        "benchmark": "smollm2_decode",
        "settings": {**vars(args), "layers": DECODER_LINEARS, "lm_head": "dense nn.Linear",
                     "calibration_passages": case["train"], "test_passages": case["test"],
                     "max_length": case["max_length"], "swap_mode": "auto",
                     "decode": "manual greedy loop, use_cache=True, batch 1"},
        "weights": weight_shares(dense),
        "calibration": calibrations, "perplexity": quality, "decoding": timing,
        "step_breakdown": breakdown, "linear_calls_at_lowest_density": calls,
    })


if __name__ == "__main__":
    main()
