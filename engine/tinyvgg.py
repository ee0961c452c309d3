"""Tiny VGG: a two-block VGG-style network that classifies the shape images.

Two blocks of conv-ReLU-conv-ReLU-max pool (3x3 convolutions with padding
1, then 2x2 pooling), then flatten, `fc1`, ReLU and `fc2`, which gives one
logit per class of `engine.shapes.CLASSES`. Its input is RGB pixel values
in [0, 1], as `engine.shapes` draws them.

Training is mini-batch Adam on softmax cross-entropy, in float32, with the
learning rate following a cosine from `lr` down to 0 over the run, and each
training image flipped or turned at random every time it is used. The
images, the initial weights and the order of the batches all come from one
seed, so a run is repeatable on one machine (see `train_tinyvgg` for the
role of the BLAS thread count).
"""

import hashlib
import json
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from engine.losses import SoftmaxCrossEntropy, softmax
from engine.network import Sequential
from engine.optim import Optimizer, make_optimizer
from engine.shapes import CLASSES, DEFAULT_SIZE, make_shapes
from engine.vgg import POOL, LayerSpec, build_from_specs, conv_specs, he_weights
from engine.weights.errors import WeightsError
from engine.weights.npz_file import read_npz, save_npz

WEIGHTS_PATH = Path(__file__).resolve().parents[1] / "assets" / "tinyvgg.npz"
FILE_KIND = "tinyvgg"  # the "kind" entry of the configuration stored in the file
# The seed of the test images of `python -m engine tinyvgg evaluate`. Any
# seed other than the training seed gives images the network never saw.
TEST_SEED = 1_000_003
BLAS_THREADS_VARIABLE = "OPENBLAS_NUM_THREADS"
PREDICT_BATCH = 500  # images per forward pass when only predicting
DTYPE = np.float32


@dataclass(frozen=True)
class TinyVGGConfig:
    """The architecture: channel counts of the 3x3 convolutions, with POOL
    marking each 2x2 max pooling, the sizes of the hidden dense layers,
    the class names and the side of the square RGB input."""

    channels: tuple[int | str, ...] = (8, 8, POOL, 16, 16, POOL)
    hidden: tuple[int, ...] = (64,)
    classes: tuple[str, ...] = CLASSES
    input_size: int = DEFAULT_SIZE

    @property
    def feature_size(self) -> int:
        """Side of the last feature map: the input halved by each pooling."""
        return self.input_size // 2 ** self.channels.count(POOL)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TinyVGGConfig":
        """Build a configuration from `to_dict` output, as read from JSON."""
        config = cls(channels=tuple(values["channels"]),
                     hidden=tuple(values["hidden"]),
                     classes=tuple(values["classes"]),
                     input_size=int(values["input_size"]))
        if config.feature_size < 1:
            raise ValueError(
                f"an input of {config.input_size} pixels is too small for "
                f"{config.channels.count(POOL)} poolings")
        return config


@dataclass(frozen=True)
class TrainSettings:
    """Everything besides the architecture that decides the trained weights."""

    seed: int = 0
    epochs: int = 10
    n_train: int = 6000
    batch_size: int = 32
    lr: float = 0.004

    @property
    def batches_per_epoch(self) -> int:
        return math.ceil(self.n_train / self.batch_size)

    def validate(self) -> None:
        """Raise `ValueError` naming the first setting out of range."""
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.n_train < 1:
            raise ValueError(
                f"the number of training images must be >= 1, got {self.n_train}")
        if self.batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {self.batch_size}")
        if not math.isfinite(self.lr) or self.lr <= 0:
            raise ValueError(
                f"learning rate must be a positive number, got {self.lr}")


def layer_specs(config: TinyVGGConfig = TinyVGGConfig()) -> list[LayerSpec]:
    """List the layers with VGG-style names.

    Convolutions are `conv{block}_{i}` with `relu{block}_{i}` after them and
    poolings `pool{block}`, then `flatten`, and the dense layers `fc1`,
    `fc2`, ... with `relu_fc1`, ... after every one but the last.
    """
    specs = conv_specs(config.channels)
    C = [spec for spec in specs if spec.kind == "conv"][-1].shape[0]
    specs.append(LayerSpec("flatten", "flatten"))
    n_in = C * config.feature_size ** 2
    sizes = [*config.hidden, len(config.classes)]
    for k, n_out in enumerate(sizes, start=1):
        specs.append(LayerSpec(f"fc{k}", "dense", (n_out, n_in)))
        if k < len(sizes):
            specs.append(LayerSpec(f"relu_fc{k}", "relu"))
        n_in = n_out
    return specs


