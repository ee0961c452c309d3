"""Helpers of the training playground page around `Trainer`.

This module builds runs on a toy dataset or on CSV data and trains them in
chunks bounded in wall time. It returns the network of any recorded epoch
with its full-batch gradients, and reads and writes the settings as URL
query parameters. It also trains the deep sigmoid network whose gradients
vanish next to a ReLU network whose gradients do not.
"""

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace

import numpy as np

from engine.datasets import DATASETS, FEATURES, Split, read_csv, split
from engine.layers import Dense
from engine.network import Sequential
from engine.plane import EXTENT, layer_statistics
from engine.training import (
    CSV_DATASET,
    MAX_SNAPSHOTS,
    TrainConfig,
    Trainer,
)

DATA_SOURCES = (*DATASETS, CSV_DATASET)
# The ranges the playground offers, inclusive. TrainConfig.validate checks
# only what makes a run impossible, so these limits live here.
LIMITS: dict[str, tuple[float, float]] = {
    "n_points": (20, 1000),
    "noise": (0.0, 0.5),
    "test_fraction": (0.1, 0.9),
    "seed": (0, 9999),
    "reg_rate": (0.0, 10.0),
    "lr": (1e-5, 1000.0),
    "batch_size": (1, 1000),
    "epochs": (1, 10_000),
}
PLANE_MARGIN = 1.1  # the plane drawn reaches 10% beyond the farthest point
# Depth, width and data of the vanishing-gradient comparison. On its way
# back through a sigmoid layer of 8 units with weights of standard
# deviation 0.1, the gradient is multiplied by the slope (at most 0.25) and
# by W^T, which scales a vector by about 0.1 x sqrt(8) = 0.28 on average.
# That estimate gives the first of 6 hidden layers a dW about 1e-7 times the
# output layer's. Training it for 100 epochs gave medians of 2.4e-8 and 0.13.
VANISHING_HIDDEN = [8] * 6
VANISHING_EPOCHS = 100


def csv_split(data: bytes, test_fraction: float, seed: int) -> Split:
    """Read CSV rows `x1,x2,label`, shuffle them with `seed` and split them.

    Files are often sorted by label, and `split` takes the test rows from
    the front, so the rows are shuffled first. Raises `CSVDataError`.
    """
    X, y = read_csv(data)
    order = np.random.default_rng(seed).permutation(len(X))
    return split(X[order], y[order], test_fraction)


def run_fingerprint(config: TrainConfig, data_digest: str = "") -> dict:
    """Return the settings that define a run, with the CSV data's digest.

    The epoch budget only sets where Play stops, so changing it keeps the
    run. Any other change starts a new one.
    """
    settings = config.to_dict()
    del settings["epochs"]
    return {**settings, "data": data_digest}


@dataclass(frozen=True)
class Chunk:
    """Work done by one call of `train_chunk`."""

    epochs: int  # epochs completed
    batches: int
    seconds: float


def train_chunk(trainer: Trainer, max_seconds: float,
                epoch_budget: int) -> Chunk:
    """Train batch after batch for up to `max_seconds` of wall time.

    Stops early at the end of epoch `epoch_budget` or when the cost
    diverges. One batch may run past the deadline, so a chunk takes
    `max_seconds` plus at most one step.
    """
    start = time.perf_counter()
    first_epoch, batches = trainer.epoch, 0
    while (not trainer.diverged and trainer.epoch < epoch_budget
           and time.perf_counter() - start < max_seconds):
        trainer.step_batch()
        batches += 1
    return Chunk(trainer.epoch - first_epoch, batches,
                 time.perf_counter() - start)


def last_good_epoch(trainer: Trainer) -> int:
    """Return the last epoch whose cost was finite, the end of the timeline."""
    return trainer.history[-1].epoch


def network_at(trainer: Trainer, epoch: int) -> tuple[Sequential, int]:
    """Return the network of `epoch` and the epoch that it really is.

    The latest epoch is the live network, unless the run diverged: then its
    parameters are not finite and the last good snapshot is used. Earlier
    epochs come from snapshots, which long runs thin, so the nearest kept
    epoch at or before `epoch` is returned.
    """
    if epoch >= trainer.epoch and not trainer.diverged:
        return trainer.network, trainer.epoch
    epoch = min(epoch, last_good_epoch(trainer))
    snapshot_epoch = max(e for e in trainer.snapshots if e <= epoch)
    return trainer.restore(snapshot_epoch), snapshot_epoch


def layer_statistics_at(trainer: Trainer, network: Sequential
                        ) -> dict[str, dict[str, np.ndarray]]:
    """Return each dense layer's weights, activations and dW on the training set.

    dW is the gradient of the cost, penalty included, over the whole
    training set, so it is the same for any two networks with equal
    parameters and does not depend on the last batch.
    """
    X, Y = trainer.X_train, trainer.Y_train
    with np.errstate(over="ignore", invalid="ignore"):
        Z = network.forward(X)
        network.backward(trainer.loss.gradient(Z, Y))
    config = trainer.config
    if config.regularisation != "none" and config.reg_rate > 0:
        for layer in network.layers:
            if isinstance(layer, Dense):
                layer.grads["W"] = layer.grads["W"] + _penalty_gradient(
                    config, layer.params["W"])
    return layer_statistics(network, X)


def _penalty_gradient(config: TrainConfig, W: np.ndarray) -> np.ndarray:
    # The same terms as Trainer._add_penalty_gradients, for any network.
    if config.regularisation == "l2":
        return config.reg_rate * W
    return config.reg_rate * np.sign(W)


