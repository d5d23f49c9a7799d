"""How good a sparse autoencoder is: reconstruction, sparsity, dead latents, downstream effect.

On activation vectors ``x`` (rows) and their reconstructions ``x_hat``:

- FVU, the fraction of variance unexplained: ``sum ||x - x_hat||^2 / sum ||x - mean(x)||^2``
  (0 for a perfect reconstruction, 1 for always answering the mean);
- L0: the mean number of nonzero latents per vector;
- feature density: per latent, the fraction of vectors it fires on; *dead* latents fire on none
  of the evaluated vectors; the histogram is over ``log10(density)`` of the live ones.

Downstream, the reconstruction is spliced into the model in place of the layer's output (a
forward hook; for ``NAME:input`` a pre-hook replacing the input) and the model is run again:

- causal language model: next-token cross-entropy clean (``L_clean``), with the SAE
  (``L_sae``) and with the layer zeroed (``L_zero``); loss recovered
  ``(L_zero - L_sae) / (L_zero - L_clean)`` (1: as good as the model, 0: as bad as no layer);
- encoder (e.g. MiniLM): the mean cosine between sentence embeddings (the last hidden state
  mean-pooled over non-padding tokens, as sentence-transformers does) with the SAE spliced and
  clean; the same with the layer zeroed, and cosine recovered
  ``(cos_sae - cos_zero) / (1 - cos_zero)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from actsparse._hooks import evaluating, first_tensor
from actsparse.interpret.capture import map_vectors, resolve_layer
from actsparse.interpret.sae import SparseAutoencoder
from actsparse.measure.batches import iter_calls

Task = Literal["auto", "lm", "embedding"]


def fvu(x: Tensor, x_hat: Tensor) -> float:
    """Fraction of variance unexplained of reconstructions ``x_hat`` of rows ``x``.

    Example:
        >>> x = torch.randn(100, 8)
        >>> fvu(x, x), round(fvu(x, x.mean(0).expand_as(x)), 6)
        (0.0, 1.0)
    """
    if x.shape != x_hat.shape or x.dim() != 2:
        raise ValueError(f"x and x_hat must be (N, D) of one shape, got {tuple(x.shape)} and "
                         f"{tuple(x_hat.shape)}")
    x, x_hat = x.double(), x_hat.double()
    total = (x - x.mean(0)).pow(2).sum()
    if float(total) == 0.0:
        raise ValueError("the vectors have no variance: FVU is undefined")
    return float((x - x_hat).pow(2).sum() / total)


def l0(codes: Tensor) -> float:
    """Mean number of nonzero entries per row of ``codes`` ``(N, n_latents)``.

    Example:
        >>> l0(torch.tensor([[0.0, 1.0, 2.0], [0.0, 0.0, 3.0]]))
        1.5
    """
    return float((codes != 0).sum(-1).double().mean())


def dead_fraction(density: Tensor) -> float:
    """Fraction of latents whose density is 0 (they never fired).

    Example:
        >>> dead_fraction(torch.tensor([0.0, 0.1, 0.0, 0.5]))
        0.5
    """
    return float((density == 0).double().mean())


def density_histogram(density: Tensor, bins: int = 40, low: float = -6.0) -> dict[str, Any]:
    """Histogram data of ``log10(density)`` over live latents, and the count of dead ones.

    Returns ``{"edges": [...], "counts": [...], "dead": int, "live": int}``; densities below
    ``10**low`` fall in the first bin.

    Example:
        >>> h = density_histogram(torch.tensor([0.0, 0.01, 0.01, 0.5]), bins=6)
        >>> h["dead"], h["live"], sum(h["counts"]), len(h["edges"])
        (1, 3, 3, 7)
    """
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    live = density[density > 0].double()
    edges = torch.linspace(low, 0.0, bins + 1, dtype=torch.float64)
    logs = live.log10().clamp(low, 0.0)
    counts = torch.histc(logs, bins=bins, min=low, max=0.0) if live.numel() else \
        torch.zeros(bins, dtype=torch.float64)
    return {"edges": [round(float(e), 6) for e in edges], "counts": [int(c) for c in counts],
            "dead": int((density == 0).sum()), "live": int(live.numel())}


@torch.no_grad()
def evaluate_sae(sae: SparseAutoencoder, activations: Tensor | Iterable[Tensor], *,
                 targets: Tensor | None = None, batch_size: int = 4096,
                 bins: int = 40) -> dict[str, Any]:
    """FVU, L0, MSE, feature density and its histogram of ``sae`` on activation vectors.

    ``activations`` is one ``(N, d_in)`` tensor or an iterable of such chunks (e.g.
    :func:`~actsparse.interpret.capture.stream_activations`): one pass, memory one chunk.
    For a transcoder, ``targets`` ``(N, d_out)`` (a tensor, with a tensor of activations) are
    what FVU and MSE compare its predictions with.

    Example:
        >>> sae = SparseAutoencoder(8, 32, k=4)
        >>> m = evaluate_sae(sae, torch.randn(200, 8))
        >>> sorted(m)[:4], m["l0"] <= 4
        (['dead_fraction', 'density', 'density_histogram', 'fvu'], True)
    """
    chunks = _paired(sae, activations, targets, batch_size)
    count = 0
    sum_x = torch.zeros(sae.w_dec.shape[1], dtype=torch.float64)
    sum_sq = torch.zeros((), dtype=torch.float64)
    err_sq = torch.zeros((), dtype=torch.float64)
    nonzero = torch.zeros((), dtype=torch.float64)
    fires = torch.zeros(sae.n_latents, dtype=torch.float64)
    for chunk, goal in chunks:
        values, indices = sae.encode_topk(chunk)
        x_hat = sae.decode_topk(values, indices)
        x = goal.double()
        count += x.shape[0]
        sum_x += x.sum(0)
        sum_sq += x.pow(2).sum()
        err_sq += (x - x_hat.double()).pow(2).sum()
        active = values > 0
        nonzero += active.sum()
        fires.index_add_(0, indices[active], torch.ones(int(active.sum()), dtype=torch.float64))
    if count == 0:
        raise ValueError("no activation vectors to evaluate")
    total_var = sum_sq - sum_x.pow(2).sum() / count  # sum ||x - mean||^2
    density = (fires / count).float()
    return {
        "fvu": float(err_sq / total_var) if float(total_var) > 0 else math.nan,
        "mse": float(err_sq / (count * sum_x.shape[0])),
        "l0": float(nonzero / count),
        "dead_fraction": dead_fraction(density),
        "vectors": count,
        "density": density,
        "density_histogram": density_histogram(density, bins=bins),
    }


def _paired(sae: SparseAutoencoder, activations: Tensor | Iterable[Tensor],
            targets: Tensor | None, size: int) -> Iterator[tuple[Tensor, Tensor]]:
    """``(inputs, what they should reconstruct)`` chunks."""
    if (targets is None) != (sae.d_out is None):
        raise ValueError("pass targets= for a transcoder (d_out set), and only for one")
    if targets is None:
        yield from ((chunk, chunk) for chunk in _chunks(activations, size))
        return
    if not isinstance(activations, Tensor) or targets.shape[0] != activations.shape[0]:
        raise ValueError("a transcoder is evaluated on a tensor of activations and a tensor "
                         "of targets with as many rows")
    yield from zip(_chunks(activations, size), _chunks(targets, size), strict=True)


def _chunks(activations: Tensor | Iterable[Tensor], size: int) -> Iterator[Tensor]:
    if isinstance(activations, Tensor):
        for start in range(0, activations.shape[0], size):
            yield activations[start:start + size]
    else:
        yield from activations


@contextmanager
def spliced(model: nn.Module, layer: str, fn: Callable[[Tensor], Tensor]) -> Iterator[None]:
    """Replace ``layer``'s output (or input, for ``NAME:input``) by ``fn`` of its vectors.

    ``fn`` maps ``(N, D)`` vectors to ``(N, D)`` (see
    :func:`~actsparse.interpret.capture.map_vectors`); for a module returning a tuple (a
    decoder layer) only the first tensor is replaced. The hook is always removed.

    Example:
        >>> net = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
        >>> with spliced(net, "0", torch.zeros_like):
        ...     net(torch.randn(4, 2)).abs().sum().item()
        0.0
        >>> len(net[0]._forward_hooks)
        0
    """
    target = resolve_layer(model, layer)
    module = dict(model.named_modules())[target.module_name]
    if target.on_input:
        def pre_hook(_m: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
            return _replace_first(args, fn)

        handle = module.register_forward_pre_hook(pre_hook)
    else:
        def hook(_m: nn.Module, _args: Any, out: Any) -> Any:
            return _replace_first(out, fn)

        handle = module.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def _replace_first(value: Any, fn: Callable[[Tensor], Tensor]) -> Any:
    """``value`` with its first tensor replaced by ``map_vectors(tensor, fn)``."""
    if isinstance(value, Tensor):
        return map_vectors(value, fn).to(value.dtype)
    if isinstance(value, list | tuple) and not hasattr(value, "_fields"):
        items = list(value)
        for i, item in enumerate(items):
            if first_tensor(item) is not None:
                items[i] = _replace_first(item, fn)
                return type(value)(items) if isinstance(value, tuple) else items
        return value
    if isinstance(value, dict):
        for key, item in value.items():
            if first_tensor(item) is not None:
                value[key] = _replace_first(item, fn)
                return value
        return value
    raise TypeError(f"cannot splice into a layer output of type {type(value).__name__}")


def sae_fn(sae: SparseAutoencoder) -> Callable[[Tensor], Tensor]:
    """``(N, d_in) -> (N, d_in)`` reconstruction by ``sae``, for :func:`spliced`."""
    def reconstruct(v: Tensor) -> Tensor:
        values, indices = sae.encode_topk(v.float())
        return sae.decode_topk(values, indices)

    return reconstruct


@torch.no_grad()
def downstream_effect(model: nn.Module, batches: Iterable[Any], layer: str,
                      sae: SparseAutoencoder, *, task: Task = "auto",
                      input_key: int | str = 0) -> dict[str, Any]:
    """The model's loss (or embedding) with ``sae`` spliced into ``layer``; see the module doc.

    Args:
        model: a causal LM returning logits ``(B, T, vocab)``, or an encoder returning hidden
            states ``(B, T, D)`` (or ``(B, D)`` outputs, compared directly by cosine).
        batches: dicts with ``input_ids`` (and ``attention_mask``) for an LM; any batches for
            an encoder.
        layer: where to splice: a module name or ``NAME:input``.
        sae: trained on that layer's activations.
        task: 'lm', 'embedding', or 'auto' (an LM when the output's last dim is the model's
            ``config.vocab_size``).

    Example:
        >>> net = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 5))
        >>> sae = SparseAutoencoder(6, 24, k=6)
        >>> r = downstream_effect(net, [torch.randn(8, 4)], "1", sae, task="embedding")
        >>> r["task"], -1 <= r["embedding_cosine"] <= 1
        ('embedding', True)
    """
    if task not in ("auto", "lm", "embedding"):
        raise ValueError(f"task must be 'auto', 'lm' or 'embedding', got {task!r}")
    resolve_layer(model, layer)
    reconstruct = sae_fn(sae)
    sums: dict[str, float] = {}
    count = 0
    chosen: str | None = None if task == "auto" else task
    with evaluating(model):
        for args, kwargs, mask in iter_calls(model, batches, input_key):
            clean = _output(model, args, kwargs)
            if chosen is None:
                chosen = "lm" if _looks_like_lm(model, clean) else "embedding"
            with spliced(model, layer, reconstruct):
                with_sae = _output(model, args, kwargs)
            with spliced(model, layer, torch.zeros_like):
                zeroed = _output(model, args, kwargs)
            if chosen == "lm":
                ids = kwargs.get("input_ids", args[0] if args else None)
                if not isinstance(ids, Tensor) or clean.dim() != 3:
                    raise ValueError("task 'lm' needs batches with input_ids and a model that "
                                     "returns logits (B, T, vocab)")
                parts = {"loss_clean": clean, "loss_sae": with_sae, "loss_zero_ablated": zeroed}
                n = 0
                for key, logits in parts.items():
                    total, n = _next_token_loss(logits, ids, mask)
                    sums[key] = sums.get(key, 0.0) + total
                count += n
            else:
                ref = _embed(clean, mask)
                n = ref.shape[0]
                for key, other in (("embedding_cosine", with_sae),
                                   ("embedding_cosine_zero_ablated", zeroed)):
                    cos = F.cosine_similarity(ref, _embed(other, mask), dim=-1)
                    sums[key] = sums.get(key, 0.0) + float(cos.double().sum())
                count += n
    if count == 0:
        raise ValueError("batches is empty (or has no scored tokens): nothing to measure")
    result: dict[str, Any] = {"task": chosen, "layer": layer}
    result.update({key: value / count for key, value in sums.items()})
    if chosen == "lm":
        result["tokens"] = count
        gap = result["loss_zero_ablated"] - result["loss_clean"]
        result["loss_recovered"] = ((result["loss_zero_ablated"] - result["loss_sae"]) / gap
                                    if gap != 0 else math.nan)
    else:
        result["samples"] = count
        zero = result["embedding_cosine_zero_ablated"]
        result["cosine_recovered"] = ((result["embedding_cosine"] - zero) / (1 - zero)
                                      if zero < 1 else math.nan)
    return result


def _output(model: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Tensor:
    out = first_tensor(model(*args, **kwargs))
    if out is None:
        raise ValueError(f"{type(model).__name__} returned no tensor to compare")
    return out.float()


def _looks_like_lm(model: nn.Module, out: Tensor) -> bool:
    vocab = getattr(getattr(model, "config", None), "vocab_size", None)
    return out.dim() == 3 and isinstance(vocab, int) and out.shape[-1] == vocab


def _next_token_loss(logits: Tensor, ids: Tensor, mask: Tensor | None) -> tuple[float, int]:
    """Summed cross-entropy of predicting token t+1 at t, over positions where both are real."""
    pred, target = logits[:, :-1], ids[:, 1:].to(logits.device)
    keep = torch.ones_like(target, dtype=torch.bool)
    if mask is not None:
        keep = mask[:, 1:].bool() & mask[:, :-1].bool()
    ce = F.cross_entropy(pred[keep], target[keep], reduction="sum")
    return float(ce), int(keep.sum())


def _embed(out: Tensor, mask: Tensor | None) -> Tensor:
    """Mean over non-padding tokens of ``(B, T, D)``; other shapes are flattened per sample."""
    if out.dim() == 3:
        weights = (mask.float() if mask is not None and mask.shape == out.shape[:2]
                   else torch.ones(out.shape[:2])).unsqueeze(-1).to(out.device)
        return (out * weights).sum(1) / weights.sum(1).clamp_min(1)
    return out.reshape(out.shape[0], -1)