def build_tinyvgg(config: TinyVGGConfig = TinyVGGConfig(),
                  weights: dict[str, np.ndarray] | None = None,
                  seed: int = 0) -> Sequential:
    """Build the network; without `weights`, He-initialised from `seed`.

    `weights` maps `"{layer}.weight"` and `"{layer}.bias"` to arrays of the
    shapes in `layer_specs`. They are copied as float32, so the network
    never shares memory with the caller's arrays.
    """
    specs = layer_specs(config)
    if weights is None:
        weights = he_weights(specs, seed)
    check_weights(specs, weights)
    copies = {key: np.array(value, dtype=DTYPE) for key, value in weights.items()}
    return build_from_specs(specs, copies)


def check_weights(specs: list[LayerSpec],
                  weights: dict[str, np.ndarray]) -> None:
    """Raise `WeightsError` unless `weights` has exactly the keys and shapes
    that `specs` needs."""
    expected = {}
    for spec in specs:
        if spec.shape:
            expected[f"{spec.name}.weight"] = spec.shape
            expected[f"{spec.name}.bias"] = spec.shape[:1]
    missing = sorted(set(expected) - set(weights))
    extra = sorted(set(weights) - set(expected))
    if missing or extra:
        raise WeightsError(
            f"the weights do not match the architecture: missing "
            f"{missing or 'none'}, unexpected {extra or 'none'}")
    for key, shape in expected.items():
        if weights[key].shape != shape:
            raise WeightsError(
                f"{key} has shape {weights[key].shape}; the architecture "
                f"expects {shape}")


def network_weights(network: Sequential) -> dict[str, np.ndarray]:
    """Return a copy of every parameter, keyed `"{layer}.weight"` or `".bias"`."""
    names = {"W": "weight", "b": "bias"}
    return {f"{layer.name}.{names[key]}": layer.params[key].copy()
            for layer, key in network.parameters()}


def copy_network(network: Sequential,
                 config: TinyVGGConfig = TinyVGGConfig()) -> Sequential:
    """Return an independent network with the same parameters."""
    return build_tinyvgg(config, network_weights(network))


def weights_digest(network: Sequential) -> str:
    """Return the SHA-256 hex digest of every parameter's float32 bytes.

    Two networks with the same digest have bit-identical parameters, so it
    checks whether training reproduced a weights file.
    """
    digest = hashlib.sha256()
    for layer, key in network.parameters():
        array = np.ascontiguousarray(layer.params[key], dtype="<f4")
        digest.update(array.tobytes())
    return digest.hexdigest()


def predict_proba(network: Sequential, X: np.ndarray) -> np.ndarray:
    """Return class probabilities `(N, K)` for images `X` `(N, 3, H, W)`.

    Images go through in batches of `PREDICT_BATCH` to bound the memory of
    the activations.
    """
    parts = [softmax(network.predict(X[start:start + PREDICT_BATCH]))
             for start in range(0, len(X), PREDICT_BATCH)]
    return np.concatenate(parts)


@dataclass(frozen=True)
class Evaluation:
    """Accuracy on a labelled set and its confusion matrix.

    `confusion[i, j]` counts images of class i predicted as class j.
    """

    accuracy: float
    confusion: np.ndarray

    def class_accuracy(self) -> np.ndarray:
        """Return the share of each class's images that were classified right."""
        counts = self.confusion.sum(axis=1)
        return np.diag(self.confusion) / np.maximum(counts, 1)


def evaluate(network: Sequential, X: np.ndarray, y: np.ndarray) -> Evaluation:
    """Classify `X` and compare with the labels `y` `(N,)`."""
    predicted = predict_proba(network, X).argmax(axis=1)
    K = network.layers[-1].params["W"].shape[0]
    confusion = np.zeros((K, K), dtype=np.int64)
    np.add.at(confusion, (y, predicted), 1)
    return Evaluation(float(np.mean(predicted == y)), confusion)


def layer_outputs(network: Sequential, X: np.ndarray) -> dict[str, np.ndarray]:
    """Run one image `(1, 3, H, W)` and return every layer's output.

    Keys are layer names in order; values drop the batch axis, so conv,
    ReLU and pool outputs are `(C, H, W)` and dense outputs `(K,)`. A
    convolution's output is before its ReLU, which has its own entry.
    """
    if X.ndim != 4 or X.shape[0] != 1:
        raise ValueError(f"expected one image of shape (1, 3, H, W), got {X.shape}")
    outputs = {}
    for layer in network.layers:
        X = layer.forward(X)
        layer.clear_cache()
        outputs[layer.name] = np.ascontiguousarray(X[0])
    return outputs


