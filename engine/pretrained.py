"""A VGG network with pretrained weights and the preprocessing they need.

Weights trained in PyTorch expect torchvision's recipe (RGB scaled to
[0, 1], then the ImageNet mean and standard deviation); Keras' weights
expect the "caffe" recipe (BGR on the 0-255 scale, minus the mean).
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.images import Preprocessed, preprocess_caffe, preprocess_imagenet
from engine.network import Sequential
from engine.predict import Prediction, top_k
from engine.vgg import build_vgg
from engine.weights import LoadedWeights, cached_weights_path, load_weights


@dataclass(frozen=True)
class PretrainedVGG:
    """A built network, the name of its configuration and its recipe."""

    network: Sequential
    config: str
    origin: str  # the weights' first format: "torch-zip", "keras-h5", ...
    preprocess: Callable[..., Preprocessed]  # (rgb, model_name) -> stages

    @property
    def label(self) -> str:
        """The configuration's display name, "VGG16" for "vgg16"."""
        return self.config.upper()

    def prepare(self, rgb: np.ndarray) -> Preprocessed:
        """Preprocess an RGB uint8 `(H, W, 3)` photo for this network.

        Raises `ImageError`, naming this network, for a photo too long and
        thin to crop.
        """
        return self.preprocess(rgb, self.label)

    def classify(self, rgb: np.ndarray, k: int = 5) -> list[Prediction]:
        """Return the top `k` classes of an RGB uint8 `(H, W, 3)` photo."""
        logits = self.network.predict(self.prepare(rgb).tensor)
        return top_k(logits[0], k)


def recipe_for(loaded: LoadedWeights) -> Callable[..., Preprocessed]:
    """Return the preprocessing the weights were trained with."""
    if loaded.origin == "keras-h5":
        return preprocess_caffe
    return preprocess_imagenet


def load_pretrained(path: str | Path | None = None,
                    config: str | None = None) -> PretrainedVGG:
    """Build VGG from a weight file, by default the one `weights fetch` cached.

    `config` names the VGG configuration; without it, it is inferred from
    the file's keys and shapes. Raises `FileNotFoundError` naming the fetch
    command when no file is given and none is cached, and `WeightsError`
    for an unusable file.
    """
    if path is None:
        path = cached_weights_path(config or "vgg16")
        if not path.exists():
            raise FileNotFoundError(
                f"no pretrained {config or 'vgg16'} weights at {path}; run "
                f"`python -m engine weights fetch {config or 'vgg16'}` or "
                f"pass a file with --weights")
    loaded = load_weights(path, config)
    network = build_vgg(loaded.config, loaded.weights)
    return PretrainedVGG(network, loaded.config, loaded.origin,
                         recipe_for(loaded))
