"""The ``actsparse interpret`` subcommand: selectivity, overlap and top examples of a zoo model.

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
import json
import os
import shlex
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

if TYPE_CHECKING:
    from actsparse import zoo
    from actsparse.interpret.overlap import Overlap
    from actsparse.interpret.selectivity import Selectivity
    from actsparse.interpret.top_examples import TopActivations
    from actsparse.report.interpret_page import Gallery

SNIPPET_TOKENS = 8  # tokens shown on each side of the peak token


def add_interpret_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``interpret`` to the ``actsparse`` subparsers ``sub``; return its parser.

    Example:
        >>> parser = argparse.ArgumentParser(prog="actsparse")
        >>> p = add_interpret_parser(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["interpret", "--model", "mnist-cnn", "--data", "mnist",
        ...                           "--out", "r", "--top-k", "4"])
        >>> args.top_k, args.per_class, args.split
        (4, 100, 'test')
    """
    p: argparse.ArgumentParser = sub.add_parser(
        "interpret", help="class selectivity, overlap of active sets, top activating examples")
    p.add_argument("--model", required=True, help="zoo name, Hugging Face name/folder, or file")
    p.add_argument("--data", required=True, help="zoo data name, or a file/folder of data")
    p.add_argument("--split", default="test", help="data split (default: test)")
    p.add_argument("--limit", type=int, default=None, help="use at most N examples")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--max-length", type=int, default=128, help="tokens per text sequence")
    p.add_argument("--layers", nargs="+", default=None,
                   help="names or globs (default: every activation module)")
    p.add_argument("--top-k", type=int, default=9, help="top examples kept per unit (default 9)")
    p.add_argument("--per-class", type=int, default=100,
                   help="codes sampled per class for the overlap (default 100)")
    p.add_argument("--units", type=int, default=8,
                   help="units per layer shown in the galleries (default 8)")
    p.add_argument("--threshold", type=float, default=0.0,
                   help="a unit is active when |a| > threshold (default 0)")
    p.add_argument("--seed", type=int, default=0, help="seed of the per-class sampling")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(run=_run)
    return p