def prepare_image(rgb: np.ndarray, size: int = DEFAULT_SIZE) -> np.ndarray:
    """Turn an RGB uint8 `(H, W, 3)` image into the input `(1, 3, size, size)`.

    The centre square is cropped, resized with Pillow's antialiased
    bilinear filter, and scaled to [0, 1] like the training images.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(
            f"expected an RGB uint8 image (H, W, 3), got {rgb.dtype} {rgb.shape}")
    height, width = rgb.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = rgb[top:top + side, left:left + side]
    resized = Image.fromarray(square).resize((size, size),
                                             Image.Resampling.BILINEAR)
    scaled = np.asarray(resized, dtype=DTYPE) / 255
    return np.ascontiguousarray(scaled.transpose(2, 0, 1)[None])  # (1, 3, s, s)


def learning_rate(lr: float, step: int, total_steps: int) -> float:
    """Return the cosine schedule's rate for step `step` of `total_steps`.

    It starts at `lr` and falls to 0 at the last step, so late updates are
    small and the final weights settle instead of jumping between batches.
    """
    return 0.5 * lr * (1 + math.cos(math.pi * step / total_steps))


def apply_symmetries(X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return a copy of square images `(N, C, H, H)`, each turned by a random
    one of the 8 symmetries of the square (flips and quarter turns).

    Every shape class keeps its label under these, so each training image
    stands for 8, which curbs overfitting at no cost in drawing.
    """
    X = X.copy()
    flip_rows = rng.random(len(X)) < 0.5
    X[flip_rows] = X[flip_rows, :, ::-1]
    flip_columns = rng.random(len(X)) < 0.5
    X[flip_columns] = X[flip_columns, :, :, ::-1]
    swap = rng.random(len(X)) < 0.5
    X[swap] = X[swap].transpose(0, 1, 3, 2)  # (n, C, W, H)
    return X


class TinyVGGTrainer:
    """Mini-batch Adam on a set of images, one batch per `step_batch` call.

    The network is trained in place, so a page keeps the trainer's network
    apart from the one it shows and copies it over when an epoch ends.
    `losses` records the cost of every batch before its update, and
    `epoch_losses` the mean of those costs over each finished epoch.
    """

    def __init__(self, network: Sequential, X: np.ndarray, y: np.ndarray,
                 settings: TrainSettings):
        settings.validate()
        if len(X) != settings.n_train or len(y) != settings.n_train:
            raise ValueError(
                f"{len(X)} images and {len(y)} labels for n_train "
                f"{settings.n_train}; all three must match")
        self.network = network
        self.X: np.ndarray | None = X
        self.y: np.ndarray | None = y
        self.settings = settings
        self.loss = SoftmaxCrossEntropy()
        self.optimizer: Optimizer = make_optimizer("adam", settings.lr)
        self.rng = np.random.default_rng(settings.seed + 1)
        self.batches_per_epoch = settings.batches_per_epoch
        self.total_steps = settings.epochs * self.batches_per_epoch
        self.epoch = 0
        self.iteration = 0
        self.losses: list[float] = []
        self.epoch_losses: list[float] = []
        self._order = np.arange(0)  # rows left in the current epoch
        # A page may stop the run from another thread while a batch runs.
        # The flag makes step_for stop before its next batch, because with
        # the lock alone its thread could take the next batch first.
        self._lock = threading.Lock()
        self._dropping = False

    @property
    def done(self) -> bool:
        return self.epoch >= self.settings.epochs

    def step_batch(self) -> bool:
        """Train on the next batch; return True when it ended an epoch."""
        with self._lock:
            if self.X is None:
                raise RuntimeError(
                    "the training images were dropped; start a new run")
            return self._step_batch()

    def _step_batch(self) -> bool:
        if self._order.size == 0:
            self._order = self.rng.permutation(len(self.X))
        size = self.settings.batch_size
        rows, self._order = self._order[:size], self._order[size:]
        self.optimizer.lr = learning_rate(self.settings.lr, self.iteration,
                                          self.total_steps)

        X = apply_symmetries(self.X[rows], self.rng)
        Z = self.network.forward(X)
        cost = self.loss.forward(Z, self.y[rows])
        self.network.backward(self.loss.backward())
        self.optimizer.step(self.network)

        self.losses.append(cost)
        self.iteration += 1
        if self._order.size:
            return False
        self.epoch += 1
        self.epoch_losses.append(
            float(np.mean(self.losses[-self.batches_per_epoch:])))
        return True

    def drop_images(self) -> None:
        """Free the training images of a run that is over; the costs stay.

        A batch running on another thread finishes first. `step_batch`
        raises `RuntimeError` afterwards, and `step_for` returns False.
        """
        self._dropping = True
        with self._lock:
            self.X = self.y = None

    def step_for(self, seconds: float) -> bool:
        """Train until `seconds` have passed, an epoch ends or the images
        are dropped; return True when an epoch ended. At least one batch
        runs, unless the images were dropped before."""
        deadline = time.monotonic() + seconds
        while not self.done and not self._dropping:
            with self._lock:
                if self.X is None:
                    return False
                ended = self._step_batch()
            if ended:
                return True
            if time.monotonic() >= deadline:
                break
        return False


