"""Training a small classifier on a toy dataset, one batch at a time.

`Trainer` keeps everything a page needs to draw the run: the loss and
accuracy of every epoch, the norm of each layer's `dW` at every iteration,
and a snapshot of the parameters at the end of every epoch so that any
epoch can be redrawn. Training stops by itself when the cost stops being
a finite number.
"""

from dataclasses import asdict, dataclass, field

import numpy as np

from engine.datasets import (
    DATASETS,
    FEATURES,
    Split,
    make_dataset,
    make_features,
    split,
)
from engine.layers import ACTIVATIONS, Dense, sigmoid
from engine.losses import BinaryCrossEntropyWithLogits
from engine.network import INITIALISATIONS, Sequential, build_mlp
from engine.optim import OPTIMIZERS, Optimizer, make_optimizer

MAX_HIDDEN_LAYERS = 6
MAX_NEURONS = 16
MAX_EPOCHS = 100_000  # a cap, so that a mistyped budget cannot run for hours
# Snapshots are thinned to every other one past this count, so a run keeps
# at most this many: under 1,000 x 2,000 floats, about 16 MB.
MAX_SNAPSHOTS = 1000
REGULARISATIONS = ("none", "l1", "l2")
CSV_DATASET = "csv"  # the dataset name of a run on the user's own data
# Training runs in float32, as PyTorch does by default; the pages' single
# examples and the gradient checks use float64.
DTYPE = np.float32


