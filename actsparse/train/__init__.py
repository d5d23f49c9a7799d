"""Training small models with induced sparse activations: ``actsparse train``.

Example:
    >>> from actsparse.train import parse_sparsity
    >>> parse_sparsity("l1:1e-4").weight
    0.0001
"""

from actsparse.train.checkpoint import Checkpoint, CheckpointError, load_checkpoint
from actsparse.train.loop import TrainConfig, train
from actsparse.train.models import CNN, MLP, ModelConfig, build_model, model_config
from actsparse.train.recsys_run import RecsysConfig, train_recsys
from actsparse.train.run_folder import load_run_folder  # registers run folders with the zoo
from actsparse.train.run_metrics import evaluate
from actsparse.train.spec import SparsitySpec, SparsitySpecError, parse_sparsity

__all__ = [
    "CNN",
    "MLP",
    "Checkpoint",
    "CheckpointError",
    "ModelConfig",
    "RecsysConfig",
    "SparsitySpec",
    "SparsitySpecError",
    "TrainConfig",
    "build_model",
    "evaluate",
    "load_checkpoint",
    "load_run_folder",
    "model_config",
    "parse_sparsity",
    "train",
    "train_recsys",
]
