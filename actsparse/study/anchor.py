"""Numenta's MNIST table, the study's anchor, and our numbers beside it under the same protocol.

Ahmad & Scheinkman (2019), "How Can We Be So Dense? The Benefits of Using Highly Sparse
Representations", Table 1 (MNIST): test accuracy and noise score (total correct over the 11
noise levels 0, 0.05, ..., 0.5 on the 10,000 test images). Their networks, data split (60,000
training images) and training (SGD, more epochs) differ from ours; the noise protocol is the
same (:mod:`actsparse.study.noise`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from actsparse.study.stats import summarize

NUMENTA_SOURCE = ("Ahmad & Scheinkman 2019, How Can We Be So Dense? The Benefits of Using "
                  "Highly Sparse Representations (arXiv:1903.11257), Table 1")
NUMENTA_MNIST: tuple[dict[str, Any], ...] = (
    {"model": "Numenta dense CNN", "accuracy": 0.9931, "noise_score": 97040},
    {"model": "Numenta sparse CNN (k-WTA)", "accuracy": 0.9909, "noise_score": 103764},
)


def anchor_rows(runs: Mapping[str, Sequence[Mapping[str, Any]]], data: str,
                best_noise: str | None) -> dict[str, Any]:
    """Numenta's rows and ours: dense, k-WTA (Numenta's mechanism) and the sparse variant with
    the best noise score, each as mean and 95% CI over seeds.

    The noise score is also given per 10,000 test images (``score * 10000 / images``) so a
    study on fewer test images can be read beside Numenta's. Only MNIST has an anchor.

    Example:
        >>> runs = {"dense": [{"test_accuracy": 0.99, "noise_score": 95000,
        ...                    "test_images": 10000}]}
        >>> rows = anchor_rows(runs, "mnist", None)["ours"]
        >>> rows[0]["variant"], rows[0]["noise_score"]["mean"]
        ('dense', 95000.0)
    """
    if data != "mnist":
        return {"available": False, "note": "Numenta's table is for MNIST; this study is on "
                                            f"{data}.", "numenta": [], "ours": []}
    names = [n for n in ("dense", "kwta", best_noise) if n is not None and n in runs]
    ours = []
    for name in dict.fromkeys(names):  # unique, in order
        rs = [r for r in runs[name] if r.get("noise_score") is not None]
        if not rs:
            continue
        ours.append({
            "variant": name,
            "accuracy": summarize([r["test_accuracy"] for r in rs]).to_dict(),
            "noise_score": summarize([r["noise_score"] for r in rs]).to_dict(),
            "noise_score_per_10k": summarize(
                [r["noise_score"] * 10000 / r["test_images"] for r in rs]).to_dict(),
            "test_images": rs[0]["test_images"],
            "seeds": len(rs),
        })
    return {"available": True, "source": NUMENTA_SOURCE, "numenta": list(NUMENTA_MNIST),
            "ours": ours}
