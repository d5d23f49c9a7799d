"""The fused plan (``actsparse.exploit.plan.build_plan``) against PyTorch eager and ONNX Runtime.

Three models, batch 1 and 8, ``--threads`` threads (2 by default) for all three runtimes:

- the pretrained zoo MNIST CNN on MNIST test images;
- a k-WTA CNN (density 0.1) as ``actsparse train --model cnn --sparsity kwta:0.1`` builds it,
  with the weights of a run folder when ``--kwta-run DIR`` is given (its ``model.pt`` state
  dict), else its initial weights (the speed does not depend on training: k-WTA fixes the
  density); its ONNX graph uses TopK (the layers' torch reference path);
- MobileNetV2 (ImageNet weights) on photo crops.

The three candidates are called alternately (``actsparse._timing.interleaved``) on a cycle of
real inputs; the figures are medians, the speedups medians of per-round ratios. Then every
MNIST test image (``--images``) goes through eager and the plan at batch 1 and the predictions
are compared; for MobileNetV2 the largest logit difference on the crops is reported.

    .venv/bin/python -m benchmarks.plan_cnn --json benchmarks/results/plan_cnn.json
"""

from __future__ import annotations

import argparse
import copy
import io
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from actsparse import zoo
from actsparse._jsonio import write_json
from actsparse._timing import interleaved, machine
from actsparse.exploit.plan import build_plan
from actsparse.induce.kwinners import KWinners, KWinners2d


class TopKWinners(nn.Module):
    """A k-WTA layer's eval-mode function in plain torch ops (TopK + scatter) for the exporter:
    the k largest of ``x * boost`` per sample (a whole map, or each position's channels)."""

    def __init__(self, layer: nn.Module, shape: tuple[int, ...]) -> None:
        super().__init__()
        local = bool(getattr(layer, "local", False))
        if isinstance(layer, KWinners2d):
            n = shape[1] if local else shape[1] * shape[2] * shape[3]
            k_train, self.k = layer.k_for(n)
            boost = layer.boost_factors(k_train / n).view(1, -1, 1, 1)
        else:
            self.k = layer.k_inference
            boost = layer.boost_factors(layer.k / layer.n)
        self.local = local
        self.register_buffer("boost", boost.detach().clone() if layer.boost_strength > 0
                             else torch.ones_like(boost))

    def forward(self, x: Tensor) -> Tensor:
        scores = x * self.boost
        if self.local:
            idx = scores.topk(self.k, dim=1).indices
            mask = torch.zeros_like(x).scatter(1, idx, 1.0)
        else:
            idx = scores.flatten(1).topk(self.k, dim=1).indices
            mask = torch.zeros_like(x.flatten(1)).scatter(1, idx, 1.0).view_as(x)
        return torch.where(mask > 0, x, torch.zeros_like(x))


def exportable(model: nn.Module, x: Tensor) -> nn.Module:
    """A copy of ``model`` with its k-WTA layers as :class:`TopKWinners`."""
    clone = copy.deepcopy(model).eval()
    shapes: dict[str, tuple[int, ...]] = {}
    hooks = [m.register_forward_hook(lambda m, a, o, n=n: shapes.__setitem__(n, tuple(o.shape)))
             for n, m in clone.named_modules() if isinstance(m, (KWinners, KWinners2d))]
    with torch.no_grad():
        clone(x)
    for h in hooks:
        h.remove()
    for name, shape in shapes.items():
        parent, _, child = name.rpartition(".")
        owner = clone.get_submodule(parent) if parent else clone
        setattr(owner, child, TopKWinners(owner.get_submodule(child), shape))
    return clone


def ort_session(model: nn.Module, x: Tensor, threads: int) -> Callable[[Tensor], Any] | str:
    """A function running ``model`` in onnxruntime (CPU, ``threads`` intra-op), or why not."""
    try:
        import onnxruntime as ort
    except ImportError as err:
        return f"onnxruntime not installed: {err}"
    clone = exportable(model, x)
    buf = io.BytesIO()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(clone, (x,), buf, input_names=["x"], output_names=["y"],
                              dynamic_axes={"x": {0: "n"}, "y": {0: "n"}}, dynamo=False)
    except Exception as err:  # noqa: BLE001 - reported in the JSON
        return f"ONNX export failed: {type(err).__name__}: {err}"
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    session = ort.InferenceSession(buf.getvalue(), opts, providers=["CPUExecutionProvider"])
    return lambda t: session.run(None, {"x": t.numpy()})[0]


