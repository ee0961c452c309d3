"""The shape images, the Tiny VGG network, its training, file and command line."""

import itertools
import json
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from engine.cli import main
from engine.gradcheck import numerical_gradient, relative_error
from engine.losses import SoftmaxCrossEntropy
from engine.shapes import CLASSES, draw_shape, make_shapes
from engine.tinyvgg import (
    TEST_SEED,
    WEIGHTS_PATH,
    TinyVGGConfig,
    TinyVGGTrainer,
    TrainSettings,
    apply_symmetries,
    build_tinyvgg,
    evaluate,
    layer_outputs,
    layer_specs,
    learning_rate,
    load_tinyvgg,
    predict_proba,
    prepare_image,
    save_tinyvgg,
    weights_digest,
)
from engine.weights.errors import WeightsError
from engine.weights.npz_file import save_npz

SHIPPED_ACCURACY = 0.95
ACCURACY_IMAGES = 600
MAX_FILE_BYTES = 1_000_000
GRAD_TOLERANCE = 1e-6  # worst relative error accepted, float64 with h = 1e-6
RADIUS = 0.35  # of the image side, for the area checks
AREA_TOLERANCE = 0.03  # relative, from the coverage sampling on the edges
# Area of each shape in units of its radius squared, from its geometry in
# engine.shapes: square side 1.6, cross arms 0.6 x 2, ring inner radius
# 0.55, and three stripes of 0.36 x 1.8.
AREAS = {
    "circle": np.pi,
    "square": 1.6**2,
    "triangle": 3 * np.sqrt(3) / 4,
    "cross": 2 * 0.6 * 2 - 0.6**2,
    "ring": np.pi * (1 - 0.55**2),
    "stripes": 3 * 0.36 * 1.8,
}
MAP_SHAPES = {
    "conv1_1": (8, 32, 32), "relu1_2": (8, 32, 32), "pool1": (8, 16, 16),
    "conv2_1": (16, 16, 16), "conv2_2": (16, 16, 16), "pool2": (16, 8, 8),
    "flatten": (1024,), "fc1": (64,), "fc2": (6,),
}
# A few elements of every parameter, as (layer, key, index of a slice).
CHECKED_SLICES = [
    ("conv1_1", "W", np.s_[:2, :, 0, :2]), ("conv1_1", "b", np.s_[:3]),
    ("conv1_2", "W", np.s_[1, :2, 1]), ("conv2_1", "W", np.s_[:2, 3, :, 1]),
    ("conv2_2", "W", np.s_[5, :2, 2]), ("conv2_2", "b", np.s_[:4]),
    ("fc1", "W", np.s_[:3, 100:102]), ("fc1", "b", np.s_[:4]),
    ("fc2", "W", np.s_[:, 7]), ("fc2", "b", np.s_[:]),
]


@pytest.fixture(scope="module")
def shipped():
    return load_tinyvgg()


# The shape images.


def test_make_shapes_same_seed_same_images():
    X1, y1 = make_shapes(50, seed=3)
    X2, y2 = make_shapes(50, seed=3)
    assert np.array_equal(X1, X2)
    assert np.array_equal(y1, y2)


def test_make_shapes_other_seed_other_images():
    X1, _ = make_shapes(50, seed=3)
    X2, _ = make_shapes(50, seed=4)
    assert not np.allclose(X1, X2)


def test_make_shapes_format():
    X, y = make_shapes(30, seed=0, size=24)
    assert X.shape == (30, 3, 24, 24)
    assert X.dtype == np.float32
    assert X.min() >= 0
    assert X.max() <= 1
    assert y.shape == (30,)
    assert set(y) <= set(range(len(CLASSES)))


@pytest.mark.parametrize("n", [6, 7, 11, 600, 605])
def test_make_shapes_classes_balanced(n):
    _, y = make_shapes(n, seed=1)
    counts = np.bincount(y, minlength=len(CLASSES))
    assert counts.max() - counts.min() <= 1


@pytest.mark.parametrize("n, size", [(0, 32), (-5, 32), (10, 4)])
def test_make_shapes_rejects_bad_sizes(n, size):
    with pytest.raises(ValueError):
        make_shapes(n, seed=0, size=size)