def iterations_per_epoch(trainer: Trainer) -> int:
    """Return the number of batches in one epoch; the last may be smaller."""
    return math.ceil(len(trainer.X_train) / trainer.config.batch_size)


def iteration_at(trainer: Trainer, epoch: int) -> int:
    """Return the number of iterations done by the end of `epoch`."""
    return epoch * iterations_per_epoch(trainer)


def batches_into_epoch(trainer: Trainer) -> int:
    """Return how many batches of the unfinished epoch have been trained."""
    return trainer.iteration - iteration_at(trainer, trainer.epoch)


def gradient_norms(trainer: Trainer) -> np.ndarray:
    """Return the norm of each dense layer's dW per iteration, `(T, L)`."""
    if not trainer.grad_norms:
        return np.zeros((0, len(trainer.dense_layers)))
    return np.stack(trainer.grad_norms)


def snapshot_bytes_bound(trainer: Trainer) -> int:
    """Return the most memory that the run's parameter snapshots take."""
    per_snapshot = sum(layer.params[key].nbytes
                       for layer, key in trainer.network.parameters())
    return MAX_SNAPSHOTS * per_snapshot


def plane_extent(data: Split) -> float:
    """Return the half-width of a square plane that shows every data point."""
    largest = max(float(np.abs(data.X_train).max()),
                  float(np.abs(data.X_test).max()))
    return max(EXTENT, PLANE_MARGIN * largest)


def settings_to_query(config: TrainConfig) -> dict[str, str]:
    """Write the settings as URL query parameters named like the fields."""
    query = {}
    for name, value in config.to_dict().items():
        if isinstance(value, list):
            query[name] = ",".join(str(item) for item in value)
        else:
            query[name] = str(value)
    return query


def settings_from_query(query: Mapping[str, str]
                        ) -> tuple[dict[str, object], list[str]]:
    """Read settings from URL query parameters, each checked on its own.

    Returns the valid settings by field name and one message per invalid
    value, which the caller ignores. Parameters that name no setting are
    skipped, because the URL may carry other pages' parameters.
    """
    settings: dict[str, object] = {}
    problems = []
    for field in fields(TrainConfig):
        if field.name not in query:
            continue
        text = query[field.name]
        try:
            settings[field.name] = parse_setting(field.name, text)
        except ValueError as error:
            problems.append(f"{field.name}={text!r} was ignored: {error}")
    return settings, problems


def parse_setting(name: str, text: str) -> object:
    """Parse one setting from text and check it. Raise `ValueError` if invalid."""
    if name in ("hidden", "features"):
        items = [item.strip() for item in text.split(",") if item.strip()]
        value: object = [int(item) for item in items] if name == "hidden" else items
    elif name in ("n_points", "seed", "batch_size", "epochs"):
        value = int(text)
    elif name in ("noise", "test_fraction", "reg_rate", "lr"):
        value = float(text)
    else:
        value = text
    check_settings(replace(TrainConfig(), **{name: value}))
    return value


def check_settings(config: TrainConfig) -> None:
    """Raise `ValueError` naming the first setting the playground cannot show.

    Beyond `TrainConfig.validate`, the data source, the features and every
    number must be within the playground's choices and `LIMITS`.
    """
    config.validate()
    if config.dataset not in DATA_SOURCES:
        raise ValueError(
            f"unknown dataset {config.dataset!r}; expected one of "
            f"{', '.join(DATA_SOURCES)}")
    unknown = [name for name in config.features if name not in FEATURES]
    if unknown or not config.features:
        raise ValueError(
            f"features must be a non-empty choice from "
            f"{', '.join(FEATURES)}, got {config.features}")
    if len(set(config.features)) < len(config.features):
        raise ValueError(f"features repeat: {config.features}")
    for name, (low, high) in LIMITS.items():
        value = getattr(config, name)
        if not low <= value <= high:
            raise ValueError(
                f"{name} must be from {low:g} to {high:g}, got {value:g}")


def vanishing_configs() -> dict[str, TrainConfig]:
    """Return the deep sigmoid network and its ReLU counterpart, by activation.

    Both train with plain SGD on the circles data. Only the activation and
    the initialisation differ.
    """
    common = {"dataset": "circles", "hidden": list(VANISHING_HIDDEN),
              "optimizer": "sgd", "lr": 0.1, "batch_size": 10,
              "epochs": VANISHING_EPOCHS}
    return {
        "sigmoid": TrainConfig(activation="sigmoid", init="small", **common),
        "relu": TrainConfig(activation="relu", init="he", **common),
    }


def train_comparison(configs: Mapping[str, TrainConfig],
                     on_epoch: Callable[[float], None] | None = None
                     ) -> dict[str, Trainer]:
    """Train each configuration for its epoch budget, one after the other.

    `on_epoch(fraction)` is called after every epoch with the share of all
    epochs done, from 0 to 1.
    """
    total = sum(config.epochs for config in configs.values())
    done = 0
    trainers = {}
    for name, config in configs.items():
        trainer = Trainer(config)
        for _ in range(config.epochs):
            if not trainer.step_epoch():
                break
            done += 1
            if on_epoch is not None:
                on_epoch(done / total)
        trainers[name] = trainer
    return trainers


def median_gradient_norms(trainer: Trainer) -> np.ndarray:
    """Return the median norm of each dense layer's dW over all iterations."""
    norms = gradient_norms(trainer)
    if not len(norms):
        return np.zeros(norms.shape[1])
    return np.median(norms, axis=0)
