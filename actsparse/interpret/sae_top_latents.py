"""The held-out text where the latents of a sparse autoencoder fire most.

For the latents with the most activation mass (dense latents left out), the snippets around
the tokens each fires on most, streamed batch by batch: memory is one batch of codes plus
``n_latents x per_latent`` values. The SAE page (:mod:`actsparse.report.sae_page`) shows them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from actsparse.interpret.capture import capture_activations
from actsparse.interpret.sae import SparseAutoencoder

CONTEXT_CHARS = (90, 40)  # characters shown before and after the marked token


@torch.no_grad()
def top_latent_examples(
    model: nn.Module,
    tokenizer: Any,
    texts: Sequence[str],
    layer: str,
    sae: SparseAutoencoder,
    *,
    shown: int = 6,
    per_latent: int = 5,
    max_density: float = 0.1,
    max_length: int = 128,
    batch_size: int = 16,
) -> list[dict[str, Any]]:
    """For the ``shown`` latents with the most activation mass on ``texts``, their top snippets.

    Latents firing on more than ``max_density`` of the tokens are left out (they are dense, not
    selective). Each snippet is ``{"value", "before", "token", "after"}`` with the token the
    latent fired on; memory is one batch of codes plus ``n_latents x per_latent``.

    ``tokenizer`` is a fast Hugging Face tokenizer (it gives character offsets).

    Example:
        >>> class Chars:  # a character tokenizer with the interface used here
        ...     def __call__(self, texts, max_length, **kw):
        ...         n = max(min(len(t), max_length) for t in texts)
        ...         pad = lambda t, f: [f(c) for c in t[:n]] + [0] * (n - len(t))
        ...         spans = [[(j, j + 1) for j in range(n)]] * len(texts)
        ...         return {"input_ids": torch.tensor([pad(t, ord) for t in texts]),
        ...                 "attention_mask": torch.tensor([pad(t, lambda c: 1) for t in texts]),
        ...                 "offset_mapping": torch.tensor(spans)}
        ...     def convert_ids_to_tokens(self, ids):
        ...         return [chr(i) for i in ids]
        >>> class Embed(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.emb = nn.Embedding(128, 8)
        ...     def forward(self, input_ids, attention_mask):
        ...         return self.emb(input_ids)
        >>> sae = SparseAutoencoder(8, 16, k=2)
        >>> found = top_latent_examples(Embed(), Chars(), ["abc", "hello"], "emb", sae, shown=2,
        ...                             max_density=1.0)
        >>> len(found), sorted(found[0])
        (2, ['density', 'examples', 'latent', 'mass'])
    """
    n = sae.n_latents
    best_val = torch.full((n, per_latent), -1.0)
    best_tok = torch.full((n, per_latent), -1, dtype=torch.long)
    mass = torch.zeros(n, dtype=torch.float64)
    fires = torch.zeros(n, dtype=torch.float64)
    spans: list[tuple[int, int, int, str]] = []  # per token: passage, char start, end, token
    for start in range(0, len(texts), batch_size):
        chunk = list(texts[start:start + batch_size])
        batch = tokenizer(chunk, padding=True, truncation=True, max_length=max_length,
                          return_tensors="pt", return_offsets_mapping=True)
        offsets = batch.pop("offset_mapping")
        mask = batch["attention_mask"].bool()
        inputs = {k: v for k, v in batch.items() if isinstance(v, Tensor)}
        vectors = capture_activations(model, [inputs], layer)  # (real tokens, d_in)
        first = len(spans)
        ids = batch["input_ids"][mask].tolist()
        last_end = [0] * len(chunk)  # a special token (empty span) sits after the last text
        for (row, _pos), (a, b), tok in zip(mask.nonzero().tolist(), offsets[mask].tolist(),
                                           tokenizer.convert_ids_to_tokens(ids), strict=True):
            if a == b:
                spans.append((start + row, last_end[row], last_end[row], str(tok)))
            else:
                spans.append((start + row, int(a), int(b), ""))
                last_end[row] = int(b)
        codes = sae.encode(vectors)  # (T, n)
        mass += codes.double().sum(0)
        fires += (codes > 0).double().sum(0)
        top = min(per_latent, codes.shape[0])
        vals, where = codes.t().topk(top, dim=1)  # (n, top)
        merged_val = torch.cat([best_val, vals], dim=1)
        merged_tok = torch.cat([best_tok, where + first], dim=1)
        keep = merged_val.topk(per_latent, dim=1).indices
        best_val, best_tok = merged_val.gather(1, keep), merged_tok.gather(1, keep)
    density = fires / max(len(spans), 1)
    candidates = torch.nonzero((density > 0) & (density <= max_density)).flatten()
    ranked = candidates[mass[candidates].argsort(descending=True)][:shown].tolist()
    out = []
    for latent in ranked:
        examples = []
        for value, tok in zip(best_val[latent].tolist(), best_tok[latent].tolist(), strict=True):
            if value <= 0 or tok < 0:
                continue
            passage, a, b, special = spans[tok]
            text = texts[passage]
            before = text[max(0, a - CONTEXT_CHARS[0]):a]
            examples.append({"value": round(float(value), 4),
                             "before": ("…" if a > CONTEXT_CHARS[0] else "") + before,
                             "token": special or text[a:b],
                             "after": text[b:b + CONTEXT_CHARS[1]]
                             + ("…" if b + CONTEXT_CHARS[1] < len(text) else "")})
        out.append({"latent": int(latent), "density": float(density[latent]),
                    "mass": float(mass[latent]), "examples": examples})
    return out
