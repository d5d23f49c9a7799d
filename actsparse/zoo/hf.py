"""Hugging Face models: a hub name (from the local cache when offline) or a local folder.

transformers is imported lazily; without it the error says which extra to install.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from actsparse.zoo.assets import TRANSFORMERS
from actsparse.zoo.errors import ZooError
from actsparse.zoo.zoo_model import ImageInput, ZooModel

_CAUSAL_SUFFIXES = ("ForCausalLM", "LMHeadModel")


def offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) is set, read at call time.

    Example:
        >>> isinstance(offline(), bool)
        True
    """
    flags = (os.environ.get(k, "") for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
    return any(f.strip().lower() in ("1", "true", "yes", "on") for f in flags)


class HubLoadError(ZooError, OSError):
    """A Hugging Face name or folder that from_pretrained could not load.

    Example:
        >>> isinstance(HubLoadError("x"), OSError)
        True
    """


def _image_input(source: str, config: Any, local_only: bool) -> ImageInput | None:
    size, channels = getattr(config, "image_size", None), getattr(config, "num_channels", None)
    if not isinstance(size, int) or not isinstance(channels, int):
        return None
    mean, std = (0.5,) * channels, (0.5,) * channels  # the ViT default
    try:
        from transformers import AutoImageProcessor

        processor = AutoImageProcessor.from_pretrained(source, local_files_only=local_only)
        mean = tuple(getattr(processor, "image_mean", mean))
        std = tuple(getattr(processor, "image_std", std))
    except (OSError, ValueError, ImportError):
        pass
    return ImageInput(size, channels, mean, std)


def load_hf(source: str | Path, *, name: str | None = None, gguf_file: str | None = None,
            local_only: bool | None = None) -> ZooModel:
    """Load a Hugging Face model and its tokenizer (or image input) as a float32 ZooModel.

    Causal language models (architectures ending in ``ForCausalLM``, and every GGUF file) load
    with their LM head, so they return logits; other models load as ``AutoModel`` (hidden
    states). A tokenizer without a pad token gets the end-of-sequence token as pad token, so
    batches can be padded.

    Args:
        source: a hub name such as ``"gpt2"`` or a local folder.
        name: the name to record; defaults to ``source``.
        gguf_file: a GGUF file inside ``source`` to load (dequantised to float32).
        local_only: never touch the network; defaults to :func:`offline`.

    Example:
        >>> zm = load_hf("sentence-transformers/all-MiniLM-L6-v2")  # doctest: +SKIP
        >>> zm.kind, zm.tokenizer is not None  # doctest: +SKIP
        ('text', True)
    """
    TRANSFORMERS.folder()
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoTokenizer

    local_only = offline() if local_only is None else local_only
    src = str(source)
    kwargs: dict[str, Any] = {"local_files_only": local_only}
    if gguf_file is not None:
        kwargs["gguf_file"] = gguf_file
    try:
        if gguf_file is not None:  # GGUF files hold language models; skip a third parse
            causal = True
        else:
            config = AutoConfig.from_pretrained(src, **kwargs)
            causal = any(a.endswith(_CAUSAL_SUFFIXES) for a in (config.architectures or []))
        model_cls = AutoModelForCausalLM if causal else AutoModel
        module = model_cls.from_pretrained(src, dtype=torch.float32, **kwargs)
    except (OSError, ValueError) as err:
        where = ("not in the local Hugging Face cache and the hub is offline (HF_HUB_OFFLINE)"
                 if local_only else "could not be fetched")
        raise HubLoadError(
            f"cannot load Hugging Face model {src!r}: {where}. Download it once with network "
            f"access, or save it with save_pretrained() and pass the folder. ({err})"
        ) from err
    image_input = None
    try:
        tokenizer = AutoTokenizer.from_pretrained(src, **kwargs)
    except (OSError, ValueError, TypeError, KeyError):
        tokenizer = None
        image_input = _image_input(src, module.config, local_only)
    if tokenizer is None and image_input is None:
        raise HubLoadError(f"{src!r} loaded, but it has neither a tokenizer nor an image size "
                           "in its config, so the zoo cannot tell how to feed it")
    if tokenizer is not None and tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    kind = "text" if tokenizer is not None else "image"
    return ZooModel(module, kind, name or src, tokenizer=tokenizer, image_input=image_input)
