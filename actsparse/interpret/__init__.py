"""Interpret sparse representations: selectivity, overlap, sparse coding, sparse autoencoders.

Example:
    >>> import torch
    >>> from actsparse.interpret import false_match_probability, sparse_encode
    >>> round(false_match_probability(n=1024, a=16, s=16, theta=8), 12)
    0.0
    >>> codes = sparse_encode(torch.eye(3), torch.eye(3), alpha=0.1)
    >>> torch.allclose(codes, 0.9 * torch.eye(3), atol=1e-5)
    True
"""

from actsparse.interpret.capture import capture_activations, capture_pairs, stream_activations
from actsparse.interpret.conv_coding import SparseCodingConv2d, fit_patch_dictionary
from actsparse.interpret.dictionary import DictionaryLearning
from actsparse.interpret.geometric_median import geometric_median
from actsparse.interpret.lista import LISTA
from actsparse.interpret.overlap import (
    Overlap,
    class_overlap,
    false_match_probability,
    jaccard_matrix,
    overlap_vs_density,
)
from actsparse.interpret.sae import SparseAutoencoder
from actsparse.interpret.sae_chunks import ActivationChunks, save_chunks
from actsparse.interpret.sae_eval import dead_fraction, downstream_effect, evaluate_sae, fvu, l0
from actsparse.interpret.sae_train import load_sae, save_sae, train_sae
from actsparse.interpret.selectivity import Selectivity, class_selectivity
from actsparse.interpret.sparse_coding import ConvergenceWarning, lasso_objective, sparse_encode
from actsparse.interpret.top_examples import TopActivations, TopExamples, top_examples

__all__ = [
    "LISTA",
    "ActivationChunks",
    "ConvergenceWarning",
    "DictionaryLearning",
    "Overlap",
    "Selectivity",
    "SparseAutoencoder",
    "SparseCodingConv2d",
    "TopActivations",
    "TopExamples",
    "capture_activations",
    "capture_pairs",
    "class_overlap",
    "class_selectivity",
    "dead_fraction",
    "downstream_effect",
    "evaluate_sae",
    "false_match_probability",
    "fit_patch_dictionary",
    "fvu",
    "geometric_median",
    "jaccard_matrix",
    "l0",
    "lasso_objective",
    "load_sae",
    "overlap_vs_density",
    "save_chunks",
    "save_sae",
    "sparse_encode",
    "stream_activations",
    "top_examples",
    "train_sae",
]
