"""The plan kernel against an older version of its C source, and ONNX Runtime, in one run.

Builds the fused plan of a zoo CNN once (as ``accelerate()`` does, on the inputs of
``benchmarks.accelerate_cnn``), then times the same program with the current kernel and with
the kernel built from ``--against`` (a copy of ``_plan_kernel.c``, e.g. from ``git show
HEAD~1:actsparse/exploit/_plan_kernel.c``; it must read the same arrays), interleaved, plus
ONNX Runtime on the same inputs; prints the medians and the ratios, and the largest output
difference between the two kernels.

    git show main:actsparse/exploit/_plan_kernel.c > /tmp/old.c
    .venv/bin/python -m benchmarks.plan_kernel_ab --against /tmp/old.c --batch 1 8

``--ops`` also times each op inside both kernels (as ``plan_ops_profile``, interleaved call by
call) and prints the medians and ratios summed by op kind: steady where whole calls are not.
"""

from __future__ import annotations

import argparse
import ctypes
from collections import defaultdict
from typing import Any

import torch

from actsparse._native import load_library
from actsparse._timing import interleaved
from actsparse.exploit.plan_program import plan_kernel
from benchmarks.accelerate_cnn import _inputs
from benchmarks.plan_cnn import ort_session
from benchmarks.plan_ops_profile import op_kind, program_of


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--against", required=True, help="the older _plan_kernel.c")
    ap.add_argument("--model", default="mobilenetv2")
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=41)
    ap.add_argument("--ops", action="store_true", help="also compare op by op, by kind")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    old_lib = load_library("plan_kernel_ab", args.against)
    if old_lib is None:
        raise SystemExit(f"cannot build {args.against}")
    model, calib, held, _, _ = _inputs(args.model, quick=True)
    model.eval()
    for batch in args.batch:
        print(compare(model, calib[:batch].contiguous(), held[:batch].contiguous(),
                      old_lib.actsparse_plan_run, args.threads, args.repeats))
        if args.ops:
            print(compare_ops(model, calib[:batch].contiguous(), held[:batch].contiguous(),
                              old_lib, args.threads, args.repeats))


def compare(model: torch.nn.Module, calib: torch.Tensor, x: torch.Tensor, old_run: Any,
            threads: int, repeats: int) -> str:
    """One line: the old and the current kernel on the plan of ``model`` (built on ``calib``),
    and ONNX Runtime, timed interleaved on ``x``."""
    prog = program_of(model, calib)
    new_run = prog._run
    assert new_run is not None
    old_run.argtypes, old_run.restype = new_run.argtypes, new_run.restype

    def with_kernel(fn: Any) -> torch.Tensor:
        prog._run = fn
        out = prog._launch(x, False, threads)
        assert out is not None
        return out

    ort = ort_session(model, x, threads)
    fns = [lambda: with_kernel(old_run), lambda: with_kernel(new_run)]
    if callable(ort):
        fns.append(lambda: ort(x))
    with torch.inference_mode():
        diff = float((with_kernel(old_run) - with_kernel(new_run)).abs().max())
        ref = model(x)
        top1 = bool((with_kernel(new_run).argmax(1) == ref.argmax(1)).all())
        t = interleaved(fns, repeats=repeats, warmup=5)
    prog._run = new_run
    med = t.medians
    line = (f"batch {x.shape[0]}, {threads} threads: old {med[0] * 1e3:.2f} ms, new "
            f"{med[1] * 1e3:.2f} ms, new/old {med[1] / med[0]:.3f}")
    if callable(ort):
        line += f", ORT {med[2] * 1e3:.2f} ms, new/ORT {med[1] / med[2]:.3f}"
    return line + f"; max |new - old| {diff:.2e}, top-1 as the model: {top1}"

def compare_ops(model: torch.nn.Module, calib: torch.Tensor, x: torch.Tensor, old_lib: Any,
                threads: int, repeats: int) -> str:
    """Lines per op kind: the median seconds inside the old and the current kernel, each op
    timed by the kernel itself, the two kernels alternating call by call on ``x``."""
    prog = program_of(model, calib)
    new_run = prog._run
    new_lib = plan_kernel()
    assert new_run is not None and new_lib is not None
    old_run = old_lib.actsparse_plan_run
    old_run.argtypes, old_run.restype = new_run.argtypes, new_run.restype
    old_lib.actsparse_plan_time_ops.argtypes = [ctypes.c_void_p]
    kernels = [(old_lib, old_run), (new_lib, new_run)]
    runs = torch.zeros(2, repeats, len(prog.ops), dtype=torch.float64)
    try:
        for r in range(-3, repeats):  # three warm-up rounds
            for k, (lib, run) in enumerate(kernels):
                prog._run = run
                if r >= 0:
                    lib.actsparse_plan_time_ops(runs[k, r].data_ptr())
                prog._launch(x, False, threads)
                lib.actsparse_plan_time_ops(None)
    finally:
        prog._run = new_run
    med = runs.median(dim=1).values
    by_kind: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for j, op in enumerate(prog.ops):
        for k in range(2):
            by_kind[op_kind(op)][k] += float(med[k, j])
    total = [float(med[k].sum()) for k in range(2)]
    lines = [f"  ops inside the kernel: old {total[0] * 1e3:.2f} ms, new {total[1] * 1e3:.2f} ms,"
             f" new/old {total[1] / total[0]:.3f}"]
    for kind, (o, n) in sorted(by_kind.items(), key=lambda kv: -kv[1][0]):
        if o > 0:
            lines.append(f"    {kind:12s} old {o * 1e3:7.3f} ms  new {n * 1e3:7.3f} ms  "
                         f"new/old {n / o:.3f}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
