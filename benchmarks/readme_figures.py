"""README figures rendered from the benchmarks' JSON, so that no figure is typed by hand.

The README marks each generated block with ``<!-- figures:NAME -->`` ... ``<!-- /figures:NAME -->``;
``NAME`` is a file in ``benchmarks/results/`` (``NAME.json``) and a renderer below. Each block
ends with when and where its JSON was measured (date and CPU model, from
:func:`actsparse._timing.machine`) and the command that measures it again.

    .venv/bin/python -m benchmarks.readme_figures           # rewrite README.md from the JSON
    .venv/bin/python -m benchmarks.readme_figures --check   # exit 1 if README.md is stale

``make bench`` runs the benchmarks and then this.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
README = ROOT / "README.md"
PY = ".venv/bin/python -m "
BLOCK = re.compile(
    r"(<!-- figures:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /figures:(?P=name) -->)", re.DOTALL)


def _x(v: float) -> str:
    return f"{v:.2f}x" if v < 10 else f"{v:.1f}x"


def _time(seconds: float) -> str:
    unit, scale = next(((u, s) for u, s in (("s", 1.0), ("ms", 1e-3)) if seconds >= s),
                       ("us", 1e-6))
    value = seconds / scale
    return f"{value:.3g} {unit}" if value < 100 else f"{value:.0f} {unit}"


def provenance(data: dict[str, Any], command: str) -> str:
    """The closing line of a block: when, on what CPU and with how many threads it was measured."""
    m = data.get("machine", {})
    where = (f"measured {m['date'][:10]} on {m['cpu']}, {m['threads']} thread(s)"
             if "date" in m and "cpu" in m else
             f"date and CPU model not recorded in this JSON ({m.get('processor', '?')}, "
             f"{m.get('threads', '?')} thread(s)); `make bench` records them")
    return f"_From `benchmarks/results/` JSON, {where}: `{command}`._\n"


def profile_overhead(d: dict[str, Any], command: str = PY + "benchmarks.profile_overhead") -> str:
    names = {"mnist-cnn": "MNIST CNN", "minilm": "MiniLM"}
    rows = ["| model | input per call | profiled / plain forward loop (median) | goal |",
            "|---|---|---|---|"]
    for c in d["cases"]:
        batch = c["batch"]
        shape = " x ".join(map(str, batch["input_ids"])) + " tokens" if isinstance(batch, dict) \
            else "batch " + str(batch[0])
        ok = "" if c["median_ratio"] <= d["goal_max_ratio"] else " (missed)"
        rows.append(f"| {names.get(c['model'], c['model'])} | {shape} | "
                    f"**{c['median_ratio']:.3f}x**{ok} | <= {d['goal_max_ratio']}x |")
    return "\n".join(rows) + "\n\n" + provenance(d, command)


def profile_overhead_under_load(d: dict[str, Any]) -> str:
    return profile_overhead(d, PY + "benchmarks.profile_overhead --json "
                            "benchmarks/results/profile_overhead_under_load.json")


def profile_memory(d: dict[str, Any]) -> str:
    small, large = d["runs"][0], d["runs"][-1]
    return (f"Peak RSS profiling {large['images']:,} MNIST images is "
            f"**{d['peak_ratio_60k_over_6k']:.3f}x** that of {small['images']:,} "
            f"({large['peak_rss_kib'] / 1024:.0f} vs {small['peak_rss_kib'] / 1024:.0f} MiB; "
            f"goal within {d['goal_max_ratio'] - 1:.0%}).\n\n"
            + provenance(d, PY + "benchmarks.profile_memory"))


def kwinners_step(d: dict[str, Any]) -> str:
    return (f"A k-WTA training step costs **{d['median_ratio']:.3f}x** a ReLU step of the same CNN "
            f"(goal <= {d['goal_max_ratio']}x): median of {len(d['ratios'])} interleaved repeats, "
            f"batch {d['batch']}.\n\n" + provenance(d, PY + "benchmarks.kwinners_step"))


def stats_kernel(d: dict[str, Any]) -> str:
    rows = ["| activation map | shape | torch reference | fused C kernel | speedup (median) |",
            "|---|---|---|---|---|"]
    for c in d["cases"]:
        rows.append(f"| {c['name']} | {' x '.join(map(str, c['shape']))} | "
                    f"{_time(c['reference_ms'] / 1e3)} | {_time(c['fused_ms'] / 1e3)} | "
                    f"**{_x(1 / c['median_ratio_fused_over_reference'])}** |")
    return "\n".join(rows) + "\n\n" + provenance(d, PY + "benchmarks.stats_kernel")


def linear_kernels(d: dict[str, Any]) -> str:
    rows = ["| batch | density d | dense | sparse | speedup | speedup x d (goal >= 0.8) "
            "| index_select+mm |", "|---|---|---|---|---|---|---|"]
    for r in d["batch1"]:
        sxd = f"{r['speedup_x_d']:.2f}" + ("" if r["speedup_x_d"] >= 0.8 else " (missed)")
        rows.append(f"| 1 | {r['density']} | {r['dense_ms']:.3g} ms | {r['sparse_ms']:.3g} ms | "
                    f"{_x(r['speedup'])} | {sxd} | {_x(r['reference_speedup'])} |")
    for r in d["batched"]:
        goal = f" (goal {r['target_speedup']}x)" if r.get("target_speedup") else ""
        rows.append(f"| {r['batch']} | {r['density']} per row | {r['dense_ms']:.3g} ms | "
                    f"{r['sparse_ms']:.3g} ms | {_x(r['speedup'])}{goal} | | "
                    f"{_x(r['reference_speedup'])} |")
    shape = d["shape"]
    return (f"{shape['in_features']} -> {shape['out_features']} {shape['dtype']}, "
            f"medians of {d['repeats']} interleaved repeats.\n\n" + "\n".join(rows) + "\n\n"
            + provenance(d, PY + "benchmarks.linear_kernels"))


ACCELERATE_NAMES = {"mnist-cnn": "pretrained MNIST CNN",
                    "runs/kwta-cnn": "k-WTA CNN (d = 0.1), run folder of `actsparse train`",
                    "mobilenetv2": "MobileNetV2, photo crops"}


def accelerate_cnn(d: dict[str, Any]) -> str:
    rows = ["| model | batch | PyTorch eager | ONNX Runtime | torch.compile | ours (chosen) "
            "| ours vs eager / ORT | reported / independent | mismatches |",
            "|---|---|---|---|---|---|---|---|---|"]
    for r in d["results"]:
        t, q, vs = r["median_s"], r["quality"], r["ours_vs"]
        base = " | ".join(_time(t[k]) if t.get(k) else "n/a"
                          for k in ("eager", "onnxruntime", "compile"))
        ort = _x(vs["onnxruntime"]) if vs.get("onnxruntime") else "n/a"
        rows.append(
            f"| {ACCELERATE_NAMES.get(r['model'], r['model'])} | {r['batch_size']} | {base} | "
            f"{_time(t['ours'])} ({r['chosen']}) | {_x(vs['eager'])} / {ort} | "
            f"{_x(r['reported_speedup'])} / {_x(r['independent']['speedup'])} | "
            f"{q['prediction_mismatches']} of {q['images']:,}, max diff "
            f"{q['max_abs_logit_diff']:.1e} |")
    command = d.get("command", PY + "benchmarks.accelerate_cnn")
    return "\n".join(rows) + "\n\n" + provenance(d, command)


def mobilenet_sweep(d: dict[str, Any]) -> str:
    rows = ["| target density | chosen | ours | vs dense eager | vs ONNX Runtime dense "
            "| reported (over the model given) | FLOPs / dense | top-1 agreement "
            "| max logit diff |",
            "|---|---|---|---|---|---|---|---|---|"]
    for p in d["points"]:
        ort = p["ours_vs"].get("onnxruntime")
        flops = f"{p['flop_ratio']:.2f}" if p.get("flop_ratio") else "n/a"
        rows.append(
            f"| {p['target_density']:g} | {p['chosen']} | {_time(p['ours_s'])} | "
            f"{_x(p['speedup_vs_dense'])} | {_x(ort) if ort else 'n/a'} | "
            f"{_x(p['reported_speedup_over_given'])} | {flops} | "
            f"{p['top1_agreement']:.3f} ({p['crops']} crops) | {p['max_abs_logit_diff']:.2g} |")
    return "\n".join(rows) + "\n\n" + provenance(d, d["command"])


def sparse_coding(d: dict[str, Any]) -> str:
    rows = ["| data | alpha | nonzeros per code | objective, ours / sklearn "
            "| speedup (goal >= 10x) |",
            "|---|---|---|---|---|"]
    goal = d["goals"]["speedup_min"]
    for e in d["encode"] + d.get("encode_mnist", []):
        a = e["admm"]
        s = a["speedup_vs_sklearn_f64"]
        speed = f"**{_x(s)}**" if s >= goal else f"{_x(s)} (missed)"
        data = e["data"] if e["data"] == "digits" else \
            f"{e['data']}, {e['n_samples']:,} x {e['n_features']}, {e['n_components']} atoms"
        rows.append(f"| {data} | {e['alpha']} | {a['mean_l0']:.1f} | "
                    f"{a['objective_ratio_vs_sklearn']:.7f} | {speed} |")
    return "\n".join(rows) + "\n\n" + provenance(d, PY + "benchmarks.sparse_coding")


def recsys_baselines(d: dict[str, Any]) -> str:
    res = d["results"]
    names = {"popular": "most popular", "itemknn": "ItemKNN (cosine, k = {k} by validation)",
             "ease": "EASE (lambda = {lambda:g} by validation)",
             "mult-dae": "Mult-DAE [I-600-I], dense (best epoch {best_epoch})"}
    rows = ["| model | Recall@10 | NDCG@10 | Recall@20 | NDCG@20 |", "|---|---|---|---|---|"]
    for key, r in res.items():
        label = names.get(key, key).format(**r)
        rows.append(f"| {label} | " + " | ".join(
            f"{r[m]:.3f}" for m in ("recall@10", "ndcg@10", "recall@20", "ndcg@20")) + " |")
    return (f"{d['data']}, seed {d['seed']}, test part.\n\n" + "\n".join(rows) + "\n\n"
            + provenance(d, PY + "benchmarks.recsys_baselines"))


def _mean_ci(r: dict[str, Any]) -> str:
    return f"{r['mean']:.3f} ± {r['ci95']:.3f}"


def recsys_sparse(d: dict[str, Any]) -> str:
    names = {"none": "dense (tanh)", "kwta:0.1": "tanh + k-WTA 10%",
             "topk:60": "tanh + TopK 60 (10%)", "dropout:0.5": "dropout 0.5 on the code"}
    rows = ["| Mult-DAE [I-600-I] code | NDCG@20 | vs dense | Recall@20 | NDCG@20 / EASE's | "
            "density | near zero (abs < 0.01) |", "|---|---|---|---|---|---|---|"]
    ndcg = {(r["variant"], r["seed"]): r["ndcg@20"] for r in d["runs"]}
    for key, r in d["variants"].items():
        label = names.get(key, key.replace("l1:", "L1 penalty, weight "))
        diffs = sorted(ndcg[(key, s)] - ndcg[("none", s)] for s in d["seeds"])
        versus = "" if key == "none" else f"{diffs[0]:+.3f} to {diffs[-1]:+.3f}"
        rows.append(f"| {label} | {_mean_ci(r['ndcg@20'])} | {versus} | "
                    f"{_mean_ci(r['recall@20'])} | {r['ndcg@20_vs_ease']['mean']:.3f} | "
                    f"{r['density']['mean']:.3f} | {r['near_zero@0.01']['mean']:.3f} |")
    for name, label in (("ease", "EASE"), ("itemknn", "ItemKNN"), ("popular", "most popular")):
        b = d["baselines"][name]
        rows.append(f"| baseline: {label} | {_mean_ci(b['ndcg@20'])} | | "
                    f"{_mean_ci(b['recall@20'])} | | | |")
    seeds = " ".join(map(str, d["seeds"]))
    return (f"{d['data']}, {len(d['seeds'])} seeds (each its own split, initialisation and "
            "shuffling), test part, mean ± 95% t-interval.\n\n" + "\n".join(rows) + "\n\n"
            + provenance(d, PY + f"benchmarks.recsys_sparse --seeds {seeds} --jobs 2"))


def recsys_robustness(d: dict[str, Any]) -> str:
    names = {"none": "dense (tanh)", "kwta:0.1": "tanh + k-WTA 10%",
             "dropout:0.5": "dropout 0.5 on the code", "ease": "EASE"}
    ps = [str(float(p)) for p in d["ps"]][1:]
    rows = ["| model | NDCG@20 at p = 0 | " + " | ".join(f"drop at p = {p}" for p in ps)
            + " | " + " | ".join(f"drop minus dense's, p = {p}" for p in ps) + " |",
            "|---" * (2 + 2 * len(ps)) + "|"]
    for key, v in d["variants"].items():
        versus = [("" if key == d["reference"] else
                   f"{_mean_ci(d['verdicts'][key][p]['drop_minus_dense'])} "
                   f"({d['verdicts'][key][p]['verdict']})") for p in ps]
        rows.append(f"| {names.get(key, key)} | {_mean_ci(v['0.0']['ndcg@20'])} | "
                    + " | ".join(_mean_ci(v[p]["drop"]) for p in ps) + " | "
                    + " | ".join(versus) + " |")
    seeds = " ".join(map(str, d["seeds"]))
    return (f"{d['data']}, {len(d['seeds'])} seeds, test part; a fraction p of random unseen, "
            "non-test items added to each test user's history; drop = 1 - NDCG@20(p) / "
            "NDCG@20(0), mean ± 95% t-interval; the verdict is from the paired per-seed "
            "difference.\n\n" + "\n".join(rows) + "\n\n"
            + provenance(d, PY + f"benchmarks.recsys_robustness --runs RUNS --seeds {seeds}"))


def recsys_scoring(d: dict[str, Any]) -> str:
    rows = ["| scoring all items | dense torch | sparse-input Linear | speedup |",
            "|---|---|---|---|"]
    for name, label in (("batch1", "batch 1"), ("batch256", "batch 256")):
        r = d[name]
        rows.append(f"| {label} | {_time(r['dense_us'] * 1e-6)} | "
                    f"{_time(r['sparse_us'] * 1e-6)} | {_x(r['speedup'])} |")
    m = d["memory"]
    return (f"{d['layer']} of a `{d['sparsity']}` run (seed {d['seed']}), on the test users' "
            f"codes, median per call. Stored codes of {m['users']} users: dense float32 "
            f"{m['dense_bytes'] / 1e6:.2f} MB, sparse (int16 index + float32 value, CSR) "
            f"{m['sparse_bytes'] / 1e6:.2f} MB ({_x(m['ratio'])} smaller).\n\n"
            + "\n".join(rows) + "\n\n"
            + provenance(d, PY + "benchmarks.recsys_scoring --run RUN"))


def _summary(s: dict[str, Any] | None, digits: int = 3) -> str:
    """``mean ± half-width`` of a study Summary (``mean (n=1)`` without an interval)."""
    if s is None:
        return "-"
    if s["hi"] is None:
        return f"{s['mean']:.{digits}f} (n=1)"
    return f"{s['mean']:.{digits}f} ± {s['hi'] - s['mean']:.{digits}f}"


def recsys_study(d: dict[str, Any]) -> str:
    claims = ["| claim | measure | dense | best sparse variant | verdict |",
              "|---|---|---|---|---|"]
    for c in d["claims"]:
        best = "-" if c["best"] is None else f"{c['best']}: {_summary(c['best_summary'])}"
        claims.append(f"| {c['text']} | {c['metric_label']} | {_summary(c['dense'])} | {best} "
                      f"| {c['verdict']} |")
    shown = list(d["metrics"])
    rows = ["| variant | " + " | ".join(d["metrics"][m]["label"] for m in shown) + " |",
            "|---" * (1 + len(shown)) + "|"]
    for v in d["variants"]:
        mark = "" if v["sparse"] else " (not sparse)"
        rows.append(f"| {v['name']}{mark} | "
                    + " | ".join(_summary(d["summary"][v["name"]][m]) for m in shown) + " |")
    ease = d["baselines"]["ease"]["ndcg@20"]
    return (f"{d['data']}, {d['seeds']} seeds, {d['epochs']} epochs (best validation epoch), "
            f"test part; mean ± 95% t-interval; EASE's NDCG@20 {_summary(ease)}. The verdicts "
            "are computed by the study's rule (the best sparse variant's interval against "
            "dense's).\n\n" + "\n".join(claims) + "\n\n" + "\n".join(rows) + "\n\n"
            + provenance(d, PY + f"benchmarks.recsys_study --reuse RUNS --seeds {d['seeds']}"))


def speech_data(d: dict[str, Any]) -> str:
    rows = ["| split | clips | voices | engines | clips per class | linear probe on log-mels |",
            "|---|---|---|---|---|---|"]
    for name, sp in d["splits"].items():
        engines = ", ".join(f"{e} {n:,}" for e, n in sp["engines"].items())
        per_class = sorted(set(sp["clips_per_class"].values()))
        rows.append(f"| {name} | {sp['clips']:,} | {sp['voices']} | {engines} | "
                    f"{'-'.join(map(str, per_class))} | "
                    f"{d['linear_probe_accuracy'][name]:.1%} |")
    return (f"{d['clips']:,} clips, generated in {d['generation_seconds']:.0f} s; chance "
            f"{d['chance']:.1%}.\n\n" + "\n".join(rows) + "\n\n"
            + provenance(d, PY + "benchmarks.speech_data"))


def lm_selection(d: dict[str, Any]) -> str:
    dense, st = d["dense"], d["settings"]
    rows = ["| rule | allocation | density | perplexity | next-token accuracy | "
            f"greedy agreement ({st['new_tokens']} tokens) | common prefix |",
            "|---|---|---|---|---|---|---|",
            f"| dense | | 1.0 | {dense['perplexity']:.2f} | {dense['next_token_accuracy']:.3f} "
            f"| {dense['greedy_agreement']:.3f} | {dense['common_prefix']:.1f} |"]
    for r in d["runs"]:
        rows.append(f"| {r['rule']} | {r['allocation']} | {r['density']} | "
                    f"{r['perplexity']:.2f} (x{r['perplexity_ratio']:.3f}) | "
                    f"{r['next_token_accuracy']:.3f} | {r['greedy_agreement']:.3f} | "
                    f"{r['common_prefix']:.1f} |")
    by = {(r["rule"], r["allocation"], r["density"]): r for r in d["runs"]}
    pairs = [(by[("magnitude", a, x)], by[("weight", a, x)])
             for (rule, a, x) in by if rule == "magnitude" and ("weight", a, x) in by]
    wins = sum(w["perplexity_ratio"] < m["perplexity_ratio"] for m, w in pairs)
    agrees = sum(w["greedy_agreement"] > m["greedy_agreement"] for m, w in pairs)
    verdict = (f"The weight rule (`|x_i| * ||W[:, i]||`) beats magnitude on perplexity at "
               f"{wins} and on greedy agreement at {agrees} of {len(pairs)} settings; the "
               "perplexity ratios of the two rules differ by at most "
               f"{max(abs(w['perplexity_ratio'] - m['perplexity_ratio']) for m, w in pairs):.3f}."
               if pairs else "")
    layers = sorted({r["layers_calibrated"] for r in d["runs"]})
    return (f"SmolLM2-135M, thresholds on the inputs of the {'/'.join(map(str, layers))} "
            f"decoder Linears, calibrated on {st['train']} train passages; quality on "
            f"{st['test']} held-out passages ({dense['tokens']} tokens) and {st['prompts']} "
            f"held-out prompts of {st['prompt_tokens']} tokens. {verdict}\n\n"
            + "\n".join(rows) + "\n\n" + provenance(d, PY + "benchmarks.lm_selection"))


KWS_RUNTIMES = {"eager": "PyTorch eager, k-WTA", "onnxruntime": "ONNX Runtime, k-WTA (TopK)",
                "accelerated": "`actsparse.accelerate()`, k-WTA",
                "eager_dense": "PyTorch eager, ReLU DS-CNN",
                "onnxruntime_dense": "ONNX Runtime, ReLU DS-CNN"}


def kws_latency(d: dict[str, Any]) -> str:
    rows = ["| threads | runtime | network call | window step (log-mel + network) "
            "| network vs ORT k-WTA |", "|---|---|---|---|---|"]
    notes = []
    for r in d["results"]:
        for name, t in r["times"].items():
            rows.append(f"| {r['threads']} | {KWS_RUNTIMES.get(name, name)} | "
                        f"{_time(t['network_s'])} | {_time(t['step_s'])} | "
                        f"{_x(t['network_vs_onnxruntime'])} |")
        same, times = r["identity"], r["times"]
        relu = times.get("onnxruntime_dense")
        against_relu = (f"; against ONNX Runtime on the ReLU DS-CNN "
                        f"{_x(relu['network_s'] / times['accelerated']['network_s'])}"
                        if relu else "")
        notes.append(
            f"- {r['threads']} thread(s): accelerate() returned `{r['chosen']}`; the accelerated "
            f"network is {_x(times['accelerated']['network_vs_onnxruntime'])} the speed of the "
            f"k-WTA model in ONNX Runtime (goal {_x(d['goal'])}: "
            f"{'met' if r['goal_met'] else 'not met'}){against_relu}; "
            f"{same['prediction_mismatches']} prediction mismatches against eager on "
            f"{same['clips']:,} test clips (max logit difference "
            f"{same['max_abs_logit_diff']:.1e}).")
    return (f"Batch 1, a {d['window_s']:g} s window every {d['hop_s'] * 1000:.0f} ms; medians "
            f"of single calls over {d['repeats']} interleaved repeats ({d['windows']} windows "
            "of the test stream in turn); 1-minute load average "
            + "{before:.1f} before, {after:.1f} after.\n\n".format(**d["load_average_1min"])
            + "\n".join(rows) + "\n\n" + "\n".join(notes) + "\n\n"
            + provenance(d, d.get("command", PY + "benchmarks.kws_latency")))


def sae_language_models(d: dict[str, Any]) -> str:
    by = {r["model"]: r for r in d["results"]}
    cols = [m for m in ("smollm2", "minilm") if m in by]
    head = {"smollm2": "SmolLM2", "minilm": "MiniLM"}

    def cell(r: dict[str, Any], what: str) -> str:
        tr, ho, ds = r["train"], r["held_out"], r["downstream"]
        if what == "vectors":
            return f"{tr['vectors']:,} / {ho['vectors']:,}"
        if what == "fvu":
            return f"{tr['fvu']:.3f} / {ho['fvu']:.3f}"
        if what == "l0":
            return f"{ho['l0']:.1f}"
        if what == "dead":
            return f"{tr['dead_fraction']:.2%} / {ho['dead_fraction']:.2%}"
        if ds["task"] == "lm":
            return (f"loss recovered {ds['loss_recovered']:.3f} (CE {ds['loss_clean']:.3f} "
                    f"clean, {ds['loss_sae']:.3f} with the SAE, {ds['loss_zero_ablated']:.3f} "
                    "ablated)")
        return (f"sentence-embedding cosine {ds['embedding_cosine']:.3f} "
                f"({ds['embedding_cosine_zero_ablated']:.3f} ablated)")

    rows = ["| | " + " | ".join(
        f"{head[m]} `{by[m]['layer']}` ({by[m]['sae']['d_in']} -> {by[m]['sae']['n_latents']})"
        for m in cols) + " |", "|" + "---|" * (len(cols) + 1)]
    for what, label in (("vectors", "vectors, train / held-out"), ("fvu", "FVU, train / held-out"),
                        ("l0", "L0 (held-out)"), ("dead", "dead latents, train / held-out"),
                        ("downstream", "downstream")):
        rows.append(f"| {label} | " + " | ".join(cell(by[m], what) for m in cols) + " |")
    s = d["settings"]
    return (f"Expansion {s['expansion']:g}, k = {s['k']}, {s['steps']} steps of "
            f"{s['batch_size']:,} vectors, lr {s['lr']:g}.\n\n" + "\n".join(rows) + "\n\n"
            + provenance(d, PY + "benchmarks.sae_language_models"))


def sae_vs_saelens(d: dict[str, Any]) -> str:
    head = {"minilm": "MiniLM", "smollm2": "SmolLM2"}
    rows = ["| layer | recipe | held-out FVU | L0 | dead latents | s / step |",
            "|---|---|---|---|---|---|"]
    for r in d["models"]:
        for side, label in (("ours", "actsparse `train_sae` defaults"),
                            ("saelens", f"SAELens TopK, lr {r['saelens_lr']:g}")):
            m = r["summary"][side]
            rows.append(f"| {head.get(r['model'], r['model'])} `{r['layer']}` | {label} | "
                        f"{_mean_ci(m['fvu'])} | {m['l0']['mean']:.1f} | "
                        f"{m['dead']['mean']:.2%} | {m['s_per_step']['mean']:.2f} |")
    first = d["models"][0]
    return (f"{first['train_vectors']:,} training / {first['test_vectors']:,} held-out vectors "
            f"per layer, expansion {d['expansion']}, k = {d['k']}, {d['steps']} steps of "
            f"{d['batch']:,}; SAELens {d['saelens_version']}, its learning rate the best on "
            f"held-out FVU of the first seed; means ± 95% intervals over "
            f"{len(first['runs']['ours'])} seeds.\n\n" + "\n".join(rows) + "\n\n"
            + provenance(d, PY + "benchmarks.sae_vs_saelens"))


def sae_architectures(d: dict[str, Any]) -> str:
    runs = d["runs"]
    matched = set(d["jumprelu_matched"].values())
    label = {"topk": "TopK", "batchtopk": "BatchTopK", "matryoshka": "Matryoshka",
             "jumprelu": "JumpReLU"}
    rows = ["| architecture | seed | held-out FVU | L0 train / held-out | dead latents "
            "| s / step |",
            "|---|---|---|---|---|---|"]
    order = {"topk": 0, "batchtopk": 1, "matryoshka": 2, "jumprelu": 3}
    for name in sorted(runs, key=lambda n: (runs[n]["transcoder"],
                                            order[runs[n]["architecture"]],
                                            runs[n]["l0_coef"] or 0, runs[n]["seed"])):
        r = runs[name]
        what = label[r["architecture"]]
        if r["architecture"] == "jumprelu":
            what += f", l0_coef {r['l0_coef']:g}" + (" (nearest L0 32)" if name in matched else "")
        if r["architecture"] == "matryoshka":
            what += " (prefixes " + ", ".join(map(str, r["config"]["prefixes"])) + ")"
        if r["transcoder"]:
            what = f"{what} transcoder, `{d['source']}` -> output"
        rows.append(f"| {what} | {r['seed']} | {r['fvu']:.3f} | "
                    f"{r['train_l0']:.1f} / {r['l0']:.1f} | "
                    f"{r['dead']:.2%} | {r['s_per_step']:.3f} |")
    return (f"MiniLM `{d['layer']}`, {d['train_vectors']:,} training / {d['test_vectors']:,} "
            f"held-out vectors, expansion {d['expansion']}, k = {d['k']}, {d['steps']} steps "
            f"of {d['batch']:,}, `train_sae` defaults otherwise. Dead: never fired on the "
            "training vectors. The transcoder's FVU is against the block's output.\n\n"
            + "\n".join(rows) + "\n\n"
            + provenance(d, d.get("command", PY + "benchmarks.sae_architectures")))


def _points(s: dict[str, Any]) -> str:
    """An accuracy difference in percentage points: ``mean ± half-width``."""
    if s["hi"] is None:
        return f"{100 * s['mean']:+.2f} (n=1)"
    return f"{100 * s['mean']:+.2f} ± {100 * (s['hi'] - s['mean']):.2f}"


def kws_sparse(d: dict[str, Any]) -> str:
    names = {"dense": "dense (ReLU)", "kwta": "k-WTA, density 0.15"}
    if not d["runs"]:
        return "No run has finished yet.\n\n" + provenance(d, PY + "benchmarks.kws_sparse")
    rows = ["| DS-CNN | seeds | test accuracy (held-out voices) | vs dense, points (paired) | "
            "held-out engine | noise score | density | density abs(a) >= 0.01 |",
            "|---|---|---|---|---|---|---|---|"]
    acc, noise = d["goals"]["accuracy"], d["goals"]["noise"]
    for key, s in d["summary"].items():
        label = names[key] if key in names else f"L1 penalty, weight {s['sparsity'][3:]}"
        versus = _points(acc[key]["difference"]) if key in acc else ""
        rows.append(f"| {label} | {len(s['seeds'])} | {_summary(s['test_accuracy'], 4)} | "
                    f"{versus} | {_summary(s['heldout_engine_accuracy'], 4)} | "
                    f"{_summary(s['noise_score'], 0)} | {_summary(s['density'])} | "
                    f"{_summary(s['near_zero_density'])} |")
    verdicts = []
    for key, g in acc.items():
        label = names.get(key, "L1")
        within = ("no interval from one seed" if g["difference"]["lo"] is None else
                  "its 95% interval too" if g["interval_within_margin"] else
                  "but its 95% interval reaches below -0.5")
        verdicts.append(
            f"- Goal 1, {label}: within 0.5 points of dense at <= 15% density: "
            + (f"**met** on the mean (mean difference {_points(g['difference'])} points, {within}; "
               f"density {g['density']:.3f})" if g["met"] else
               f"**not met** (mean difference {_points(g['difference'])} points, density "
               f"{g['density']:.3f})") + ".")
    if noise is not None:
        best = names.get(noise["best_sparse"], "L1")
        verdicts.append(
            f"- Goal 2, noise score of the best sparse variant ({best}) above dense with "
            "non-overlapping 95% intervals: "
            + ("**supported**" if noise["supported"] else "**not supported**"
               + (" (no intervals from one seed)" if noise["sparse"]["lo"] is None else ""))
            + f" ({_summary(noise['sparse'], 0)} against {_summary(noise['dense'], 0)}, "
            f"{len(noise['seeds'])} paired seeds).")
    seeds = " ".join(map(str, d["seeds"]))
    train_s = [r["seconds"] for r in d["runs"]]
    return (f"Synthesised `{d['data']}`, {d['epochs']} epochs (Adam lr {d['lr']:g}, batch "
            f"{d['batch_size']}, best val epoch kept; {min(train_s):.0f}-{max(train_s):.0f} s of "
            "training a run at 1 thread, 2 runs at a time on a shared machine), mean ± 95% "
            "t-interval over seeds; noise "
            f"score: correct predictions summed over the 11 noise levels on "
            f"{d['runs'][0]['noise_clips']} test clips (at most "
            f"{11 * d['runs'][0]['noise_clips']:,}); density: mean over the nine hidden layers "
            "on the test clips.\n\n" + "\n".join(rows) + "\n\n" + "\n".join(verdicts) + "\n\n"
            + provenance(d, f"nice -n 10 {PY}benchmarks.kws_sparse --seeds {seeds} --jobs 2"))


RENDERERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "profile_overhead": profile_overhead,
    "profile_overhead_under_load": profile_overhead_under_load, "profile_memory": profile_memory,
    "stats_kernel": stats_kernel, "kwinners_step": kwinners_step,
    "linear_kernels": linear_kernels,
    "accelerate_cnn": accelerate_cnn, "mobilenet_sweep": mobilenet_sweep,
    "sparse_coding": sparse_coding,
    "recsys_baselines": recsys_baselines, "recsys_sparse": recsys_sparse,
    "recsys_robustness": recsys_robustness, "recsys_scoring": recsys_scoring,
    "recsys_study": recsys_study,
    "speech_data": speech_data, "lm_selection": lm_selection, "kws_latency": kws_latency,
    "sae_language_models": sae_language_models, "sae_vs_saelens": sae_vs_saelens,
    "sae_architectures": sae_architectures, "kws_sparse": kws_sparse,
}


def render(text: str, results: Path = RESULTS) -> str:
    """``text`` with every figures block replaced by its rendering of ``results/NAME.json``.

    Raises KeyError for a block with no renderer and FileNotFoundError for a missing JSON.
    """
    def block(m: re.Match[str]) -> str:
        name = m["name"]
        data = json.loads((results / f"{name}.json").read_text(encoding="utf-8"))
        return m.group(1) + RENDERERS[name](data) + m.group(4)
    return BLOCK.sub(block, text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if README.md is not up to date")
    args = ap.parse_args(argv)
    text = README.read_text(encoding="utf-8")
    new = render(text)
    if args.check:
        if new != text:
            print("README.md figures differ from benchmarks/results/*.json; run "
                  "`.venv/bin/python -m benchmarks.readme_figures`", file=sys.stderr)
            return 1
        return 0
    README.write_text(new, encoding="utf-8")
    print(f"rendered {len(BLOCK.findall(new))} blocks into {README}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
