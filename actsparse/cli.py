"""The ``actsparse`` command: profile, train, accelerate, bench, interpret, sae, study, demo."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from actsparse import report, zoo

DEFAULT_BATCH = {"image": 256, "text": 16}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``actsparse`` console script; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        return int(args.run(args))
    except (ValueError, TypeError, FileNotFoundError, ImportError, KeyError) as err:
        print(f"actsparse {args.command}: error: {err}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="actsparse", description="Measure the sparse activation maps of PyTorch models."
    )
    sub = parser.add_subparsers(dest="command")

    prof = sub.add_parser("profile", help="profile a model over a data set")
    prof.add_argument("--model", required=True, help="zoo name, Hugging Face name/folder, or file")
    prof.add_argument("--data", required=True, help="zoo data name, or a file/folder of data")
    prof.add_argument("--split", default="test", help="data split (default: test)")
    prof.add_argument("--limit", type=int, default=None, help="use at most N examples")
    prof.add_argument("--batch-size", type=int, default=None)
    prof.add_argument("--max-length", type=int, default=128, help="tokens per text sequence")
    prof.add_argument("--layers", nargs="+", default=None, help="names or globs; NAME:input")
    prof.add_argument("--inputs", action="store_true", help="also the inputs of Linear/Conv")
    prof.add_argument("--out", required=True, help="output folder")
    prof.add_argument("--no-progress", action="store_true")
    prof.set_defaults(run=_run_profile)

    demo = sub.add_parser("demo", help="profile and accelerate the pretrained MNIST CNN, then "
                          "a short dense-vs-sparse study; write the report")
    demo.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    demo.add_argument("--limit", type=int, default=None, help="profile at most N test images")
    demo.set_defaults(run=_run_demo)

    from actsparse.train.cli import add_train_parser

    add_train_parser(sub)
    from actsparse.exploit.accelerate_cli import add_accelerate_parser

    add_accelerate_parser(sub)
    from actsparse.exploit.bench_cli import add_bench_parser

    add_bench_parser(sub)
    from actsparse.interpret.interpret_cli import add_interpret_parser

    add_interpret_parser(sub)
    from actsparse.interpret.sae_cli import add_sae_parser

    add_sae_parser(sub)
    from actsparse.study.cli import add_study_parser

    add_study_parser(sub)
    return parser


def _run_profile(args: argparse.Namespace) -> int:
    return run_profile(
        model_name=args.model, data_name=args.data, out=Path(args.out), split=args.split,
        limit=args.limit, batch_size=args.batch_size, max_length=args.max_length,
        layers=args.layers, inputs=args.inputs, progress=not args.no_progress,
    )


def _run_demo(args: argparse.Namespace) -> int:
    from actsparse.study.demo import run_demo

    return run_demo(Path(args.out), limit=args.limit)


def run_profile(
    *,
    model_name: str,
    data_name: str,
    out: Path,
    split: str = "test",
    limit: int | None = None,
    batch_size: int | None = None,
    max_length: int = 128,
    layers: list[str] | None = None,
    inputs: bool = False,
    progress: bool = True,
) -> int:
    """Profile a zoo (or user) model on a data set; write profile files and the report."""
    import actsparse
    from actsparse import report, zoo

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    model = zoo.load_model(model_name)
    data = zoo.load_data(data_name, split=split, limit=limit)
    size = batch_size or DEFAULT_BATCH.get(model.kind, 32)
    batches = model.batches(data, batch_size=size, max_length=max_length)
    result = actsparse.profile(model.module, batches, layers=layers, inputs=inputs,
                               progress=progress)
    result.meta.update(model=model_name, data=data_name, split=split, limit=limit,
                       batch_size=size)
    out.mkdir(parents=True, exist_ok=True)
    result.save(out / "profile.safetensors")
    (out / "profile.json").write_text(json.dumps(result.to_dict(), indent=2))
    examples = _examples(model, data) if model.kind == "image" else None
    report.write_report(result, out / "report.html", title=f"{model_name} on {data_name}",
                        examples=examples)
    report.print_table(result)
    print(f"wrote {out / 'profile.safetensors'}, {out / 'profile.json'}, {out / 'report.html'}")
    return 0


def _examples(model: zoo.ZooModel, data: zoo.Data, n: int = 6) -> report.Examples | None:
    """A few real inputs with each conv layer's firing map, for the report's heatmaps."""
    from actsparse import report

    views = model.views(data.images[:n])[:n]  # type: ignore[union-attr]
    try:
        return report.example_maps(model.module, model.normalize(views), views)
    except ValueError:  # no conv layers: nothing to draw over the images
        return None


if __name__ == "__main__":
    raise SystemExit(main())
