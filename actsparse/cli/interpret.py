"""``actsparse interpret``: selectivity, overlap and top examples of a zoo model.

``actsparse interpret --model mnist-cnn --data mnist --out runs/interp`` runs the model once
over the data and writes:

- ``interpret.json``: per layer the class selectivity, the overlap matrix of active sets, the
  overlap against density, the top-k examples of every unit, and the false-match table
  (strict JSON: NaN as null);
- ``report.html``: the plots and galleries of top examples (image patches, or text snippets
  with the peak token marked).

Images are batched one centre view per image so that labels stay aligned with samples. Text
data carries no class labels: selectivity and overlap are skipped with a note and only the
top examples are shown.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from actsparse import zoo
from actsparse._jsonio import write_json
from actsparse._out_folder import staged_out
from actsparse._progress import track
from actsparse.cli._galleries import image_galleries, text_galleries
from actsparse.cli.common import (
    add_batch_size,
    add_limit,
    add_max_length,
    add_model_and_data,
    add_no_progress,
    add_out,
    batch_size_for,
    check_at_least,
    check_data_fits,
    command_line,
    non_negative_float,
    non_negative_int,
    offline,
    positive_int,
)
from actsparse.interpret.interpretation import Interpretation, interpret_model
from actsparse.interpret.overlap import false_match_curve
from actsparse.report.figures import spread
from actsparse.report.format import fmt
from actsparse.report.interpret_page import (
    FALSE_MATCH_SETTINGS,
    MAX_LAYERS,
    Gallery,
    write_interpret_page,
)
from actsparse.report.table import print_rows


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``interpret`` to the ``actsparse`` subparsers ``sub``; return its parser.

    Example:
        >>> parser = argparse.ArgumentParser(prog="actsparse")
        >>> p = add_parser(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["interpret", "--model", "mnist-cnn", "--data", "mnist",
        ...                           "--out", "r", "--top-k", "4"])
        >>> args.top_k, args.per_class, args.split
        (4, 100, 'test')
    """
    p: argparse.ArgumentParser = sub.add_parser(
        "interpret", help="class selectivity, overlap of active sets, top activating examples")
    add_model_and_data(p)
    add_limit(p)
    add_batch_size(p)
    add_max_length(p)
    p.add_argument("--layers", nargs="+", default=None,
                   help="names or globs (default: every activation module)")
    p.add_argument("--top-k", type=positive_int, default=9,
                   help="top examples kept per unit (default 9)")
    p.add_argument("--per-class", type=positive_int, default=100,
                   help="codes sampled per class for the overlap (default 100)")
    p.add_argument("--units", type=positive_int, default=8,
                   help="units per layer shown in the galleries (default 8)")
    p.add_argument("--threshold", type=non_negative_float, default=0.0,
                   help="a unit is active when |a| > threshold (default 0)")
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="seed of the per-class sampling")
    add_out(p)
    add_no_progress(p)
    return p


def run(args: argparse.Namespace) -> int:
    """Handle ``actsparse interpret``."""
    return run_interpret(
        model_name=args.model, data_name=args.data, out=Path(args.out), split=args.split,
        limit=args.limit, batch_size=args.batch_size, max_length=args.max_length,
        layers=args.layers, top_k=args.top_k, per_class=args.per_class, units=args.units,
        threshold=args.threshold, seed=args.seed, progress=not args.no_progress)


def run_interpret(
    *, model_name: str, data_name: str, out: Path, split: str = "test",
    limit: int | None = None, batch_size: int | None = None, max_length: int = 128,
    layers: list[str] | None = None, top_k: int = 9, per_class: int = 100, units: int = 8,
    threshold: float = 0.0, seed: int = 0, progress: bool = True,
) -> int:
    """Interpret a zoo (or user) model on a data set; write ``interpret.json`` and the page."""
    _check_args(limit, batch_size, max_length, top_k, per_class, units, threshold)
    offline()
    zm, data = _load(model_name, data_name, split, limit)
    size = batch_size_for(zm.kind, batch_size)
    tokens: list[tuple[Tensor, Tensor]] = []  # (input_ids, attention_mask) of each text
    labelled, batches, notes = _batches(zm, data, data_name, size, max_length, tokens)
    found = interpret_model(zm.module, _progress(batches, progress, len(data), size),
                            labelled=labelled, layers=layers, top_k=top_k, per_class=per_class,
                            threshold=threshold, seed=seed)
    shown = spread(list(found.top), MAX_LAYERS)  # galleries of <= 12 layers
    galleries = (image_galleries(zm, data, found, shown, units)
                 if isinstance(data, zoo.ImageData)
                 else text_galleries(zm, found, shown, tokens, units))
    settings = {"model": model_name, "data": data_name, "split": split, "limit": limit,
                "batch_size": size, "threshold": threshold, "seed": seed, "top_k": top_k,
                "per_class": per_class}
    with staged_out(out) as tmp:  # both files, or none
        write_json(tmp / "interpret.json",
                   _result(found, galleries, settings, labelled, notes), indent=1)
        write_interpret_page(
            tmp / "report.html", title=f"interpret {model_name} on {data_name}",
            meta=_meta(found, settings), selectivity=found.selectivity, overlaps=found.overlaps,
            curves=found.curves, galleries=galleries, notes=notes)
    page = out / "report.html"
    _print_table(found)
    for note in notes:
        print(f"note: {note}")
    print(f"wrote {out / 'interpret.json'}, {page}")
    return 0