@dataclass
class TrainResult:
    """A trained network with the settings and costs of its run."""

    network: Sequential
    config: TinyVGGConfig
    settings: TrainSettings
    losses: list[float] = field(default_factory=list)
    epoch_losses: list[float] = field(default_factory=list)


def train_tinyvgg(
        settings: TrainSettings = TrainSettings(),
        config: TinyVGGConfig = TinyVGGConfig(),
        progress: Callable[[TinyVGGTrainer], None] | None = None) -> TrainResult:
    """Train from scratch on `settings.n_train` images drawn from the seed.

    The images use `settings.seed`, the He initialisation `settings.seed`
    too (another generator), and the batch order `settings.seed + 1`.
    `progress(trainer)` is called after every batch.

    NOTE: the weights are bit-identical across runs only with the same
    OpenBLAS thread count. With OpenBLAS 0.3.31 (NumPy 2.4.6, Haswell
    kernel, 2 cores), two runs on 1 thread matched and two runs on 2
    threads matched, but 1 and 2 threads differed in the last bits:
    OpenBLAS may order a product's sums differently when it splits the
    work between threads. Another CPU kernel or BLAS build may change them
    too. The shipped file was trained with OPENBLAS_NUM_THREADS=1.
    """
    settings.validate()
    X, y = make_shapes(settings.n_train, settings.seed, config.input_size)
    network = build_tinyvgg(config, seed=settings.seed)
    trainer = TinyVGGTrainer(network, X, y, settings)
    while not trainer.done:
        trainer.step_batch()
        if progress is not None:
            progress(trainer)
    return TrainResult(network, config, settings, trainer.losses,
                       trainer.epoch_losses)


@dataclass(frozen=True)
class TinyVGG:
    """A network read from a weights file, with what the file says of it."""

    network: Sequential
    config: TinyVGGConfig
    settings: TrainSettings
    source: str


def save_tinyvgg(path: str | Path, network: Sequential, config: TinyVGGConfig,
                 settings: TrainSettings) -> Path:
    """Write the parameters as float32 with the architecture and settings.

    The file is this project's npz weight format (`engine.weights.npz_file`).
    Its configuration string is JSON with the class names, the training
    settings, and the NumPy version and OpenBLAS thread count, which the
    last bits of the weights depend on (see `train_tinyvgg`).
    """
    environment = {"numpy": np.__version__,
                   BLAS_THREADS_VARIABLE: os.environ.get(BLAS_THREADS_VARIABLE)}
    description = {"kind": FILE_KIND, "architecture": config.to_dict(),
                   "training": asdict(settings), "environment": environment}
    source = (f"python -m engine tinyvgg train --seed {settings.seed} "
              f"--epochs {settings.epochs} --images {settings.n_train} "
              f"--batch-size {settings.batch_size} --lr {settings.lr}")
    return save_npz(path, network_weights(network), json.dumps(description),
                    source=source)


def load_tinyvgg(path: str | Path = WEIGHTS_PATH) -> TinyVGG:
    """Read a file written by `save_tinyvgg` and build its network.

    Raises `WeightsError` for a file of another kind or whose arrays do not
    match the architecture it describes, and `OSError` when it cannot be read.
    """
    contents = read_npz(path)
    try:
        description = json.loads(contents.config)
    except json.JSONDecodeError:
        description = None
    if not isinstance(description, dict) or description.get("kind") != FILE_KIND:
        raise WeightsError(
            f"{path} is not a Tiny VGG weights file: its configuration is "
            f"{contents.config[:40]!r}; train one with `python -m engine "
            f"tinyvgg train`")
    try:
        config = TinyVGGConfig.from_dict(description["architecture"])
        settings = TrainSettings(**description["training"])
    except (KeyError, TypeError, ValueError) as error:
        raise WeightsError(
            f"{path} has an invalid Tiny VGG configuration: "
            f"{type(error).__name__}: {error}") from None
    network = build_tinyvgg(config, contents.weights)
    return TinyVGG(network, config, settings, contents.source)
