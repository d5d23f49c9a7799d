"""The galleries of ``actsparse interpret``: top examples of a few units, cut from zoo data.

Image units show the receptive field of their peak position (or the whole input), text units
the passage around their peak token.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from actsparse import zoo
from actsparse.interpret.interpretation import Interpretation, chosen_units
from actsparse.interpret.selectivity import Selectivity
from actsparse.interpret.snippets import snippet
from actsparse.interpret.top_examples import (
    ReceptiveField,
    TopActivations,
    receptive_field,
    receptive_field_by_gradient,
)
from actsparse.report.interpret_page import Gallery, UnitExamples


def image_galleries(zm: zoo.ZooModel, data: zoo.ImageData, found: Interpretation,
                    layers: list[str], n: int) -> list[Gallery]:
    """One gallery per spatial or vector layer of ``layers``: ``n`` units, their top images."""
    galleries = []
    for layer in layers:
        top = found.top[layer]
        if top.kind == "token":
            continue
        selectivity = (found.selectivity or {}).get(layer)
        chosen = chosen_units(top, selectivity, n)
        needed = sorted({int(s) for u in chosen for s in top.samples[u] if s >= 0})
        if not needed:
            continue
        views = dict(zip(needed, zm.views(data.images[needed], crops="center"), strict=True))
        image_hw = next(iter(views.values())).shape[1:]
        rf, how = _field(zm, layer, top, (int(image_hw[0]), int(image_hw[1])))
        units = [_image_unit(zm, layer, top, u, views, image_hw, rf, selectivity)
                 for u in chosen]
        galleries.append(Gallery(layer, f"Top {top.values.shape[1]} inputs of {len(units)} "
                                 f"units; shown: {how}.", units))
    return galleries


def _field(zm: zoo.ZooModel, layer: str, top: TopActivations, image_hw: tuple[int, int]
           ) -> tuple[ReceptiveField | None, str]:
    """The receptive field of a spatial layer (``None``: by gradient) and how it is shown."""
    if top.kind != "spatial":
        return None, "the whole input"
    try:
        check = (image_hw, (int(top.spatial[0]), int(top.spatial[1])))
        rf = receptive_field(zm.module, layer, check=check)
    except ValueError:
        return None, "the input pixels with a gradient at the peak position"
    return rf, (f"the receptive field ({rf.size[0]}x{rf.size[1]} pixels, from the conv/pool "
                "chain) of the peak position")


def _image_unit(zm: zoo.ZooModel, layer: str, top: TopActivations, unit: int,
                views: dict[int, Tensor], image_hw: Sequence[int], rf: ReceptiveField | None,
                selectivity: Selectivity | None) -> UnitExamples:
    images, values = [], []
    for s, v, pos in zip(top.samples[unit], top.values[unit], top.positions[unit], strict=True):
        if s < 0:
            continue
        view = views[int(s)]
        if top.kind == "spatial":
            box = (rf.box(pos.tolist(), image_hw) if rf is not None else
                   receptive_field_by_gradient(zm.module, layer, zm.normalize(view[None]),
                                               pos.tolist()))
            view = view[:, box[0]:box[2], box[1]:box[3]]
        images.append(view)
        values.append(float(v))
    return UnitExamples(unit, _caption(unit, selectivity), values, images)


def _caption(unit: int, selectivity: Selectivity | None) -> str:
    if selectivity is not None:
        return (f"unit {unit}\nSI {float(selectivity.index[unit]):.2f}\n"
                f"class {int(selectivity.preferred[unit])}")
    return f"unit {unit}"


def text_galleries(zm: zoo.ZooModel, found: Interpretation, layers: list[str],
                   tokens: list[tuple[Tensor, Tensor]], n: int) -> list[Gallery]:
    """One gallery per token layer of ``layers``: ``n`` units, the passages of their peaks."""
    galleries = []
    for layer in layers:
        top = found.top[layer]
        if top.kind != "token":
            continue
        units = []
        for u in chosen_units(top, None, n):
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
