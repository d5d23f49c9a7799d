"""Text around one token of a tokenised passage: how a text unit's top example is shown."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

SNIPPET_TOKENS = 8  # tokens shown on each side of the peak token


def snippet(tokenizer: Any, ids: Tensor, mask: Tensor, position: int,
            width: int = SNIPPET_TOKENS) -> tuple[str, str, str]:
    """``(before, token, after)`` text around ``position`` of a padded row of token ids.

    ``tokenizer`` is a Hugging Face tokenizer (``convert_ids_to_tokens`` and
    ``convert_tokens_to_string``); ``mask`` marks the row's real tokens.

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
