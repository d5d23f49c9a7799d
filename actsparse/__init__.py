"""actsparse: measure, induce, exploit and interpret sparse activation maps in PyTorch models.

This module only re-exports the public API. The package is layered; imports point one way
(``tests/test_layering.py`` checks it)::

    cli -> study -> train -> report -> interpret, exploit -> induce -> measure -> metrics, _hooks

- base helpers: ``metrics`` (formulas), ``_hooks`` (choosing layers, hooks that are always
  removed, layer names, eval mode with restore), ``_timing`` (interleaved timing),
  ``_jsonio`` (strict atomic JSON), ``_progress`` (optional progress bars), ``_native`` (C
  kernels built on first use);
- ``measure``: streaming per-layer state (one protocol: update, merge, compute, all_reduce),
  ``Profile``, ``profile()``;
- ``induce``: penalties, k-winners, thresholds and their calibration, relu-fication;
- ``exploit``: sparse kernels, fusion, pruning, FLOPs, ONNX, ``accelerate()``;
- ``interpret``: selectivity, overlap, top examples, sparse coding, sparse autoencoders;
- ``integrations``: Hugging Face, Lightning and TensorBoard callbacks;
- ``report``: every HTML page and figure; ``train``: the training application; ``study``:
  dense-vs-sparse experiments and the claims table; ``cli``: the ``actsparse`` command.

The four verbs (measure, induce, exploit, interpret) hold library code only: they never import
the command line, the pages, the study, the training application or the data-and-model
``zoo`` (used by cli, study, train, tests and benchmarks); no two top-level packages import
each other.
"""

from actsparse import metrics
from actsparse._hooks import register_activation, select_layers
from actsparse.exploit import (
    SparseConvSequential,
    SparseInputConv2d,
    SparseInputLinear,
    accelerate,
    export_onnx,
    prune_dead_units,
)
from actsparse.induce import (
    ActivationPenalty,
    KWinners,
    KWinners2d,
    MagnitudeThreshold,
    ShiftedReLU,
    ThresholdReLU,
    TopK,
    calibrate_thresholds,
    relufy,
)
from actsparse.interpret import (
    LISTA,
    DictionaryLearning,
    SparseAutoencoder,
    class_overlap,
    class_selectivity,
    false_match_probability,
    sparse_encode,
)
from actsparse.measure import LayerProfile, OnnxModule, Profile, ProfileConfig, Profiler, profile
from actsparse.report import example_maps, format_table, print_table, write_report
from actsparse.train import run_folder as _run_folder  # noqa: F401  (registers run folders with the zoo)

__version__ = "0.1.0"

__all__ = [
    "LISTA",
    "ActivationPenalty",
    "DictionaryLearning",
    "KWinners",
    "KWinners2d",
    "LayerProfile",
    "MagnitudeThreshold",
    "OnnxModule",
    "Profile",
    "ProfileConfig",
    "Profiler",
    "SparseAutoencoder",
    "SparseConvSequential",
    "SparseInputConv2d",
    "SparseInputLinear",
    "ShiftedReLU",
    "ThresholdReLU",
    "TopK",
    "accelerate",
    "calibrate_thresholds",
    "class_overlap",
    "class_selectivity",
    "example_maps",
    "export_onnx",
    "false_match_probability",
    "format_table",
    "metrics",
    "print_table",
    "profile",
    "prune_dead_units",
    "register_activation",
    "relufy",
    "select_layers",
    "sparse_encode",
    "write_report",
]
