"""Which pixels drive a prediction: gradient saliency, Grad-CAM, occlusion.

All three take a network whose output is class scores (logits) and one
preprocessed image `X` of shape `(1, C, H, W)`, and return a map `(H, W)`
scaled to [0, 1] for drawing over the photo.

- Gradient saliency (Simonyan, Vedaldi and Zisserman, 2014): the largest
  absolute value over channels of d(score)/dX.
- Grad-CAM (Selvaraju et al., 2017): a chosen layer's feature maps A^k,
  weighted by the spatial mean of d(score)/dA^k, summed, passed through
  ReLU and resized to the input.
- Occlusion (Zeiler and Fergus, 2014): the drop in the class probability
  when a grey square hides each part of the image.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from PIL import Image

from engine.losses import softmax
from engine.network import Sequential

OCCLUSION_PATCH = 56  # side of the grey square, in input pixels
OCCLUSION_STRIDE = 28
OCCLUSION_BATCH = 8  # occluded images per forward pass


@dataclass(frozen=True)
class SaliencyMap:
    """A map over the input scaled to [0, 1], and the class it explains."""

    heatmap: np.ndarray  # (H, W)
    class_index: int
    score: float  # the class logit on the unoccluded image


@contextmanager
def _frozen(network: Sequential) -> Iterator[None]:
    """Skip parameter gradients inside the block, then drop every cache.

    The network may be shared, so its layers' settings are restored and
    nothing computed here is left behind.
    """
    saved = [layer.param_grads for layer in network.layers]
    for layer in network.layers:
        layer.param_grads = False
    try:
        yield
    finally:
        for layer, value in zip(network.layers, saved):
            layer.param_grads = value
            layer.clear_cache()


def _one_hot(logits: np.ndarray, class_index: int) -> np.ndarray:
    if not 0 <= class_index < logits.shape[1]:
        raise ValueError(
            f"class index must be in [0, {logits.shape[1] - 1}], "
            f"got {class_index}")
    d_logits = np.zeros_like(logits)
    d_logits[0, class_index] = 1  # d(score)/d(logits) for the class score
    return d_logits


def _scale(heatmap: np.ndarray) -> np.ndarray:
    """Scale to [0, 1]; an all-equal map becomes all zeros."""
    low, high = float(heatmap.min()), float(heatmap.max())
    if high - low <= 0:
        return np.zeros_like(heatmap, dtype=np.float32)
    return ((heatmap - low) / (high - low)).astype(np.float32)


def input_gradient(network: Sequential, X: np.ndarray,
                   class_index: int | None = None
                   ) -> tuple[np.ndarray, np.ndarray, int]:
    """Return the logits, d(class score)/dX `(1, C, H, W)` and the class.

    Parameters are frozen during the pass, so no dW or db is computed.
    Without `class_index`, the top class is explained.
    """
    with _frozen(network):
        logits = network.forward(X)
        if class_index is None:
            class_index = int(np.argmax(logits[0]))
        dX = network.backward(_one_hot(logits, class_index))
    return logits, dX, class_index


def gradient_saliency(network: Sequential, X: np.ndarray,
                      class_index: int | None = None) -> SaliencyMap:
    """Return max over channels of |d(score)/dX|, scaled to [0, 1]."""
    logits, dX, class_index = input_gradient(network, X, class_index)
    heatmap = np.abs(dX[0]).max(axis=0)  # (H, W)
    return SaliencyMap(_scale(heatmap), class_index,
                       float(logits[0, class_index]))


def grad_cam(network: Sequential, X: np.ndarray, layer: str = "relu5_3",
             class_index: int | None = None) -> SaliencyMap:
    """Return Grad-CAM at `layer`'s output, resized to the input.

    `layer` names the layer whose output A is used: for VGG the ReLU after
    a convolution (`relu5_3` after `conv5_3`), so that A is non-negative.
    """
    names = [each.name for each in network.layers]
    if layer not in names:
        raise ValueError(f"no layer named {layer!r}; expected one of {names}")
    split = names.index(layer) + 1
    head = Sequential(network.layers[split:])
    with _frozen(network):
        A = Sequential(network.layers[:split]).predict(X)  # (1, K, h, w)
        logits = head.forward(A)
        if class_index is None:
            class_index = int(np.argmax(logits[0]))
        dA = head.backward(_one_hot(logits, class_index))
    alpha = dA[0].mean(axis=(1, 2))  # (K,): importance of each map
    cam = np.maximum(np.tensordot(alpha, A[0], axes=1), 0)  # (h, w)
    return SaliencyMap(_resize(_scale(cam), X.shape[2:]), class_index,
                       float(logits[0, class_index]))


def _resize(heatmap: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a [0, 1] map to `size` `(H, W)` with bilinear filtering."""
    image = Image.fromarray(heatmap.astype(np.float32), mode="F")
    resized = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    return np.clip(np.asarray(resized), 0, 1)


def occlusion_positions(size: int, patch: int, stride: int) -> list[int]:
    """Return the top-left offsets of the patches along one side."""
    if not 1 <= patch <= size or stride < 1:
        raise ValueError(
            f"patch must be in [1, {size}] and stride >= 1, got patch "
            f"{patch} and stride {stride}")
    last = size - patch
    offsets = list(range(0, last + 1, stride))
    if offsets[-1] != last:
        offsets.append(last)  # cover the last rows and columns too
    return offsets


def occlusion(network: Sequential, X: np.ndarray,
              class_index: int | None = None, patch: int = OCCLUSION_PATCH,
              stride: int = OCCLUSION_STRIDE,
              progress: Callable[[int, int], None] | None = None
              ) -> SaliencyMap:
    """Return the drop in the class probability when each region is hidden.

    The patch is filled with 0, which after normalisation is the dataset's
    mean colour, a neutral grey. Each input pixel gets the mean drop over
    the patches covering it; the map is then scaled to [0, 1]. `progress`
    is called with `(done, total)` forward passes.
    """
    _, _, H, W = X.shape
    logits = network.predict(X)
    if class_index is None:
        class_index = int(np.argmax(logits[0]))
    _one_hot(logits, class_index)  # checks the index
    base = softmax(logits.astype(np.float64))[0, class_index]

    boxes = [(top, left) for top in occlusion_positions(H, patch, stride)
             for left in occlusion_positions(W, patch, stride)]
    drop = np.zeros((H, W))
    count = np.zeros((H, W))
    for start in range(0, len(boxes), OCCLUSION_BATCH):
        batch = boxes[start:start + OCCLUSION_BATCH]
        occluded = np.repeat(X, len(batch), axis=0)
        for n, (top, left) in enumerate(batch):
            occluded[n, :, top:top + patch, left:left + patch] = 0
        probabilities = softmax(network.predict(occluded).astype(np.float64))
        for n, (top, left) in enumerate(batch):
            window = (slice(top, top + patch), slice(left, left + patch))
            drop[window] += base - probabilities[n, class_index]
            count[window] += 1
        if progress is not None:
            progress(min(start + OCCLUSION_BATCH, len(boxes)), len(boxes))
    heatmap = np.maximum(drop / np.maximum(count, 1), 0)
    return SaliencyMap(_scale(heatmap), class_index,
                       float(logits[0, class_index]))
