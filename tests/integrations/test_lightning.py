"""Lightning SparsityCallback: a tiny module on real digits gets sparser; hooks and the wrapped
training_step are gone after fit; a missing Lightning gives an error naming the extra."""

from __future__ import annotations

import importlib
import sys

import pytest
import torch
from torch import nn

from actsparse import zoo

pytestmark = pytest.mark.usefixtures("one_thread")


def test_missing_lightning_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("lightning", "lightning.pytorch", "pytorch_lightning"):
        monkeypatch.setitem(sys.modules, name, None)  # import of these now fails
    monkeypatch.delitem(sys.modules, "actsparse.integrations.lightning", raising=False)
    with pytest.raises(ImportError, match=r"pip install actsparse\[lightning\]"):
        importlib.import_module("actsparse.integrations.lightning")


def _fit(
    weight: float, accumulate: int = 1, schedule: str = "warmup:5"
) -> tuple[nn.Module, dict, list[float]]:
    pl = pytest.importorskip("lightning.pytorch")
    from actsparse.integrations.lightning import SparsityCallback

    data = zoo.load_data("digits", split="train")
    x, y = data.images.flatten(1), data.labels
    task_losses: list[float] = []

    class Net(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))

        def training_step(self, batch: tuple, idx: int) -> torch.Tensor:
            loss = nn.functional.cross_entropy(self.net(batch[0]), batch[1])
            task_losses.append(float(loss.detach()))
            return loss

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.Adam(self.parameters(), lr=3e-3)

    torch.manual_seed(0)
    module = Net()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=64)
    callback = SparsityCallback("l1", weight=weight, schedule=schedule)
    trainer = pl.Trainer(
        max_steps=30, accelerator="cpu", logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, callbacks=[callback],
        accumulate_grad_batches=accumulate,
    )
    trainer.fit(module, loader)
    assert "training_step" not in vars(module)  # the class's method again
    assert sum(len(m._forward_hooks) for m in module.modules()) == 0
    assert callback.penalty is None
    return module, {k: float(v) for k, v in trainer.callback_metrics.items()}, task_losses


def test_callback_adds_penalty_and_logs_density() -> None:
    _, dense, _ = _fit(0.0)
    _, sparse, _ = _fit(1.0)
    assert 0 < dense["sparsity/net.1/density"] <= 1
    assert dense["sparsity/penalty"] == 0.0 and dense["sparsity/weight"] == 0.0
    assert sparse["sparsity/penalty"] > 0 and sparse["sparsity/weight"] == 1.0
    assert sparse["sparsity/net.1/density"] < 0.7 * dense["sparsity/net.1/density"]


def test_schedule_counts_optimizer_steps_under_accumulation() -> None:
    _, logs, losses = _fit(1.0, accumulate=2, schedule="warmup:40")
    assert len(losses) > 55  # 30 optimizer steps of (mostly) 2 micro-batches
    assert logs["sparsity/weight"] == pytest.approx(30 / 40)  # not 1.0: micro-batches don't count
    assert logs["sparsity/penalty"] > 0