@pytest.mark.parametrize("name", CLASSES)
def test_draw_shape_area(name):
    colour, background = (1.0, 1.0, 1.0), (0.0, 0.0, 0.0)
    image = draw_shape(name, RADIUS, 30, colour, background, noise=0.0)
    radius_px = RADIUS * image.shape[1]
    area = float(image[0].sum())  # coverage, because white on black
    expected = AREAS[name] * radius_px**2
    assert abs(area - expected) / expected < AREA_TOLERANCE


def test_draw_shape_noise_seeded():
    first = draw_shape("ring", noise=0.1, seed=5)
    again = draw_shape("ring", noise=0.1, seed=5)
    other = draw_shape("ring", noise=0.1, seed=6)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("name, radius, noise", [
    ("hexagon", 0.3, 0.0), ("circle", 0.0, 0.0), ("circle", 0.6, 0.0),
    ("circle", 0.3, -0.1),
])
def test_draw_shape_rejects_bad_arguments(name, radius, noise):
    with pytest.raises(ValueError):
        draw_shape(name, radius, noise=noise)


# The network.


def test_layer_names():
    names = [spec.name for spec in layer_specs()]
    assert names == [
        "conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1",
        "conv2_1", "relu2_1", "conv2_2", "relu2_2", "pool2",
        "flatten", "fc1", "relu_fc1", "fc2",
    ]


@pytest.mark.parametrize("name, shape", MAP_SHAPES.items())
def test_layer_output_shapes(name, shape):
    network = build_tinyvgg(seed=0)
    X, _ = make_shapes(1, seed=0)
    assert layer_outputs(network, X)[name].shape == shape


def test_batch_gives_one_probability_row_per_image():
    X, _ = make_shapes(7, seed=0)
    probabilities = predict_proba(build_tinyvgg(seed=0), X)
    assert probabilities.shape == (7, len(CLASSES))
    assert np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)


def test_parameter_count():
    network = build_tinyvgg(seed=0)
    convs = (8 * 3 + 8 * 8 + 16 * 8 + 16 * 16) * 9 + 8 + 8 + 16 + 16
    dense = 1024 * 64 + 64 + 64 * 6 + 6
    assert network.n_params == convs + dense


def test_build_rejects_wrong_shape():
    weights = {f"{layer.name}.{'weight' if key == 'W' else 'bias'}":
               layer.params[key] for layer, key in build_tinyvgg().parameters()}
    weights["fc1.weight"] = np.zeros((64, 1000), np.float32)
    with pytest.raises(WeightsError, match="fc1.weight"):
        build_tinyvgg(weights=weights)


def test_build_rejects_missing_key():
    weights = {f"{layer.name}.{'weight' if key == 'W' else 'bias'}":
               layer.params[key] for layer, key in build_tinyvgg().parameters()}
    del weights["conv2_1.bias"]
    with pytest.raises(WeightsError, match="conv2_1.bias"):
        build_tinyvgg(weights=weights)


def float64_network():
    network = build_tinyvgg(seed=0)
    for layer, key in network.parameters():
        layer.params[key] = layer.params[key].astype(np.float64)
    return network


@pytest.mark.parametrize("layer_name, key, part", CHECKED_SLICES)
def test_gradient_matches_central_differences(layer_name, key, part):
    network = float64_network()
    rng = np.random.default_rng(0)
    # Random pixels rather than shapes: flat areas would make max-pooling
    # ties, where the cost has no derivative.
    X = rng.random((3, 3, 32, 32))
    y = np.array([0, 4, 5])
    loss = SoftmaxCrossEntropy()

    def cost() -> float:
        return loss.forward(network.forward(X), y)

    cost()
    network.backward(loss.backward())
    layer = network[layer_name]
    analytic = layer.grads[key][part]
    numeric = numerical_gradient(cost, layer.params[key][part])  # a view
    error = relative_error(analytic, numeric)
    assert error < GRAD_TOLERANCE, f"{layer_name}.{key}: relative error {error:.2e}"


# Training.


def small_trainer(seed: int = 0, n: int = 64, epochs: int = 1) -> TinyVGGTrainer:
    settings = TrainSettings(seed=seed, epochs=epochs, n_train=n)
    X, y = make_shapes(n, seed)
    return TinyVGGTrainer(build_tinyvgg(seed=seed), X, y, settings)


