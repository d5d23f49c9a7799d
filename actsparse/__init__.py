"""actsparse: measure, induce, exploit and interpret sparse activation maps in PyTorch models."""

from actsparse import metrics
from actsparse._hooks import register_activation, select_layers
from actsparse.measure import LayerProfile, Profile, ProfileConfig, Profiler, profile

__version__ = "0.1.0"

__all__ = [
    "LayerProfile",
    "Profile",
    "ProfileConfig",
    "Profiler",
    "metrics",
    "profile",
    "register_activation",
    "select_layers",
]
