"""Synthesised speech-commands: generation time, set size, and a linear probe per split.

Generates the whole set into a fresh cache folder (so the time is a real first use), counts
clips per split and class, voices and engines per split, then fits a logistic regression
(scikit-learn, C=0.01) on the train split's flattened, standardised log-mels (40 x 98) and
reports its accuracy on every split: a check that the classes are learnable and that unseen
voices, and an unseen engine, are harder than the training voices.
Writes ``benchmarks/results/speech_data.json``. Run: ``python -m benchmarks.speech_data``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from collections import Counter
from typing import Any

import numpy as np

from benchmarks._timing import write_json


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/speech_data.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        os.environ["ACTSPARSE_CACHE_DIR"] = cache
        from actsparse import zoo
        from actsparse.zoo.speech_commands import CLASSES, SPLITS, cached_synthesis
        from actsparse.zoo.speech_features import log_mel

        start = time.perf_counter()
        cached_synthesis()
        seconds = time.perf_counter() - start
        sets = {s: zoo.load_speech("speech-commands", s) for s in SPLITS}
    print(f"generated in {seconds:.1f} s on {os.cpu_count()} CPUs")
    splits: dict[str, Any] = {}
    for split, data in sets.items():
        splits[split] = {"clips": len(data), "voices": len(set(data.voices)),
                         "engines": dict(Counter(data.engines)),
                         "clips_per_class": {CLASSES[y]: n for y, n in
                                             sorted(Counter(data.labels.tolist()).items())}}
        print(f"{split}: {len(data)} clips, {splits[split]['voices']} voices, "
              f"engines {splits[split]['engines']}")
    from sklearn.linear_model import LogisticRegression

    feats = {s: log_mel(d.waves).flatten(1).numpy() for s, d in sets.items()}
    mean, std = feats["train"].mean(0), feats["train"].std(0) + 1e-6
    probe = LogisticRegression(max_iter=300, C=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lbfgs may stop at max_iter; the accuracy is what we use
        probe.fit((feats["train"] - mean) / std, sets["train"].labels.numpy())
    accuracy = {}
    for split, x in feats.items():
        predicted = probe.predict((x - mean) / std)
        accuracy[split] = float(np.mean(predicted == sets[split].labels.numpy()))
        print(f"linear probe on log-mels, {split}: {accuracy[split]:.3f} (chance {1 / 12:.3f})")
    payload = {"generation_seconds": seconds, "clips": sum(len(d) for d in sets.values()),
               "splits": splits, "linear_probe_accuracy": accuracy, "chance": 1 / len(CLASSES)}
    write_json(args.out, payload)
    return payload


if __name__ == "__main__":
    main()
