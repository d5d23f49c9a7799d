"""SparseTrainer + SparsityCallback on a tiny random BERT: the loss includes the penalty, density
is logged, and the penalty makes the intermediate activations sparser."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

transformers = pytest.importorskip("transformers")

from actsparse.integrations.huggingface import SparseTrainer, SparsityCallback  # noqa: E402

ACT = "bert.encoder.layer.0.intermediate.intermediate_act_fn"


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_bert() -> torch.nn.Module:
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=32, hidden_act="relu", num_labels=2,
    )
    return transformers.BertForSequenceClassification(config)


def dataset() -> list[dict[str, torch.Tensor]]:
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(1, 50, (32, 12), generator=gen)
    labels = (ids[:, 0] > 25).long()
    return [
        {"input_ids": i, "attention_mask": torch.ones(12, dtype=torch.long), "labels": y}
        for i, y in zip(ids, labels, strict=True)
    ]


def train(tmp: Path, callback: SparsityCallback | None, steps: int = 10, accumulate: int = 1,
          plain: bool = False) -> list[dict]:
    args = transformers.TrainingArguments(
        str(tmp), max_steps=steps, per_device_train_batch_size=8, logging_steps=1,
        learning_rate=3e-3, report_to=[], use_cpu=True, save_strategy="no", disable_tqdm=True,
        gradient_accumulation_steps=accumulate, seed=0, data_seed=0,
    )
    cls = transformers.Trainer if plain else SparseTrainer
    callbacks = [callback] if callback is not None else []
    trainer = cls(model=tiny_bert(), args=args, train_dataset=dataset(), callbacks=callbacks)
    trainer.train()
    assert sum(len(m._forward_hooks) for m in trainer.model.modules()) == 0  # hooks removed
    return [h for h in trainer.state.log_history if "loss" in h]


def test_loss_includes_penalty_and_density_drops(tmp_path: Path) -> None:
    plain = train(tmp_path, SparsityCallback("l1", weight=0.0))
    sparse = train(tmp_path, SparsityCallback("l1", weight=2.0))
    assert len(plain) == len(sparse) == 10
    for logs in (plain, sparse):
        assert {f"sparsity/{ACT}/density", "sparsity/mean_density", "sparsity/penalty"} <= set(
            logs[0])
    # Same seed and data: at step 1 the model is the same, so the losses differ by the penalty.
    first = sparse[0]["loss"] - plain[0]["loss"]
    assert first == pytest.approx(sparse[0]["sparsity/penalty"], rel=1e-3)
    assert sparse[0]["sparsity/penalty"] > 0.01
    assert plain[0]["sparsity/penalty"] == 0.0
    # The penalty lowers the density of the ReLU layers by the last step (0.41 -> ~0.001).
    key = f"sparsity/{ACT}/density"
    assert sparse[-1][key] < 0.5 * plain[-1][key]


def test_schedule_follows_global_step_and_accumulation(tmp_path: Path) -> None:
    logs = train(tmp_path, SparsityCallback("hoyer", weight=1.0, schedule="warmup:4"), steps=6,
                 accumulate=2)
    # Logged after each optimizer step: the weight the next step will use.
    assert [h["sparsity/weight"] for h in logs] == pytest.approx([0.25, 0.5, 0.75, 1, 1, 1])
    # Each step's penalty is the mean over its 2 micro-batches of the weight it used.
    assert logs[0]["sparsity/penalty"] == 0.0
    assert logs[2]["sparsity/penalty"] > 0.1


def test_plain_trainer_logs_density_and_warns(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="SparseTrainer"):
        logs = train(tmp_path, SparsityCallback("l1", weight=1.0), steps=2, plain=True)
    assert 0 < logs[-1][f"sparsity/{ACT}/density"] <= 1
    assert "sparsity/penalty" not in logs[-1]


def test_sparse_trainer_needs_the_callback(tmp_path: Path) -> None:
    args = transformers.TrainingArguments(str(tmp_path), report_to=[], use_cpu=True)
    with pytest.raises(ValueError, match="exactly one SparsityCallback"):
        SparseTrainer(model=tiny_bert(), args=args)
    with pytest.raises(ValueError, match="unknown penalty kind"):
        SparsityCallback("l0", weight=1.0)
