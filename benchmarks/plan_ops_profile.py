"""Where the fused plan spends its time on a zoo CNN, per op kind (for kernel work).

Builds the plan as ``accelerate()`` does (``build_plan`` on the model's own inputs: for
MobileNetV2 the photo crops of ``benchmarks.accelerate_cnn``), times it op by op and sums the
ops by kind: first conv (small dense patches), 1x1 conv, other conv, depthwise, linear,
pooling / global average, add / activation. The ops are timed inside the kernel
(:meth:`Program.op_times`), which is steady on a loaded machine. ``--each`` also prints every
conv with its multiply-adds per second.

    .venv/bin/python -m benchmarks.plan_ops_profile --batch 1 --threads 1 --each
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import torch

from actsparse.exploit.fuse import ACT, ADD, CONV, DW, FLATTEN, GAP, GCONV, KWTA, POOL, Op
from actsparse.exploit.plan import build_plan
from actsparse.exploit.plan_program import Program, uses_patches
from benchmarks.accelerate_cnn import _inputs


def op_kind(op: Op) -> str:
    """A coarse name for what the kernel does with ``op``."""
    ci, h, w = op.in_shape
    if op.kind == CONV:
        kh, kw = op.geometry.get("kh", 1), op.geometry.get("kw", 1)
        if uses_patches(ci, kh, kw):
            return "first conv"
        if op.conv_shape[1:] == (1, 1):
            return "linear"
        return "1x1 conv" if (kh, kw) == (1, 1) else "other conv"
    names = {DW: "depthwise", GCONV: "grouped conv", POOL: "pooling", GAP: "pooling",
             ADD: "add / act", ACT: "add / act", FLATTEN: "flatten", KWTA: "k-wta"}
    return names.get(op.kind, str(op.kind))


def program_of(model: torch.nn.Module, x: torch.Tensor) -> Program:
    """The plan's program for inputs like ``x``."""
    fused, why = build_plan(model, (x,), {})
    if fused is None:
        raise SystemExit(f"no plan: {why}")
    prog = fused._plan_programs[x.shape[1:]]
    assert isinstance(prog, Program)
    return prog


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="mobilenetv2")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=31)
    ap.add_argument("--each", action="store_true", help="also print every conv op")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, calib, _, _, _ = _inputs(args.model, quick=True)
    model.eval()
    x = calib[: args.batch].contiguous()
    prog = program_of(model, x)
    secs = prog.op_times(x, threads=args.threads, repeats=args.repeats)
    by_kind: dict[str, float] = defaultdict(float)
    for op, s in zip(prog.ops, secs, strict=True):
        by_kind[op_kind(op)] += s
        if args.each and op.weight is not None:
            macs = op.conv_shape[0] * op.conv_shape[1] * op.conv_shape[2] * op.weight[0].numel()
            print(f"  {op_kind(op):10s} {op.in_shape} -> {op.conv_shape}: {s * 1e6:7.0f} us, "
                  f"{macs / max(s, 1e-9) / 1e9:5.1f} GMAC/s")
    total = sum(secs)
    print(f"{args.model}, batch {args.batch}, {args.threads} threads: {total * 1e3:.2f} ms")
    for kind, s in sorted(by_kind.items(), key=lambda kv: -kv[1]):
        print(f"  {kind:12s} {s * 1e3:7.2f} ms  {100 * s / total:5.1f}%")


if __name__ == "__main__":
    main()
