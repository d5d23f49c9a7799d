"""The recommender study's variants, metrics and claims (``actsparse study --data movielens-100k``).

Every variant trains the same Mult-DAE [I-600-I] with the same budget as ``actsparse train
--model mult-dae`` (Adam 1e-3, batches of 128 users, 100 epochs, best validation epoch kept);
only the ``--sparsity`` spec on the code ``act1`` differs. The specs are those of
``benchmarks.recsys_sparse``, so its finished run folders can be reused (``--reuse``). As in
the image study, ``dropout`` is a control (dense at inference), not a sparse variant; the L1
penalties are sparsity-inducing variants whose tanh code is small but not exactly zero.

The claims are the image study's, read for a recommender: accuracy is the test NDCG@20,
noise is irrelevant items injected into the histories (:mod:`actsparse.train.recsys_robust`),
memory is the bytes of the stored user codes, interpretability is the genre selectivity of
the code's units, overlap is that of the active sets of users' codes. The verdicts follow the
image study's rule (:data:`actsparse.study.claims.RULE`).
"""

from __future__ import annotations

from actsparse.study.claims import Claim
from actsparse.study.summary import Metric, read_path
from actsparse.study.variants import Variant
from actsparse.train.recsys_run import RecsysConfig
from actsparse.train.spec import SparsitySpecError

RECSYS_VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant("dense", "none", False, "dense tanh code"),
    Variant("dropout", "dropout:0.5", False, "dropout 0.5 on the code (control)"),
    Variant("kwta", "kwta:0.1", True, "tanh + k-winners-take-all, 10% active"),
    Variant("topk", "topk:60", True, "tanh + TopK 60 (10% of 600)"),
    Variant("l1", "l1:100", True, "L1 activation penalty, weight 100"),
    Variant("l1_strong", "l1:1000", True, "L1 activation penalty, weight 1000"),
)}

MATCHED_DENSITY = 0.1  # every code cut to each user's top 10% units for the matched overlap

RECSYS_METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("ndcg@20", "test NDCG@20", read_path("ndcg@20"), True, 4),
    Metric("recall@20", "test Recall@20", read_path("recall@20"), True, 4),
    Metric("ndcg_vs_ease", "NDCG@20 / EASE's (same split)", read_path("ndcg_vs_ease"), True, 3),
    Metric("ease_ndcg@20", "EASE test NDCG@20", read_path("baselines", "ease", "ndcg@20"), True, 4),
    Metric("drop_max", "NDCG@20 drop, most irrelevant items", read_path("robustness", "drop_max"),
           False, 3),
    Metric("drop_mean", "mean NDCG@20 drop over the noise levels",
           read_path("robustness", "drop_mean"), False, 3),
    Metric("density", "code density (nonzero fraction)", read_path("density"), False, 3),
    Metric("code_bytes_ratio", "stored code bytes / dense float32",
           read_path("code_bytes", "ratio"), False, 3),
    Metric("genre_selectivity", "mean genre selectivity (films)",
           read_path("selectivity", "films", "mean_index"), True, 3),
    Metric("genre_selectivity_users", "mean genre selectivity (users)",
           read_path("selectivity", "users", "mean_index"), True, 3),
    Metric("overlap_users", "Jaccard of two users' codes", read_path("overlap", "own", "pairwise"),
           False, 3),
    Metric("overlap_between_genres", "Jaccard between genre groups",
           read_path("overlap", "own", "between"), False, 3),
    Metric("overlap_matched", f"Jaccard of two users' top-{MATCHED_DENSITY:.0%} units",
           read_path("overlap", "matched", "pairwise"), False, 3),
    Metric("overlap_matched_vs_chance", f"top-{MATCHED_DENSITY:.0%} Jaccard / chance",
           read_path("overlap", "matched", "pairwise_over_chance"), False, 2),
)}

RECSYS_CLAIMS: tuple[Claim, ...] = (
    Claim("accuracy", "Sparse codes give more accurate suggestions (test NDCG@20)", "ndcg@20",
          ("recall@20", "ndcg_vs_ease")),
    Claim("robustness", "Sparse codes resist irrelevant preferences: NDCG@20 falls less when "
          "random items enter the histories", "drop_max", ("drop_mean",)),
    Claim("memory", "Sparse codes cut memory: the stored user codes take fewer bytes",
          "code_bytes_ratio", ("density",)),
    Claim("interpretability", "Sparse units are easier to interpret (more genre-selective)",
          "genre_selectivity", ("genre_selectivity_users",)),
    Claim("overlap", "Sparse codes of different users overlap less", "overlap_users",
          ("overlap_between_genres",)),
    Claim("overlap_same_density", "...even at the same density (every code cut to each "
          "user's top 10% units, the dense code too)", "overlap_matched",
          ("overlap_matched_vs_chance",)),
)


def recsys_spec_available(spec: str) -> str | None:
    """None when ``actsparse train --model mult-dae`` takes ``spec``; else why not.

    Example:
        >>> recsys_spec_available("kwta:0.1") is None
        True
        >>> "cnn front end" in recsys_spec_available("sc:0.1")
        True
    """
    try:
        RecsysConfig(sparsity=spec).check()
    except (ValueError, SparsitySpecError) as err:
        return str(err)
    return None