def _check_args(limit: int | None, batch_size: int | None, max_length: int, top_k: int,
                per_class: int, units: int, threshold: float) -> None:
    for name, value, least in (("--top-k", top_k, 1), ("--per-class", per_class, 2),
                               ("--units", units, 1), ("--max-length", max_length, 1),
                               ("--limit", limit, 1), ("--batch-size", batch_size, 1)):
        check_at_least(name, value, least)
    if not threshold >= 0:
        raise ValueError(f"--threshold must be >= 0, got {threshold}")


def _load(model_name: str, data_name: str, split: str, limit: int | None
          ) -> tuple[zoo.ZooModel, zoo.Data]:
    """The model and its data, checked to be of the same kind and not empty."""
    zm = zoo.load_model(model_name)
    data = zoo.load_data(data_name, split=split, limit=limit)
    if data.kind != zm.kind:
        raise ValueError(f"model {model_name!r} takes {zm.kind} data; {data_name!r} is "
                         f"{data.kind} data")
    if len(data) == 0:
        raise ValueError(f"data {data_name!r} ({split}) has no examples")
    check_data_fits(zm, data, data_name)
    return zm, data


def _batches(zm: zoo.ZooModel, data: zoo.Data, data_name: str, size: int, max_length: int,
             tokens: list[tuple[Tensor, Tensor]]) -> tuple[bool, Iterable[Any], list[str]]:
    """``(labelled, batches, notes)``: labelled images, or text whose tokens are recorded."""
    if isinstance(data, zoo.ImageData):
        labelled = bool((data.labels >= 0).any())
        notes = [] if labelled else [
            f"{data_name!r} has no class labels: selectivity and overlap are skipped; only the "
            "top examples are shown."]
        return labelled, _image_batches(zm, data, size), notes
    notes = [f"{data_name!r} is text without class labels: selectivity and overlap are "
             "skipped; only the top examples (token snippets) are shown."]
    return False, _text_batches(zm, data, size, max_length, tokens), notes


def _meta(found: Interpretation, settings: dict[str, Any]) -> dict[str, Any]:
    """The settings table at the top of the page."""
    threshold = settings["threshold"]
    return {"model": settings["model"], "data": settings["data"], "split": settings["split"],
            "samples": found.samples, "layers": len(found.top), "top-k": settings["top_k"],
            "per class (overlap)": settings["per_class"],
            "active when": f"|a| > {threshold:g}" if threshold > 0 else "a != 0"}


def _result(found: Interpretation, galleries: list[Gallery], settings: dict[str, Any],
            labelled: bool, notes: list[str]) -> dict[str, Any]:
    """The content of ``interpret.json``."""
    measured = found.to_dict()
    return {
        "command": command_line(), "model": settings["model"], "data": settings["data"],
        "split": settings["split"], "limit": settings["limit"], "samples": found.samples,
        "batch_size": settings["batch_size"], "threshold": settings["threshold"],
        "seed": settings["seed"], "labelled": labelled, "notes": notes,
        "layers": list(found.top), "selectivity": measured["selectivity"],
        "overlap": measured["overlap"], "overlap_vs_density": measured["overlap_vs_density"],
        "false_match": [{"n": n, "a": a, "s": a, "p_by_theta": false_match_curve(n, a, a)}
                        for n, a in FALSE_MATCH_SETTINGS],
        "top_examples": measured["top_examples"],
        "galleries": {g.layer: [{"unit": u.unit, "caption": u.caption, "values": u.values,
                                 "snippets": [list(s) for s in u.snippets]}
                                for u in g.units] for g in galleries},
    }


def _progress(batches: Iterable[Any], show: bool, n: int, size: int) -> Iterable[Any]:
    return track(batches, "interpreting", total=-(-n // size), enabled=show)


def _image_batches(zm: zoo.ZooModel, data: zoo.ImageData, size: int
                   ) -> Iterator[tuple[Tensor, Tensor]]:
    """``(inputs, labels)``: one centre view per image, normalised as the model expects."""
    for start in range(0, len(data), size):
        views = zm.views(data.images[start:start + size], crops="center")
        yield zm.normalize(views), data.labels[start:start + size]


def _text_batches(zm: zoo.ZooModel, data: zoo.TextData, size: int, max_length: int,
                  tokens: list[tuple[Tensor, Tensor]]) -> Iterator[dict[str, Tensor]]:
    """The model's text batches; each sample's ``(input_ids, attention_mask)`` is recorded."""
    for batch in zm.batches(data, batch_size=size, max_length=max_length):
        ids = batch["input_ids"]
        mask = batch.get("attention_mask", torch.ones_like(ids))
        tokens.extend(zip(ids.to(torch.int32), mask.bool(), strict=True))
        yield batch


def _print_table(found: Interpretation) -> None:
    """Per layer: units, kind, mean selectivity and overlaps (when measured)."""
    selectivity, overlaps = found.selectivity, found.overlaps
    heads = ["layer", "units", "kind"] + (["mean SI"] if selectivity else [])
    heads += ["within", "between", "density", "between/chance"] if overlaps else []
    rows = []
    for layer, top in found.top.items():
        row = [layer, str(top.units), top.kind]
        if selectivity:
            s = selectivity.get(layer)
            row.append(fmt(s.mean_index if s else None))
        if overlaps:
            o = overlaps.get(layer)
            row += [fmt(o.within if o else None), fmt(o.between if o else None),
                    fmt(o.density if o else None), fmt(o.between_over_chance if o else None)]
        rows.append(row)
    print_rows(heads, rows)
