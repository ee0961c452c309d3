"""The toy network over the input plane, and per-layer statistics."""

import numpy as np

from engine.plane import evaluate_plane, layer_statistics
from engine.training import TrainConfig, Trainer


def test_plane_shapes_and_probabilities():
    trainer = Trainer(TrainConfig(hidden=[3, 2]))
    plane = evaluate_plane(trainer.network, ["x1", "x2"], resolution=20)
    assert plane.probability.shape == (20, 20)
    assert [h.shape for h in plane.hidden] == [(3, 20, 20), (2, 20, 20)]
    assert np.all((plane.probability >= 0) & (plane.probability <= 1))


def test_plane_matches_trainer_probabilities():
    trainer = Trainer(TrainConfig(hidden=[4]))
    plane = evaluate_plane(trainer.network, ["x1", "x2"], extent=1.0,
                           resolution=3)
    corner = np.array([[-1.0, 1.0]], dtype=np.float32)  # row x2=1, col x1=-1
    np.testing.assert_allclose(plane.probability[2, 0],
                               trainer.probabilities(corner)[0], rtol=1e-6)


def test_layer_statistics_sizes():
    trainer = Trainer(TrainConfig(hidden=[5]))
    trainer.step_batch()
    stats = layer_statistics(trainer.network, trainer.X_train)
    assert list(stats) == ["dense1", "dense2"]
    assert stats["dense1"]["weights"].size == 10
    assert stats["dense1"]["activations"].size == 5 * len(trainer.X_train)
    assert stats["dense2"]["gradients"].size == 5
