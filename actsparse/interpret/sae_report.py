"""The page of ``actsparse sae``: summary, feature density, training curve, top latents in text.

``report.html`` is self-contained (plots are inline PNGs, every text escaped). For a text model
it shows, for a few latents, the held-out snippets where each fires most, the token it fires on
marked.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from actsparse._atomic import write_text_atomic
from actsparse.interpret.capture import capture_activations
from actsparse.interpret.sae import SparseAutoencoder
from actsparse.report._mpl import new_figure, png_data_uri

if TYPE_CHECKING:
    from matplotlib.figure import Figure

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


def density_figure(histogram: dict[str, Any], title: str = "feature density") -> Figure:
    """Bars of ``log10(density)`` of the live latents; the dead count in the title."""
    fig = new_figure(5.5, 3.2)
    ax = fig.add_subplot()
    edges, counts = histogram["edges"], histogram["counts"]
    widths = [edges[i + 1] - edges[i] for i in range(len(counts))]
    ax.bar(edges[:-1], counts, width=widths, align="edge", color="#1f77b4")
    ax.set_xlabel("log10(fraction of tokens the latent fires on)")
    ax.set_ylabel("latents")
    ax.set_title(f"{title} ({histogram['dead']} dead of "
                 f"{histogram['dead'] + histogram['live']})")
    return fig


def curve_figure(history: dict[str, list[float]]) -> Figure:
    """Training MSE (log scale) and the dead fraction by the tracker, against the step."""
    fig = new_figure(5.5, 3.2)
    ax = fig.add_subplot()
    ax.plot(history["step"], history["mse"], color="#1f77b4", label="MSE (scaled inputs)")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("MSE")
    twin = ax.twinx()
    twin.plot(history["step"], history["dead_fraction"], color="#d62728", lw=1,
              label="dead fraction")
    twin.set_ylabel("dead fraction")
    twin.set_ylim(0, max(0.05, max(history["dead_fraction"], default=0) * 1.1))
    ax.set_title("training")
    lines = ax.get_lines() + twin.get_lines()
    ax.legend(lines, [str(line.get_label()) for line in lines], loc="upper center", fontsize=8)
    return fig


def write_sae_page(path: str | os.PathLike[str], *, title: str, summary: dict[str, Any],
                   histogram: dict[str, Any], history: dict[str, list[float]],
                   examples: list[dict[str, Any]], command: str = "") -> Path:
    """Write the standalone HTML page of a trained SAE; return its path.

    Example:
        >>> import tempfile
        >>> hist = {"edges": [-2.0, -1.0, 0.0], "counts": [3, 1], "dead": 0, "live": 4}
        >>> curve = {"step": [0.0, 1.0], "mse": [1.0, 0.5], "dead_fraction": [0.0, 0.0]}
        >>> page = write_sae_page(tempfile.mkdtemp() + "/r.html", title="<t>",
        ...                       summary={"FVU": 0.2}, histogram=hist, history=curve,
        ...                       examples=[{"latent": 3, "density": 0.01, "mass": 2.0,
        ...                                  "examples": [{"value": 1.0, "before": "a ",
        ...                                                "token": "<b>", "after": " c"}]}])
        >>> text = page.read_text()
        >>> "&lt;t&gt;" in text, "<mark>&lt;b&gt;</mark>" in text
        (True, True)
    """
    out = Path(path)
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>"
                   for k, v in summary.items())
    density_png = png_data_uri(density_figure(histogram))
    curve_png = png_data_uri(curve_figure(history)) if history.get("step") else ""
    latents = "".join(_latent_block(block) for block in examples) or \
        "<p>No snippets: the model does not take text, or no latent qualified.</p>"
    curve = f'<img alt="training curve" src="{curve_png}">' if curve_png else ""
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 6px;text-align:left}}
mark{{background:#ffd54f;padding:0 1px}}li{{margin:0.3em 0;font-family:monospace;font-size:90%}}
pre{{background:#f6f6f6;padding:1em;overflow-x:auto}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>The numbers are in <code>sae.json</code>; the weights in <code>sae.safetensors</code>.</p>
<pre>{html.escape(command)}</pre>
<h2>Summary</h2><table>{rows}</table>
<h2>Feature density (held-out data)</h2>
<p>How often each latent fires; dead latents never fire on the held-out vectors.</p>
<img alt="feature density histogram" src="{density_png}">
<h2>Training</h2>{curve}
<h2>Top latents on held-out text</h2>
<p>Latents with the most activation mass on held-out text (those firing on more than 10% of
tokens left out); for each, the snippets where it fires most, the token marked.</p>
{latents}
</body></html>
"""
    return write_text_atomic(out, page)


def _latent_block(block: dict[str, Any]) -> str:
    items = "".join(
        f"<li>{ex['value']:.3g}: {html.escape(ex['before'])}<mark>{html.escape(ex['token'])}"
        f"</mark>{html.escape(ex['after'])}</li>" for ex in block["examples"])
    return (f"<h3>latent {block['latent']}</h3><p>fires on {block['density']:.2%} of held-out "
            f"tokens</p><ul>{items}</ul>")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
