"""Per-channel statistics of photos, network inputs and feature maps."""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

UINT8_LEVELS = 256


@dataclass(frozen=True)
class ChannelStats:
    """The mean, standard deviation (ddof 0, as `np.std`), min and max of a
    channel, named by its colour or index."""

    channel: str
    mean: float
    std: float
    min: float
    max: float


def channel_stats(image: np.ndarray, names: Sequence[str]) -> list[ChannelStats]:
    """Summarise each channel of a channels-last `(H, W, C)` array.

    `names` labels the C channels in order, for example `("R", "G", "B")`.
    A uint8 image is summarised from a 256-bin histogram per channel, which
    is exact and needs no float copy of a large photo.
    """
    if image.ndim != 3 or image.shape[2] != len(names):
        raise ValueError(
            f"expected an (H, W, {len(names)}) array for channels {list(names)}, "
            f"got shape {image.shape}")
    if image.dtype == np.uint8:
        return [_histogram_stats(image[..., c], name) for c, name in enumerate(names)]
    return [_float_stats(image[..., c], name) for c, name in enumerate(names)]


def _histogram_stats(channel: np.ndarray, name: str) -> ChannelStats:
    counts = np.bincount(channel.ravel(), minlength=UINT8_LEVELS)
    levels = np.arange(UINT8_LEVELS, dtype=np.float64)
    n = counts.sum()
    mean = counts @ levels / n
    variance = counts @ (levels - mean) ** 2 / n
    present = np.flatnonzero(counts)
    return ChannelStats(name, float(mean), float(np.sqrt(variance)),
                        float(present[0]), float(present[-1]))


def _float_stats(channel: np.ndarray, name: str) -> ChannelStats:
    values = channel.astype(np.float64)
    return ChannelStats(name, float(values.mean()), float(values.std()),
                        float(values.min()), float(values.max()))


def rank_channels_by_mean(maps: np.ndarray) -> np.ndarray:
    """Return the channel indices of `(C, H, W)` maps, highest mean first.

    Channels with equal means keep their index order.
    """
    if maps.ndim != 3:
        raise ValueError(f"expected maps of shape (C, H, W), got {maps.shape}")
    means = maps.mean(axis=(1, 2), dtype=np.float64)  # (C,)
    return np.argsort(-means, kind="stable")
