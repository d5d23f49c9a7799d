"""actsparse: measure, induce, exploit and interpret sparse activation maps in PyTorch models."""

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
from actsparse.measure import LayerProfile, Profile, ProfileConfig, Profiler, profile
from actsparse.report import example_maps, format_table, print_table, write_report

__version__ = "0.1.0"

__all__ = [
    "LISTA",
    "ActivationPenalty",
    "DictionaryLearning",
    "KWinners",
    "KWinners2d",
    "LayerProfile",
    "MagnitudeThreshold",
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
