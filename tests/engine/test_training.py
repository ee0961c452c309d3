"""Optimizers, toy datasets, CSV data, training, divergence and export."""

import json
from pathlib import Path

import numpy as np
import pytest

from engine.datasets import DATASETS, CSVDataError, make_dataset, read_csv
from engine.export import NetworkFileError, export_network, import_network
from engine.layers import Dense
from engine.network import Sequential
from engine.optim import make_optimizer
from engine.training import TrainConfig, Trainer

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "reference.npz"


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_optimizer_matches_pytorch(name):
    with np.load(FIXTURE) as data:
        p0, grads, p3 = (data[f"optim_{name}/{key}"]
                         for key in ("p0", "grads", "p3"))
    layer = Dense(p0.copy(), np.zeros(3))
    network = Sequential([layer])
    optimizer = make_optimizer(name, 0.01 if name == "adam" else 0.1)
    for grad in grads:
        layer.grads = {"W": grad, "b": np.zeros(3)}
        optimizer.step(network)
    np.testing.assert_allclose(layer.params["W"], p3, rtol=1e-12)


@pytest.mark.parametrize("name", DATASETS)
def test_dataset_is_seeded_and_balanced(name):
    X, y = make_dataset(name, 200, 0.1, seed=3)
    X_again, _ = make_dataset(name, 200, 0.1, seed=3)
    assert X.shape == (200, 2)
    assert y.sum() == 100
    np.testing.assert_array_equal(X, X_again)


@pytest.mark.parametrize("name, minimum", [
    ("spirals", 0.95), ("xor", 0.98), ("circles", 0.98), ("blobs", 0.98),
    ("moons", 0.98),
])
def test_quality_bar(name, minimum):
    config = TrainConfig(dataset=name, hidden=[8, 8], activation="tanh",
                         optimizer="adam", lr=0.03, epochs=500, seed=0)
    trainer = Trainer(config)
    trainer.train(config.epochs)
    assert trainer.history[-1].test_accuracy >= minimum


@pytest.mark.parametrize("data, message", [
    (b"", "no data rows"),
    (b"x1,x2,label\n", "no data rows"),
    (b"1,2,0\n1,2\n", "line 2: expected 3 columns"),
    (b"1,2,0\n1,two,1\n", "line 2: x2 is not a number: 'two'"),
    (b"1,2,0\n3,4,2\n", "line 2: the label must be 0 or 1, found '2'"),
    (b"1,2,0\n3,inf,1\n", "line 2: x2 is inf"),
    (b"1,2,0\n3,4,0\n", "both 0 and 1"),
    (b"\xff\xfe\x00", "not UTF-8"),
    (b"1,2,0\n" * 5000 + b"1,2,1\n" * 5001, "10,001 rows; the limit is 10,000"),
])
def test_csv_errors_name_the_line(data, message):
    with pytest.raises(CSVDataError, match=message):
        read_csv(data)


def test_csv_with_header_reads():
    X, y = read_csv(b"x1,x2,label\n0.5,-1,0\n2,3,1\n")
    np.testing.assert_array_equal(X, [[0.5, -1.0], [2.0, 3.0]])
    np.testing.assert_array_equal(y, [0, 1])


def test_divergence_stops_training():
    config = TrainConfig(dataset="spirals", hidden=[16, 16, 16],
                         activation="linear", optimizer="sgd", lr=1000.0,
                         init="he")
    trainer = Trainer(config)
    assert not trainer.train(50)
    assert trainer.diverged
    assert all(np.isfinite(r.train_loss) for r in trainer.history)
    assert trainer.epoch < 50


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_every_optimizer_lowers_cost(optimizer):
    config = TrainConfig(dataset="blobs", optimizer=optimizer, lr=0.05)
    trainer = Trainer(config)
    trainer.train(20)
    assert trainer.history[-1].train_loss < trainer.history[0].train_loss


def test_rewind_restores_epoch_parameters():
    trainer = Trainer(TrainConfig(dataset="xor"))
    trainer.train(5)
    early = trainer.snapshots[2]
    trainer.train(5)
    network = trainer.restore(2)
    restored = [layer.params[key] for layer, key in network.parameters()]
    for before, after in zip(early, restored):
        np.testing.assert_array_equal(before, after)


def test_export_import_round_trip():
    config = TrainConfig(dataset="moons", hidden=[5, 3], features=["x1", "x2",
                                                                    "x1*x2"])
    trainer = Trainer(config)
    trainer.train(3)
    data = export_network(config, trainer.network, trainer.epoch)
    config_again, network, epoch = import_network(data)
    assert config_again == config
    assert epoch == 3
    X = trainer.X_test
    np.testing.assert_array_equal(network.forward(X), trainer.network.forward(X))


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(format="other"), "not a network exported"),
    (lambda d: d["parameters"].pop("dense1.W"), "missing"),
    (lambda d: d["parameters"].update({"dense1.b": [1.0]}), "expected shape"),
    (lambda d: d["settings"].update(activation="swish"), "unknown activation"),
    (lambda d: d["parameters"]["dense2.b"].__setitem__(0, float("nan")),
     "NaN"),
])
def test_import_rejects_bad_files(change, message):
    trainer = Trainer(TrainConfig(hidden=[3]))
    document = json.loads(export_network(trainer.config, trainer.network, 0))
    change(document)
    with pytest.raises(NetworkFileError, match=message):
        import_network(json.dumps(document).encode())


def test_import_rejects_non_json():
    with pytest.raises(NetworkFileError, match="not valid JSON"):
        import_network(b"\x89PNG")


def test_csv_rejects_huge_features():
    with pytest.raises(CSVDataError, match="line 2: x1 is 1e300"):
        read_csv(b"1,2,0\n1e300,2,1\n")
