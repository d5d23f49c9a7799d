"""Measuring activation sparsity: streaming per-layer state, Profile and profile()."""

from actsparse.measure.config import ProfileConfig
from actsparse.measure.layer import LayerProfile
from actsparse.measure.profile import Profile
from actsparse.measure.profiler import Profiler, profile

__all__ = ["LayerProfile", "Profile", "ProfileConfig", "Profiler", "profile"]