def run(trainer: TinyVGGTrainer) -> TinyVGGTrainer:
    while not trainer.done:
        trainer.step_batch()
    return trainer


def test_training_same_seed_same_weights():
    first = run(small_trainer(seed=2))
    again = run(small_trainer(seed=2))
    assert weights_digest(first.network) == weights_digest(again.network)


def test_training_other_seed_other_weights():
    first = run(small_trainer(seed=2))
    other = run(small_trainer(seed=3))
    assert weights_digest(first.network) != weights_digest(other.network)


def test_training_lowers_the_cost():
    trainer = run(small_trainer(n=240, epochs=3))
    assert len(trainer.epoch_losses) == 3
    assert trainer.epoch_losses[-1] < trainer.epoch_losses[0]


def test_trainer_records_every_batch():
    trainer = run(small_trainer(n=70, epochs=2))  # batches of 32, 32 and 6
    assert trainer.batches_per_epoch == 3
    assert len(trainer.losses) == 6
    assert trainer.epoch == 2


def test_step_for_stops_at_epoch_end():
    trainer = small_trainer(n=96, epochs=2)
    assert trainer.step_for(seconds=60)
    assert trainer.epoch == 1
    assert trainer.iteration == trainer.batches_per_epoch


def test_trainer_stops_after_dropping_images():
    trainer = small_trainer()
    trainer.step_batch()
    trainer.drop_images()
    assert trainer.losses
    with pytest.raises(RuntimeError, match="dropped"):
        trainer.step_batch()


def test_step_for_returns_after_drop_from_thread():
    trainer = small_trainer(n=96, epochs=2)  # 3 batches per epoch
    started = threading.Event()
    step_batch = trainer._step_batch

    def slow_step_batch():
        started.set()
        time.sleep(0.2)  # so that the drop below waits for this batch
        return step_batch()

    trainer._step_batch = slow_step_batch
    outcome = []
    worker = threading.Thread(
        target=lambda: outcome.append(trainer.step_for(seconds=60)))
    worker.start()
    started.wait(timeout=60)
    trainer.drop_images()
    worker.join(timeout=60)
    assert not worker.is_alive()
    assert outcome == [False]
    assert len(trainer.losses) == 1
    assert trainer.X is None


def test_step_for_after_drop_runs_nothing():
    trainer = small_trainer()
    trainer.drop_images()
    assert trainer.step_for(seconds=60) is False
    assert trainer.losses == []


def test_trainer_rejects_mismatched_images():
    X, y = make_shapes(10, seed=0)
    with pytest.raises(ValueError, match="must match"):
        TinyVGGTrainer(build_tinyvgg(), X, y, TrainSettings(n_train=20))


@pytest.mark.parametrize("field, value", [
    ("epochs", 0), ("n_train", 0), ("batch_size", 0), ("lr", 0.0),
    ("lr", float("nan")),
])
def test_settings_reject_out_of_range(field, value):
    with pytest.raises(ValueError):
        TrainSettings(**{field: value}).validate()


@pytest.mark.parametrize("step, expected", [(0, 1.0), (50, 0.5), (100, 0.0)])
def test_learning_rate_cosine(step, expected):
    assert learning_rate(1.0, step, 100) == pytest.approx(expected, abs=1e-12)


def square_symmetries(image: np.ndarray) -> list[np.ndarray]:
    """Return the 8 flips and quarter turns of a `(C, H, H)` image."""
    variants = []
    for flip_rows, flip_columns, swap in itertools.product([False, True], repeat=3):
        variant = image[:, ::-1] if flip_rows else image
        variant = variant[:, :, ::-1] if flip_columns else variant
        variants.append(variant.transpose(0, 2, 1) if swap else variant)
    return variants


def test_symmetries_are_flips_and_turns():
    X, _ = make_shapes(16, seed=0)
    turned = apply_symmetries(X, np.random.default_rng(0))
    assert not np.array_equal(turned, X)
    for original, image in zip(X, turned):
        assert any(np.array_equal(image, variant)
                   for variant in square_symmetries(original))


# The weights file.


def test_save_and_load_round_trip(tmp_path):
    trainer = run(small_trainer())
    path = save_tinyvgg(tmp_path / "tiny.npz", trainer.network,
                        TinyVGGConfig(), trainer.settings)
    model = load_tinyvgg(path)
    assert weights_digest(model.network) == weights_digest(trainer.network)
    assert model.config.classes == CLASSES
    assert model.settings == trainer.settings