def time_model(name: str, model: nn.Module, inputs: Tensor, batch: int, repeats: int,
               threads: int) -> dict[str, Any]:
    batches = [inputs[i:i + batch].contiguous() for i in range(0, len(inputs) - batch + 1, batch)]
    fused, why = build_plan(model, (batches[0],), {})
    row: dict[str, Any] = {"model": name, "batch": batch, "plan": why}
    if fused is None:
        return row
    ort = ort_session(model, batches[0], threads)
    state = {"i": 0}

    def current() -> Tensor:
        return batches[state["i"] % len(batches)]

    def eager() -> None:
        model(current())

    def plan() -> None:
        fused(current())

    def onnx() -> None:
        ort(current())  # type: ignore[operator]

    def advance() -> None:
        state["i"] += 1

    fns = [eager, plan] + ([onnx] if callable(ort) else []) + [advance]
    with torch.inference_mode():
        t = interleaved(fns, repeats=repeats, warmup=max(5, repeats // 10))
    med = t.medians
    row.update(eager_us=med[0] * 1e6, plan_us=med[1] * 1e6, speedup_vs_eager=t.ratio(0, 1))
    if callable(ort):
        with torch.inference_mode():
            diff = max(float((torch.as_tensor(ort(b)) - model(b)).abs().max()) for b in batches[:8])
        row.update(ort_us=med[2] * 1e6, speedup_vs_ort=t.ratio(2, 1), ort_max_abs_diff=diff)
    else:
        row["ort"] = ort
    return row


def mismatches(model: nn.Module, images: Tensor) -> dict[str, Any]:
    fused, why = build_plan(model, (images[:1],), {})
    if fused is None:
        return {"plan": why}
    wrong, worst = 0, 0.0
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # values do not depend on threads; one is quicker to wait for
    with torch.inference_mode():
        for i in range(len(images)):
            x = images[i:i + 1]
            a, b = model(x), fused(x)
            wrong += int(a.argmax() != b.argmax())
            worst = max(worst, (a - b).abs().max().item())
    torch.set_num_threads(threads)
    return {"images": len(images), "prediction_mismatches": wrong, "max_abs_logit_diff": worst}


def kwta_cnn(run: Path | None) -> nn.Module:
    from actsparse.train.models import CNN, model_config
    from actsparse.train.spec import parse_sparsity

    torch.manual_seed(0)
    net = CNN(model_config("cnn", (1, 28, 28)), parse_sparsity("kwta:0.1"))
    if run is not None:
        state = torch.load(run / "model.pt", map_location="cpu", weights_only=True)
        net.load_state_dict(state.get("model", state) if isinstance(state, dict) else state)
    return net.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/plan_cnn.json"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=400, help="rounds for the MNIST models")
    parser.add_argument("--mobilenet-repeats", type=int, default=30)
    parser.add_argument("--images", type=int, default=10000, help="MNIST images to compare")
    parser.add_argument("--kwta-run", type=Path, default=None)
    parser.add_argument("--skip-mobilenet", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    mnist = zoo.load_model("mnist-cnn")
    data = zoo.load_data("mnist", limit=args.images)
    images = torch.cat([b if isinstance(b, Tensor) else b[0] for b in mnist.batches(data, 500)])
    kwta = kwta_cnn(args.kwta_run)
    rows, checks = [], {}
    for name, model in (("mnist-cnn", mnist.module.eval()), ("kwta-cnn", kwta)):
        for batch in (1, 8):
            rows.append(time_model(name, model, images[:512], batch, args.repeats, args.threads))
            print(rows[-1])
        checks[name] = mismatches(model, images)
        print(name, checks[name])
    if not args.skip_mobilenet:
        mb = zoo.load_model("mobilenetv2")
        crops = torch.cat([b if isinstance(b, Tensor) else b[0]
                           for b in mb.batches(zoo.load_data("photos"), 16, limit=16)])
        for batch in (1, 8):
            rows.append(time_model("mobilenetv2", mb.module.eval(), crops, batch,
                                   args.mobilenet_repeats, args.threads))
            print(rows[-1])
        fused, why = build_plan(mb.module, (crops[:1],), {})
        if fused is not None:
            with torch.inference_mode():
                diff = max((fused(crops[i:i + 1]) - mb.module(crops[i:i + 1])).abs().max().item()
                           for i in range(len(crops)))
            checks["mobilenetv2"] = {"crops": len(crops), "max_abs_logit_diff": diff}
        else:
            checks["mobilenetv2"] = {"plan": why}
    write_json(args.json, {"benchmark": "plan_cnn", "machine": machine(),
                           "threads": args.threads, "rows": rows, "checks": checks})
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
