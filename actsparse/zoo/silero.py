"""``silero-vad``: the pretrained voice-activity detector, as deployed, run by onnxruntime.

The ``silero-vad`` package ships the model as ONNX (``data/silero_vad.onnx``, the file its
own ``load_silero_vad(onnx=True)`` opens). The model takes one chunk at a time: 512 new samples
at 16 kHz after the last 64 samples of the previous chunk, and the LSTM state ``(2, B, 128)``
it returned for that chunk. :class:`SileroVad` streams whole clips through it that way, so a
clip of 16,000 samples is 32 calls (the last chunk zero-padded, as the package's
``get_speech_timestamps`` pads it), and the profiler sees the activations of every call.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from actsparse.measure.onnx_module import OnnxModule
from actsparse.zoo.assets import PipAsset

SILERO = PipAsset("silero_vad", "silero-vad==6.2.3", "the silero-vad model", no_deps=True)
ONNX_FILE = "data/silero_vad.onnx"
SAMPLE_RATE = 16000
CHUNK = 512  # new samples per call at 16 kHz
CONTEXT = 64  # samples of the previous chunk each call sees first
STATE = (2, 128)  # the LSTM's (h, c), per clip
BRANCH_16K = "If_0_then_branch__Inline_0__/"  # the graph branches on sr == 16000
BRANCH_8K = "If_0_else_branch__Inline_0__/"


def layer_name(node: str) -> str:
    """A short layer name for a node of ``silero_vad.onnx``: its module path in the 16 kHz
    branch, led by ``8k/`` in the 8 kHz one.

    Example:
        >>> layer_name("If_0_then_branch__Inline_0__/encoder/0/activation/Relu")
        'encoder/0/activation/Relu'
        >>> layer_name("If_0_else_branch__Inline_0__/decoder/decoder/3/Sigmoid")
        '8k/decoder/decoder/3/Sigmoid'
    """
    if node.startswith(BRANCH_16K):
        return node[len(BRANCH_16K):]
    if node.startswith(BRANCH_8K):
        return "8k/" + node[len(BRANCH_8K):]
    return node


class SileroVad(OnnxModule):
    """silero-vad over whole 16 kHz clips: ``(B, T)`` waves to ``(B, ceil(T / 512))`` speech
    probabilities, one per 32 ms chunk, with the context and state carried from chunk to chunk.

    Args:
        path: the ONNX file (default: the one the ``silero-vad`` package ships).
        threads: onnxruntime intra-op threads (default: ``torch.get_num_threads()``).

    Example:
        >>> vad = SileroVad(threads=1)
        >>> vad(torch.zeros(2, 16000)).shape
        torch.Size([2, 32])
    """

    def __init__(self, path: str | Path | None = None, threads: int | None = None) -> None:
        super().__init__(path or SILERO.file(ONNX_FILE), threads=threads, rename=layer_name)

    def forward(self, waves: Tensor) -> Tensor:
        if waves.dim() != 2:
            raise ValueError(f"silero-vad takes 16 kHz waves (B, T), got {tuple(waves.shape)}")
        batch, length = waves.shape
        calls = -(-length // CHUNK)
        waves = F.pad(waves.float(), (0, calls * CHUNK - length))  # (B, calls * 512)
        context = waves.new_zeros(batch, CONTEXT)
        state = waves.new_zeros(STATE[0], batch, STATE[1])
        probs = []
        for i in range(calls):
            x = torch.cat([context, waves[:, i * CHUNK:(i + 1) * CHUNK]], dim=1)  # (B, 576)
            prob, state = super().forward(input=x, state=state, sr=SAMPLE_RATE)
            context = x[:, -CONTEXT:]
            probs.append(prob)  # (B, 1)
        return torch.cat(probs, dim=1)
