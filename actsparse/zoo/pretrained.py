"""The packaged pretrained models: MNIST CNN, MobileNetV2, all-MiniLM-L6-v2, SmolLM2-135M,
silero-vad.

Each loader finds its package with ``importlib.util.find_spec`` (so a missing one raises a
MissingAssetError with the pip command) and returns a ZooModel in eval mode, float32, on the
CPU. Image normalisation is applied by ``ZooModel.batches``, not folded into the module.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from actsparse.zoo.assets import CCEXAM, MINILM, MOBILENET, SMOLLM2
from actsparse.zoo.hf import load_hf
from actsparse.zoo.mobilenet import MobileNetV2
from actsparse.zoo.silero import SAMPLE_RATE, SileroVad
from actsparse.zoo.zoo_model import ImageInput, ZooModel

MNIST_INPUT = ImageInput(28, 1, (0.1307,), (0.3081,))
IMAGENET_INPUT = ImageInput(224, 3, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225),
                            crop_fraction=0.875)
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _load_state(path: os.PathLike[str] | str) -> dict[str, torch.Tensor]:
    # Packaged weights are plain state dicts: weights_only=True is enough and safe.
    state: dict[str, torch.Tensor] = torch.load(path, map_location="cpu", weights_only=True)
    return state


def mnist_cnn() -> ZooModel:
    """The ``ccexam`` MNIST CNN (conv32-conv64-fc128, ReLU; 99.05% on MNIST test).

    Inputs are 1x28x28, normalised ``(x - 0.1307) / 0.3081`` by ``batches``.

    Example:
        >>> zm = mnist_cnn()
        >>> zm.kind, zm.image_input.shape, [n for n, m in zm.module.named_modules()
        ...                                   if isinstance(m, nn.ReLU)]
        ('image', (1, 28, 28), ['features.1', 'features.4', 'classifier.1'])
    """
    CCEXAM.folder()
    from ccexam.models import MNISTNet

    module: nn.Module = MNISTNet(28)
    module.load_state_dict(_load_state(CCEXAM.file("weights/mnist.pth")))
    return ZooModel(module, "image", "mnist-cnn", image_input=MNIST_INPUT,
                    classes=[str(i) for i in range(10)])


def mobilenetv2() -> ZooModel:
    """MobileNetV2 with torchvision's ImageNet weights (71.9% top-1), ReLU6 modules.

    Inputs are 3x224x224, ImageNet-normalised by ``batches``.

    Example:
        >>> zm = mobilenetv2()
        >>> zm.image_input.shape, sum(isinstance(m, nn.ReLU6) for m in zm.module.modules())
        ((3, 224, 224), 35)
    """
    module = MobileNetV2()
    path = MOBILENET.file("weights/mobilenet_v2-b0353104.pth")
    module.load_state_dict(_load_state(path), strict=True)
    return ZooModel(module, "image", "mobilenetv2", image_input=IMAGENET_INPUT)


def minilm() -> ZooModel:
    """sentence-transformers all-MiniLM-L6-v2: a 6-layer BERT encoder (hidden 384, GELU).

    The module returns hidden states (``last_hidden_state`` is ``(B, T, 384)``).

    Example:
        >>> zm = minilm()  # doctest: +SKIP
        >>> zm.module.config.hidden_size  # doctest: +SKIP
        384
    """
    os.environ["HF_HUB_OFFLINE"] = "1"  # a packaged model must never reach for the hub
    return load_hf(MINILM.file("model"), name="minilm", local_only=True)


def smollm2() -> ZooModel:
    """SmolLM2-135M-Instruct (30 Llama layers, SwiGLU), Q4_1 GGUF dequantised to float32.

    The module returns next-token logits ``(B, T, 49152)``. Loading takes ~30 s on 2 cores.

    Example:
        >>> zm = smollm2()  # doctest: +SKIP
        >>> zm.module.config.num_hidden_layers  # doctest: +SKIP
        30
    """
    os.environ["HF_HUB_OFFLINE"] = "1"  # a packaged model must never reach for the hub
    folder = SMOLLM2.file(SMOLLM2_GGUF).parent
    return load_hf(folder, name="smollm2", gguf_file=SMOLLM2_GGUF, local_only=True)


def silero_vad() -> ZooModel:
    """silero-vad 6.2.3, the voice-activity detector as it ships: ONNX, run by onnxruntime.

    It takes 16 kHz clips ``(B, T)``, streamed in 512-sample chunks with the model's LSTM state
    carried over (:class:`~actsparse.zoo.silero.SileroVad`), and returns a speech probability
    per chunk. Its activations are read from the ONNX graph, not by hooks.

    Example:
        >>> zm = silero_vad()
        >>> zm.kind, zm.module.layer_names[:2]
        ('speech', ['encoder/0/activation/Relu', 'encoder/1/activation/Relu'])
    """
    return ZooModel(SileroVad(), "speech", "silero-vad", sample_rate=SAMPLE_RATE,
                    classes=["speech"])
