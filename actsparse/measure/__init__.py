"""Measuring activation sparsity: streaming per-layer state, Profile and profile().

Every streaming state of the package (a layer of a Profile, the interpret states) follows one
protocol, :class:`StreamingState` / :class:`LayerStates` (:mod:`actsparse.measure.streaming`).
"""

from actsparse.measure.config import ProfileConfig
from actsparse.measure.examples import Examples, example_maps
from actsparse.measure.layer import LayerProfile
from actsparse.measure.onnx_module import OnnxModule
from actsparse.measure.profile import Profile
from actsparse.measure.profiler import Profiler, profile
from actsparse.measure.streaming import LayerStates, StreamingState

__all__ = [
    "Examples",
    "LayerProfile",
    "LayerStates",
    "OnnxModule",
    "Profile",
    "ProfileConfig",
    "Profiler",
    "StreamingState",
    "example_maps",
    "profile",
]