def test_load_rejects_other_npz(tmp_path):
    path = save_npz(tmp_path / "vgg.npz", {"fc8.bias": np.zeros(3)}, "vgg16")
    with pytest.raises(WeightsError, match="Tiny VGG"):
        load_tinyvgg(path)


def test_shipped_file_is_small_float32(shipped):
    assert WEIGHTS_PATH.stat().st_size < MAX_FILE_BYTES
    assert shipped.config.classes == CLASSES
    for layer, key in shipped.network.parameters():
        assert layer.params[key].dtype == np.float32, f"{layer.name}.{key}"


def test_shipped_weights_accuracy(shipped):
    X, y = make_shapes(ACCURACY_IMAGES, TEST_SEED)
    result = evaluate(shipped.network, X, y)
    assert result.accuracy >= SHIPPED_ACCURACY
    assert result.confusion.sum() == ACCURACY_IMAGES


def test_shipped_weights_trained_on_another_seed(shipped):
    assert shipped.settings.seed != TEST_SEED


# Images from files.


def test_prepare_image_crops_and_scales():
    rgb = np.zeros((40, 60, 3), np.uint8)
    rgb[:, :10] = 255  # a white band outside the centre square
    rgb[..., 2] = 51
    X = prepare_image(rgb)
    assert X.shape == (1, 3, 32, 32)
    assert X.dtype == np.float32
    assert np.allclose(X[0, 0], 0)
    assert np.allclose(X[0, 2], 0.2)


def test_prepare_image_rejects_grey():
    with pytest.raises(ValueError, match="RGB uint8"):
        prepare_image(np.zeros((32, 32), np.uint8))


# The command line.


def test_cli_evaluate_json(capsys):
    status = main(["tinyvgg", "evaluate", "--images", "120", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert status == 0
    assert set(result) == {"accuracy", "images", "seed", "class_accuracy",
                           "confusion", "classes", "weights",
                           "parameters_sha256"}
    assert 0 <= result["accuracy"] <= 1
    assert result["images"] == 120
    assert result["seed"] == TEST_SEED
    assert result["classes"] == list(CLASSES)
    assert np.sum(result["confusion"]) == 120
    assert set(result["class_accuracy"]) == set(CLASSES)


def test_cli_evaluate_text(capsys):
    assert main(["tinyvgg", "evaluate", "--images", "60"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("accuracy ")
    assert "on 60 test images" in out
    for name in CLASSES:
        assert name in out


def test_cli_train_reproduces_weights(tmp_path, capsys):
    digests = []
    for name in ("first.npz", "second.npz"):
        path = tmp_path / name
        status = main(["tinyvgg", "train", "--epochs", "1", "--images", "40",
                       "--seed", "7", "--out", str(path)])
        assert status == 0
        digests.append(weights_digest(load_tinyvgg(path).network))
        assert digests[-1] in capsys.readouterr().out
    assert digests[0] == digests[1]


@pytest.mark.parametrize("args, message", [
    (["evaluate", "--weights", "missing.npz"], "No such file"),
    (["evaluate", "--seed", "0"], "training seed"),
    (["evaluate", "--images", "0"], "must be >= 1"),
    (["train", "--epochs", "0"], "epochs must be >= 1"),
    (["train", "--lr", "-1"], "learning rate must be a positive number"),
    (["train", "--out", "no/such/folder/x.npz"], "does not exist"),
])
def test_cli_bad_arguments_status_2(capsys, args, message):
    assert main(["tinyvgg", *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1


def test_cli_corrupt_weights_status_2(tmp_path, capsys):
    path = tmp_path / "broken.npz"
    path.write_bytes(b"not a zip file")
    assert main(["tinyvgg", "evaluate", "--weights", str(path)]) == 2
    err = capsys.readouterr().err
    assert "not an npz file" in err
    assert "allow_pickle" not in err


@pytest.mark.parametrize("args, message", [
    ([], "required: {train,evaluate}"),
    (["evaluate", "--images", "many"], "invalid int value"),
])
def test_cli_usage_errors_status_2(args, message):
    result = subprocess.run([sys.executable, "-m", "engine", "tinyvgg", *args],
                            capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert message in result.stderr
