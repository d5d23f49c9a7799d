"""ReLU-fication: swap a model's GELU/SiLU activation modules for ReLU, and back.

"ReLU Strikes Back" (Mirzadeh et al. 2023, arXiv:2310.04564) shows that replacing the GELU or
SiLU of a pretrained LLM's MLP by ReLU, then fine-tuning briefly, recovers its quality while
making most MLP activations exactly zero. Its *shifted ReLU* moves the kink to the right,
``ReLU(x - b)``, to zero out even more of them; :class:`ShiftedReLU` is exactly that,
``y = max(x - shift, 0)`` (the surviving values are shifted down by ``b``; to keep them
unchanged instead use :class:`~actsparse.induce.threshold.ThresholdReLU`).

:func:`relufy` replaces modules in place (torch's ``nn.GELU`` / ``nn.SiLU`` and the Hugging Face
classes in ``transformers.activations`` that ``ACT2FN`` builds for ``"gelu"``, ``"gelu_new"``,
``"silu"``, ...) and returns what it replaced, so that :meth:`Relufied.undo` can put the
originals back. Activations called as functions (``F.gelu`` inside a ``forward``) are not
modules and cannot be swapped; neither is a model's ``config.hidden_act`` changed.
"""

from __future__ import annotations

import sys
from typing import Literal

import torch
from torch import Tensor, nn

from actsparse._hooks import register_activation

# The GELU/SiLU-family classes of transformers.activations (names differ across versions).
_HF_NAMES = (
    "GELUActivation", "NewGELUActivation", "FastGELUActivation", "QuickGELUActivation",
    "AccurateGELUActivation", "GELUTanh", "PytorchGELUTanh", "ClippedGELUActivation",
    "SiLUActivation",
)


class ShiftedReLU(nn.Module):
    r"""``y = max(x - shift, 0)``: the shifted ReLU of "ReLU Strikes Back" (``ReLU(x - b)``).

    A positive ``shift`` zeroes every input below it; ``shift=0`` is ``nn.ReLU``.

    Shape:
        - Input: any shape. Output: the same shape.

    Examples:
        >>> act = ShiftedReLU(1.0)
        >>> act
        ShiftedReLU(shift=1)
        >>> act(torch.tensor([-1.0, 0.5, 1.0, 3.0]))
        tensor([0., 0., 0., 2.])
    """

    def __init__(self, shift: float = 1.0) -> None:
        super().__init__()
        self.shift = float(shift)

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(x - self.shift)

    def extra_repr(self) -> str:
        return f"shift={self.shift:g}"


register_activation(ShiftedReLU)


def default_types() -> tuple[type[nn.Module], ...]:
    """``nn.GELU``, ``nn.SiLU`` and, if ``transformers`` is loaded, its GELU/SiLU classes.

    Example:
        >>> nn.GELU in default_types() and nn.SiLU in default_types()
        True
    """
    found: list[type[nn.Module]] = [nn.GELU, nn.SiLU]
    hf = sys.modules.get("transformers.activations")  # a model that uses it has imported it
    if hf is not None:
        for name in _HF_NAMES:
            cls = getattr(hf, name, None)
            if isinstance(cls, type) and issubclass(cls, nn.Module) and cls not in found:
                found.append(cls)
    return tuple(found)


class Relufied(dict[str, tuple[nn.Module, nn.Module]]):
    """What :func:`relufy` replaced: ``{qualified name: (original, replacement)}``.

    :meth:`undo` puts every original back (the same module objects) and empties the dict.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def undo(self) -> nn.Module:
        """Restore the original modules in the model; returns the model.

        Raises ``RuntimeError`` (changing nothing) if a replacement is no longer in its place.
        """
        places = []
        for name, (old, new) in self.items():
            parent_name, _, attr = name.rpartition(".")
            parent = self.model.get_submodule(parent_name)
            if parent._modules.get(attr) is not new:
                raise RuntimeError(
                    f"module {name!r} is no longer the replacement relufy put there; "
                    "cannot undo safely"
                )
            places.append((parent, attr, old))
        for parent, attr, old in places:
            parent._modules[attr] = old
        self.clear()
        return self.model


def relufy(model: nn.Module, *, to: Literal["relu", "shifted"] = "relu", shift: float = 1.0,
           types: type[nn.Module] | tuple[type[nn.Module], ...] | None = None) -> Relufied:
    """Replace GELU/SiLU activation modules by ReLU (or :class:`ShiftedReLU`), in place.

    Args:
        model: the model to change.
        to: ``"relu"`` for ``nn.ReLU``, ``"shifted"`` for ``ShiftedReLU(shift)``.
        shift: the shift ``b`` of ``ReLU(x - b)`` when ``to="shifted"`` (1.0 is a starting
            point, not a calibrated value: look at the profile of the pre-activations).
        types: the module classes to replace (default :func:`default_types`).

    Returns:
        A :class:`Relufied` dict ``{name: (original, replacement)}``; ``.undo()`` reverts.
        A module shared under several names gets one shared replacement.

    Example:
        >>> net = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 8), nn.SiLU())
        >>> done = relufy(net)
        >>> sorted(done), net[1]
        (['1', '3'], ReLU())
        >>> done.undo()[1]
        GELU(approximate='none')
        >>> relufy(net, to="shifted", shift=0.5)["3"][1]
        ShiftedReLU(shift=0.5)
    """
    if to not in ("relu", "shifted"):
        raise ValueError(f"to must be 'relu' or 'shifted', got {to!r}")
    wanted = default_types() if types is None else (types if isinstance(types, tuple) else (types,))
    for cls in wanted:
        if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
            raise TypeError(f"types must be nn.Module classes, got {cls!r}")
    if isinstance(model, wanted):
        raise ValueError(
            f"the model itself is a {type(model).__name__}; relufy replaces submodules, so wrap "
            "it (e.g. nn.Sequential(model)) or build the replacement directly"
        )

    def make() -> nn.Module:
        return nn.ReLU() if to == "relu" else ShiftedReLU(shift)

    done = Relufied(model)
    swapped: dict[int, nn.Module] = {}  # id(original) -> its replacement
    sites = [
        (f"{prefix}.{attr}" if prefix else attr, parent, attr, child)
        for prefix, parent in model.named_modules(remove_duplicate=False)
        for attr, child in parent._modules.items()
        if child is not None and isinstance(child, wanted)
    ]
    for name, parent, attr, child in sites:
        if parent._modules.get(attr) is not child:
            continue  # already handled through a parent shared under another name
        new = swapped.setdefault(id(child), make())
        parent._modules[attr] = new
        done[name] = (child, new)
    return done
