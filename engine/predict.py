"""ImageNet class names and top-k predictions from VGG logits."""

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from engine.losses import softmax

CLASS_NAMES = Path(__file__).resolve().parents[1] / "assets" / "imagenet_classes.txt"


@dataclass(frozen=True)
class Prediction:
    """One class with its index in the model's output and its probability."""

    index: int
    label: str
    probability: float


@lru_cache(maxsize=1)
def class_names() -> tuple[str, ...]:
    """Return the 1,000 ImageNet class names in the models' output order."""
    names = tuple(CLASS_NAMES.read_text(encoding="utf-8").splitlines())
    if len(names) != 1000:
        raise ValueError(f"{CLASS_NAMES} lists {len(names)} classes, not 1000")
    return names


def top_k(logits: np.ndarray, k: int = 5) -> list[Prediction]:
    """Return the `k` most probable classes of one image's logits `(1000,)`.

    Probabilities are the softmax of the logits, computed in float64.
    """
    logits = np.asarray(logits, dtype=np.float64).reshape(-1)
    names = class_names()
    if logits.shape != (len(names),):
        raise ValueError(
            f"expected {len(names)} logits, got shape {logits.shape}")
    if not 1 <= k <= len(names):
        raise ValueError(f"k must be between 1 and {len(names)}, got {k}")
    probabilities = softmax(logits)
    order = np.argsort(-probabilities, kind="stable")[:k]
    return [Prediction(int(i), names[i], float(probabilities[i]))
            for i in order]