def _run(args: argparse.Namespace) -> int:
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
    from actsparse import zoo
    from actsparse.cli import DEFAULT_BATCH
    from actsparse.interpret._observe import run_observers
    from actsparse.interpret.overlap import ClassSampler
    from actsparse.interpret.selectivity import SelectivityState
    from actsparse.interpret.top_examples import TopExamples

    for name, value, least in (("--top-k", top_k, 1), ("--per-class", per_class, 2),
                               ("--units", units, 1), ("--max-length", max_length, 1)):
        if value < least:
            raise ValueError(f"{name} must be at least {least}, got {value}")
    if limit is not None and limit < 1:
        raise ValueError(f"--limit must be at least 1, got {limit}")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, got {batch_size}")
    if not threshold >= 0:
        raise ValueError(f"--threshold must be >= 0, got {threshold}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    zm = zoo.load_model(model_name)
    data = zoo.load_data(data_name, split=split, limit=limit)
    if data.kind != zm.kind:
        raise ValueError(f"model {model_name!r} takes {zm.kind} data; {data_name!r} is "
                         f"{data.kind} data")
    if len(data) == 0:
        raise ValueError(f"data {data_name!r} ({split}) has no examples")
    size = batch_size or DEFAULT_BATCH.get(zm.kind, 32)
    notes: list[str] = []
    tokens: list[tuple[Tensor, Tensor]] = []
    if isinstance(data, zoo.ImageData):
        labelled = bool((data.labels >= 0).any())
        batches: Iterable[Any] = _image_batches(zm, data, size)
        if not labelled:
            notes.append(f"{data_name!r} has no class labels: selectivity and overlap are "
                         "skipped; only the top examples are shown.")
    else:
        labelled = False
        batches = _text_batches(zm, data, size, max_length, tokens)
        notes.append(f"{data_name!r} is text without class labels: selectivity and overlap "
                     "are skipped; only the top examples (token snippets) are shown.")
    top = TopExamples(top_k)
    sel_state = SelectivityState() if labelled else None
    sampler = ClassSampler(per_class, threshold=threshold, seed=seed,
                           keep_values=True) if labelled else None
    observers = [o for o in (top, sel_state, sampler) if o is not None]
    samples = run_observers(zm.module, _progress(batches, progress, len(data), size),
                            observers, layers=layers, need_labels=labelled)

    selectivity = sel_state.compute() if sel_state is not None else None
    overlaps = sampler.overlaps() if sampler is not None else None
    curves = ({layer: sampler.density_curve(layer) for layer in sampler.layers}
              if sampler is not None else None)
    tops = top.compute()
    from actsparse.report.figures import spread
    from actsparse.report.interpret_page import MAX_LAYERS

    shown = {k: tops[k] for k in spread(list(tops), MAX_LAYERS)}  # galleries of <= 12 layers
    galleries = (_image_galleries(zm, data, shown, selectivity, units)
                 if isinstance(data, zoo.ImageData)
                 else _text_galleries(zm, shown, tokens, units))

    from actsparse.interpret.overlap import false_match_curve
    from actsparse.report.interpret_page import FALSE_MATCH_SETTINGS, write_interpret_page

    meta = {"model": model_name, "data": data_name, "split": split, "samples": samples,
            "layers": len(tops), "top-k": top_k, "per class (overlap)": per_class,
            "active when": f"|a| > {threshold:g}" if threshold > 0 else "a != 0"}
    result: dict[str, Any] = {
        "command": "actsparse " + shlex.join(sys.argv[1:]) if sys.argv else "",
        "model": model_name, "data": data_name, "split": split, "limit": limit,
        "samples": samples, "batch_size": size, "threshold": threshold, "seed": seed,
        "labelled": labelled, "notes": notes, "layers": list(tops),
        "selectivity": ({k: v.to_dict() for k, v in selectivity.items()}
                        if selectivity is not None else None),
        "overlap": ({k: v.to_dict() for k, v in overlaps.items()}
                    if overlaps is not None else None),
        "overlap_vs_density": ({k: [_point(o) for o in v] for k, v in curves.items()}
                               if curves is not None else None),
        "false_match": [{"n": n, "a": a, "s": a, "p_by_theta": false_match_curve(n, a, a)}
                        for n, a in FALSE_MATCH_SETTINGS],
        "top_examples": {k: v.to_dict() for k, v in tops.items()},
        "galleries": {g.layer: [{"unit": u.unit, "caption": u.caption, "values": u.values,
                                 "snippets": [list(s) for s in u.snippets]}
                                for u in g.units] for g in galleries},
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "interpret.json").write_text(json.dumps(result, indent=1, allow_nan=False))
    page = write_interpret_page(out / "report.html", title=f"interpret {model_name} on "
                                f"{data_name}", meta=meta, selectivity=selectivity,
                                overlaps=overlaps, curves=curves, galleries=galleries,
                                notes=notes)
    _print_table(tops, selectivity, overlaps)
    for note in notes:
        print(f"note: {note}")
    print(f"wrote {out / 'interpret.json'}, {page}")
    return 0


def _point(o: Overlap) -> dict[str, Any]:
    d = o.to_dict()
    d.pop("matrix")
    return d


def _progress(batches: Iterable[Any], show: bool, n: int, size: int) -> Iterable[Any]:
    if not show:
        return batches
    from rich.progress import track

    return track(batches, description="interpreting", total=-(-n // size), transient=True)


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


def _chosen_units(layer: str, top: TopActivations,
                  selectivity: dict[str, Selectivity] | None, n: int) -> list[int]:
    """The ``n`` most selective units that fired, else those with the highest peaks."""
    if selectivity is not None and layer in selectivity:
        index = torch.nan_to_num(selectivity[layer].index, nan=-1.0)
        order = index.argsort(descending=True)
        return [int(u) for u in order[:n] if index[u] >= 0]
    peak = top.values[:, 0]
    order = peak.argsort(descending=True)
    return [int(u) for u in order[:n] if torch.isfinite(peak[u])]


def _caption(layer: str, unit: int, selectivity: dict[str, Selectivity] | None) -> str:
    if selectivity is not None and layer in selectivity:
        s = selectivity[layer]
        return f"unit {unit}\nSI {float(s.index[unit]):.2f}\nclass {int(s.preferred[unit])}"
    return f"unit {unit}"


def _image_galleries(zm: zoo.ZooModel, data: zoo.ImageData, tops: dict[str, TopActivations],
                     selectivity: dict[str, Selectivity] | None, n: int) -> list[Gallery]:
    from actsparse.interpret.top_examples import receptive_field, receptive_field_by_gradient
    from actsparse.report.interpret_page import Gallery, UnitExamples

    galleries = []
    for layer, top in tops.items():
        if top.kind == "token":
            continue
        chosen = _chosen_units(layer, top, selectivity, n)
        needed = sorted({int(s) for u in chosen for s in top.samples[u] if s >= 0})
        if not needed:
            continue
        views = dict(zip(needed, zm.views(data.images[needed], crops="center"), strict=True))
        image_hw = next(iter(views.values())).shape[1:]
        rf, how = None, "the whole input"
        if top.kind == "spatial":
            try:
                check = ((int(image_hw[0]), int(image_hw[1])),
                         (int(top.spatial[0]), int(top.spatial[1])))
                rf = receptive_field(zm.module, layer, check=check)
                how = (f"the receptive field ({rf.size[0]}x{rf.size[1]} pixels, from the "
                       "conv/pool chain) of the peak position")
            except ValueError:
                how = "the input pixels with a gradient at the peak position"
        units = []
        for u in chosen:
            images, values = [], []
            for s, v, pos in zip(top.samples[u], top.values[u], top.positions[u], strict=True):
                if s < 0:
                    continue
                view = views[int(s)]
                if top.kind == "spatial":
                    box = (rf.box(pos.tolist(), image_hw) if rf is not None else
                           receptive_field_by_gradient(zm.module, layer,
                                                       zm.normalize(view[None]), pos.tolist()))
                    view = view[:, box[0]:box[2], box[1]:box[3]]
                images.append(view)
                values.append(float(v))
            units.append(UnitExamples(u, _caption(layer, u, selectivity), values, images))
        galleries.append(Gallery(layer, f"Top {top.values.shape[1]} inputs of {len(units)} "
                                 f"units; shown: {how}.", units))
    return galleries


def _text_galleries(zm: zoo.ZooModel, tops: dict[str, TopActivations],
                    tokens: list[tuple[Tensor, Tensor]], n: int) -> list[Gallery]:
    from actsparse.report.interpret_page import Gallery, UnitExamples

    galleries = []
    for layer, top in tops.items():
        if top.kind != "token":
            continue
        units = []
        for u in _chosen_units(layer, top, None, n):
            snippets, values = [], []
            for s, v, pos in zip(top.samples[u], top.values[u], top.positions[u], strict=True):
                if s < 0:
                    continue
                snippets.append(snippet(zm.tokenizer, *tokens[int(s)], int(pos[0])))
                values.append(float(v))
            units.append(UnitExamples(u, f"unit {u}", values, snippets=snippets))
        galleries.append(Gallery(layer, f"Top {top.values.shape[1]} passages of {len(units)} "
                                 "units with the highest peaks; the peak token is marked.",
                                 units))
    return galleries


def snippet(tokenizer: Any, ids: Tensor, mask: Tensor, position: int,
            width: int = SNIPPET_TOKENS) -> tuple[str, str, str]:
    """``(before, token, after)`` text around ``position`` of a padded row of token ids.

    Example:
        >>> class Tok:
        ...     def convert_ids_to_tokens(self, ids): return [f"t{i}" for i in ids]
        ...     def convert_tokens_to_string(self, toks): return " ".join(toks)
        >>> snippet(Tok(), torch.tensor([5, 6, 7, 0]), torch.tensor([1, 1, 1, 0]).bool(), 1, 1)
        ('t5 ', 't6', ' t7')
    """
    valid = torch.nonzero(mask).flatten().tolist()
    where = valid.index(position) if position in valid else 0
    left = valid[max(0, where - width):where]
    right = valid[where + 1:where + 1 + width]

    def text(positions: list[int]) -> str:
        if not positions:
            return ""
        toks = tokenizer.convert_ids_to_tokens([int(ids[p]) for p in positions])
        return str(tokenizer.convert_tokens_to_string(toks))

    before, after = text(left), text(right)
    return (before + " " if before else "", text([position]), " " + after if after else "")


def _print_table(tops: dict[str, TopActivations], selectivity: dict[str, Selectivity] | None,
                 overlaps: dict[str, Overlap] | None) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    def f(x: float | None) -> str:
        return "-" if x is None or x != x else f"{x:.3f}"

    table = Table(header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False,
                  collapse_padding=True)
    table.add_column("layer", no_wrap=True)
    heads = ["units", "kind"] + (["mean SI"] if selectivity else [])
    heads += ["within", "between", "density", "between/\nchance"] if overlaps else []
    for head in heads:
        table.add_column(head, justify="right", min_width=5)
    for layer, top in tops.items():
        row = [str(top.units), top.kind]
        if selectivity:
            s = selectivity.get(layer)
            row.append(f(s.mean_index if s else None))
        if overlaps:
            o = overlaps.get(layer)
            row += [f(o.within if o else None), f(o.between if o else None),
                    f(o.density if o else None), f(o.between_over_chance if o else None)]
        table.add_row(Text(layer), *row)
    Console().print(table)
