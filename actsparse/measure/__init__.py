"""Measuring activation sparsity: streaming per-layer state, Profile and profile()."""

from actsparse.measure.config import ProfileConfig
from actsparse.measure.examples import Examples, example_maps
from actsparse.measure.layer import LayerProfile
from actsparse.measure.profile import Profile
from actsparse.measure.profiler import Profiler, profile

__all__ = [
    "Examples",
    "LayerProfile",
    "Profile",
    "ProfileConfig",
    "Profiler",
    "example_maps",
    "profile",
]