@dataclass
class TrainConfig:
    """Everything that defines a run; it round-trips through a dict."""

    dataset: str = "circles"
    n_points: int = 200
    noise: float = 0.1
    test_fraction: float = 0.3
    seed: int = 0
    hidden: list[int] = field(default_factory=lambda: [4, 4])
    activation: str = "tanh"
    features: list[str] = field(default_factory=lambda: ["x1", "x2"])
    init: str = "xavier"
    regularisation: str = "none"
    reg_rate: float = 0.0
    optimizer: str = "adam"
    lr: float = 0.03
    batch_size: int = 10
    epochs: int = 500

    def validate(self) -> None:
        """Raise `ValueError` naming the first setting out of range."""
        if not 0 <= len(self.hidden) <= MAX_HIDDEN_LAYERS:
            raise ValueError(
                f"hidden layers must number 0 to {MAX_HIDDEN_LAYERS}, "
                f"got {len(self.hidden)}")
        if any(not 1 <= n <= MAX_NEURONS for n in self.hidden):
            raise ValueError(
                f"each hidden layer needs 1 to {MAX_NEURONS} neurons, "
                f"got {self.hidden}")
        _check_choice("dataset", self.dataset, (*DATASETS, CSV_DATASET))
        if self.n_points < 4:
            raise ValueError(f"a dataset needs at least 4 points, got "
                             f"{self.n_points}")
        if not np.isfinite(self.noise) or self.noise < 0:
            raise ValueError(f"noise must be >= 0, got {self.noise}")
        if not 0 < self.test_fraction < 1:
            raise ValueError(f"test fraction must be between 0 and 1, got "
                             f"{self.test_fraction}")
        if not self.features or any(f not in FEATURES for f in self.features):
            raise ValueError(f"features must be a non-empty choice from "
                             f"{list(FEATURES)}, got {self.features}")
        if not 0 <= self.epochs <= MAX_EPOCHS:
            raise ValueError(f"epochs must be between 0 and {MAX_EPOCHS:,}, "
                             f"got {self.epochs}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")
        _check_choice("activation", self.activation, ACTIVATIONS)
        _check_choice("initialisation", self.init, INITIALISATIONS)
        _check_choice("regularisation", self.regularisation, REGULARISATIONS)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        if self.batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {self.batch_size}")
        if self.reg_rate < 0:
            raise ValueError(
                f"regularisation rate must be >= 0, got {self.reg_rate}")
        if not np.isfinite(self.lr) or self.lr <= 0:
            raise ValueError(
                f"learning rate must be a positive number, got {self.lr}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        known = set(cls.__dataclass_fields__)
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        config = cls(**values)
        config.validate()
        return config


def _check_choice(what: str, value: str, choices) -> None:
    if value not in choices:
        raise ValueError(
            f"unknown {what} {value!r}; expected one of {', '.join(choices)}")


@dataclass
class EpochRecord:
    """Costs and accuracies at the end of one epoch."""

    epoch: int
    train_loss: float
    test_loss: float
    train_accuracy: float
    test_accuracy: float


class Trainer:
    """A network, its data and optimizer, and the history of the run."""

    def __init__(self, config: TrainConfig, data: Split | None = None,
                 network: Sequential | None = None):
        """Set up a run; `network` continues from given parameters."""
        config.validate()
        self.config = config
        if data is None:
            X, y = make_dataset(config.dataset, config.n_points,
                                config.noise, config.seed)
            data = split(X, y, config.test_fraction)
        self.data = data
        self.X_train = make_features(data.X_train, config.features).astype(DTYPE)
        self.X_test = make_features(data.X_test, config.features).astype(DTYPE)
        self.Y_train = data.y_train[:, None].astype(DTYPE)  # (N, 1)
        self.Y_test = data.y_test[:, None].astype(DTYPE)
        sizes = [len(config.features), *config.hidden, 1]
        # The output layer is linear and the loss applies the sigmoid, so
        # the cost stays exact for confident outputs (see the loss class).
        self.network = network or build_mlp(sizes, config.activation,
                                            "linear", config.seed,
                                            config.init, DTYPE)
        self.network.layers[0].input_grad = False
        self.loss = BinaryCrossEntropyWithLogits(index=len(sizes) - 1)
        self.optimizer: Optimizer = make_optimizer(config.optimizer, config.lr)
        self.rng = np.random.default_rng(config.seed + 1)
        self.epoch = 0
        self.iteration = 0
        self._order = np.arange(0)  # the current epoch's shuffled rows
        self.history: list[EpochRecord] = []
        self.grad_norms: list[np.ndarray] = []  # per iteration, per layer
        self.snapshots: dict[int, list[np.ndarray]] = {}
        self.snapshot_stride = 1
        self.diverged = False
        self._record_epoch()

    @property
    def last_good_epoch(self) -> int:
        """Return the last epoch whose costs are finite and recorded."""
        return self.history[-1].epoch

    @property
    def dense_layers(self) -> list[Dense]:
        return [layer for layer in self.network.layers
                if isinstance(layer, Dense)]

    def step_batch(self) -> bool:
        """Train on the next batch; return False if the cost diverged."""
        if self.diverged:
            return False
        if self._order.size == 0:
            self._order = self.rng.permutation(len(self.X_train))
        rows = self._order[:self.config.batch_size]
        self._order = self._order[self.config.batch_size:]
        X, Y = self.X_train[rows], self.Y_train[rows]

        # The step needs dJ/dZ only; the cost itself is computed once an
        # epoch. A non-finite output shows up in the gradient norms.
        with np.errstate(over="ignore", invalid="ignore"):
            Z = self.network.forward(X)
            self.network.backward(self.loss.gradient(Z, Y))
            self._add_penalty_gradients()
            norms = np.array([np.linalg.norm(layer.grads["W"])
                              for layer in self.dense_layers])
        if not (np.all(np.isfinite(Z)) and np.all(np.isfinite(norms))):
            self.diverged = True
            return False
        self.grad_norms.append(norms)
        self.optimizer.step(self.network)
        self.iteration += 1
        if self._order.size == 0:
            self.epoch += 1
            self._record_epoch()
        return not self.diverged

    def step_epoch(self) -> bool:
        """Train on the rest of the current epoch's batches."""
        epoch = self.epoch
        while self.epoch == epoch:
            if not self.step_batch():
                return False
        return True

    def train(self, epochs: int, callback=None) -> bool:
        """Run `epochs` epochs, calling `callback(trainer)` after each."""
        for _ in range(epochs):
            if not self.step_epoch():
                return False
            if callback is not None:
                callback(self)
        return True

    def evaluate(self, X: np.ndarray, Y: np.ndarray) -> tuple[float, float]:
        """Return the cost (with the penalty) and the accuracy on `X`, `Y`."""
        with np.errstate(over="ignore", invalid="ignore"):
            Z = self.network.forward(X)
            cost = self.loss.forward(Z, Y) + self._penalty()
        accuracy = float(np.mean((Z > 0) == (Y > 0.5)))
        return cost, accuracy

    def probabilities(self, X: np.ndarray,
                      network: Sequential | None = None) -> np.ndarray:
        """Return P(class 1) `(N,)` for features `X` `(N, n_features)`."""
        return sigmoid((network or self.network).forward(X))[:, 0]

    def restore(self, epoch: int) -> Sequential:
        """Return a copy of the network with the parameters of `epoch`.

        Snapshots are thinned on long runs, so the nearest kept epoch at or
        before `epoch` is used.
        """
        kept = max(e for e in self.snapshots if e <= max(epoch, 0))
        network = build_mlp([self.X_train.shape[1], *self.config.hidden, 1],
                            self.config.activation, "linear", dtype=DTYPE)
        for (layer, key), value in zip(network.parameters(),
                                       self.snapshots[kept]):
            layer.params[key] = value.copy()
        return network

    def _record_epoch(self) -> None:
        train_loss, train_accuracy = self.evaluate(self.X_train, self.Y_train)
        test_loss, test_accuracy = self.evaluate(self.X_test, self.Y_test)
        if not (np.isfinite(train_loss) and np.isfinite(test_loss)):
            self.diverged = True
            return
        self.history.append(EpochRecord(self.epoch, train_loss, test_loss,
                                        train_accuracy, test_accuracy))
        self._snapshot()

    def _snapshot(self) -> None:
        if self.epoch % self.snapshot_stride:
            return
        self.snapshots[self.epoch] = [layer.params[key].copy() for layer, key
                                      in self.network.parameters()]
        if len(self.snapshots) > MAX_SNAPSHOTS:
            self.snapshot_stride *= 2
            self.snapshots = {e: p for e, p in self.snapshots.items()
                              if e % self.snapshot_stride == 0}

    def _penalty(self) -> float:
        """Return the regularisation term added to the cost."""
        rate, kind = self.config.reg_rate, self.config.regularisation
        if kind == "none" or rate == 0:
            return 0.0
        weights = [layer.params["W"] for layer in self.dense_layers]
        if kind == "l2":
            return rate / 2 * sum(float(np.sum(W * W)) for W in weights)
        return rate * sum(float(np.sum(np.abs(W))) for W in weights)

    def _add_penalty_gradients(self) -> None:
        rate, kind = self.config.reg_rate, self.config.regularisation
        if kind == "none" or rate == 0:
            return
        for layer in self.dense_layers:
            W = layer.params["W"]
            layer.grads["W"] = layer.grads["W"] + (
                rate * W if kind == "l2" else rate * np.sign(W))
