"""The study's variants: one architecture and one training budget, six ways to get activations.

Every variant trains the same CNN (``actsparse.train``'s ``cnn``: conv30 -> conv60 -> fc200,
Numenta's shape) with the same optimiser (Adam, lr 1e-3, decayed by 0.7 per epoch), batch
size, epochs and seeds; only the ``--sparsity`` spec differs. The hyper-parameters come from
the 5-epoch MNIST runs of ``actsparse train`` (dense 99.08%, dropout:0.2 99.24%, l1:0.3 99.34%,
hoyer:0.05 99.06%, kwta:0.1 98.89%): each penalty weight is the one that made the layers
clearly sparser without losing accuracy, k-WTA keeps 10% as in Numenta's sparse CNN, and
``sc`` replaces the first convolution by a frozen sparse-coding layer whose dictionary is
learned from the training images (``actsparse.train``'s ``sc:ALPHA``).

``dropout`` is a control, not a sparse variant: it regularises during training but its
activations at inference are those of a dense ReLU network, so the claims table compares the
sparse variants (``sparse=True``) with ``dense`` and shows dropout beside them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from actsparse.train.spec import parse_sparsity


@dataclass(frozen=True)
class Variant:
    """One row of the study: a name, its sparsity spec, and whether its code is sparse.

    Example:
        >>> VARIANTS["kwta"].spec, VARIANTS["kwta"].sparse, VARIANTS["dropout"].sparse
        ('kwta:0.1', True, False)
    """

    name: str
    spec: str
    sparse: bool
    label: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# The sparse-coding front end's L1 weight: on MNIST its codes leave act1 12.5% active (seed 0,
# 2 epochs: 99.10% test accuracy), as sparse as the k-WTA layers.
SC_ALPHA = 0.1

VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant("dense", "none", False, "dense ReLU CNN"),
    Variant("dropout", "dropout:0.2", False, "dropout 0.2 after every hidden layer (control)"),
    Variant("l1", "l1:0.3", True, "L1 activation penalty, weight 0.3"),
    Variant("hoyer", "hoyer:0.05", True, "Hoyer-square penalty, weight 0.05"),
    Variant("kwta", "kwta:0.1", True, "k-winners-take-all with boosting, 10% active"),
    Variant("sc", f"sc:{SC_ALPHA:g}", True, f"sparse-coding front end (alpha {SC_ALPHA:g})"),
)}
BASELINE = "dense"

# Training budget shared by every variant (TrainConfig's other fields keep their defaults).
MODEL = "cnn"
BATCH_SIZE = 128
LR = 1e-3
LR_DECAY = 0.7


def spec_available(spec: str) -> str | None:
    """None when ``actsparse.train`` parses ``spec``; else why not (the parser's message).

    Example:
        >>> spec_available("kwta:0.1") is None
        True
        >>> "unknown sparsity" in spec_available("bogus:1")
        True
    """
    try:
        parse_sparsity(spec)
    except ValueError as err:
        return str(err)
    return None


def select_variants(names: Sequence[str] | None = None, *,
                    table: Mapping[str, Variant] | None = None,
                    available: Callable[[str], str | None] = spec_available,
                    ) -> tuple[list[Variant], dict[str, str]]:
    """The variants to run, and those left out with the reason.

    ``table`` is the workload's variants (default :data:`VARIANTS`, the image study's) and
    ``available`` says why a spec cannot be trained (None when it can).

    ``names`` None: every variant whose spec this version of ``actsparse.train`` parses (a
    variant it cannot parse is left out with the parser's message). Named variants must exist
    and parse, and must include ``dense`` (the baseline every claim is measured against).

    Example:
        >>> chosen, skipped = select_variants(["dense", "kwta"])
        >>> [v.name for v in chosen], skipped
        (['dense', 'kwta'], {})
        >>> select_variants(["kwta"])
        Traceback (most recent call last):
        ...
        ValueError: the variants must include 'dense', the baseline of every comparison; got kwta
    """
    table = VARIANTS if table is None else table
    skipped: dict[str, str] = {}
    if names is None:
        chosen = []
        for v in table.values():
            why = available(v.spec)
            if why is None:
                chosen.append(v)
            else:
                skipped[v.name] = why
        return chosen, skipped
    unknown = [n for n in names if n not in table]
    if unknown:
        raise ValueError(f"unknown variant(s) {', '.join(unknown)}; choose from "
                         f"{', '.join(table)}")
    if len(set(names)) != len(names):
        raise ValueError(f"a variant is named twice: {', '.join(names)}")
    if BASELINE not in names:
        raise ValueError(f"the variants must include {BASELINE!r}, the baseline of every "
                         f"comparison; got {', '.join(names)}")
    chosen = [table[n] for n in table if n in names]  # the study's order
    for v in chosen:
        why = available(v.spec)
        if why is not None:
            raise ValueError(f"variant {v.name!r} ({v.spec}) cannot be trained by this version "
                             f"of actsparse.train: {why}")
    return chosen, skipped
