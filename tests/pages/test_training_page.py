"""Tests of the training playground, through AppTest and the engine functions
that the page calls (`engine.playground`)."""

import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from engine.datasets import CSVDataError
from engine.export import export_network, import_network
from engine.network import SMALL_STD
from engine.playground import (
    LIMITS,
    check_settings,
    csv_split,
    last_good_epoch,
    layer_statistics_at,
    median_gradient_norms,
    network_at,
    plane_extent,
    run_fingerprint,
    settings_from_query,
    settings_to_query,
    snapshot_bytes_bound,
    train_chunk,
    train_comparison,
    vanishing_configs,
)
from engine.training import MAX_SNAPSHOTS, TrainConfig, Trainer

PAGE = Path(__file__).resolve().parents[2] / "pages" / "4_Training.py"
CSV = b"x1,x2,label\n" + b"".join(
    f"{np.cos(a):.3f},{np.sin(a):.3f},{i % 2}\n".encode()
    for i, a in enumerate(np.linspace(0, 6, 40)))
DIVERGING = {"lr": 1000.0, "activation": "linear", "optimizer": "sgd"}


@pytest.fixture
def app() -> AppTest:
    return AppTest.from_file(str(PAGE), default_timeout=60).run()


def trainer_of(app: AppTest):
    return app.session_state["tp_trainer"]


def click(app: AppTest, key: str, times: int = 1) -> None:
    for _ in range(times):
        app.button(key=key).click().run()


def timeline(app: AppTest):
    return next(slider for slider in app.slider if slider.label == "Epoch on show")


def chart_keys(app: AppTest) -> list[str]:
    return [chart.key for chart in app.get("plotly_chart")]


def metric(app: AppTest, label: str) -> str:
    return next(m.value for m in app.metric if m.label == label)


def upload(app: AppTest, key: str, name: str, data: bytes) -> None:
    app.sidebar.file_uploader(key=key).set_value((name, data, "text/plain")).run()


def set_settings(app: AppTest, **settings) -> None:
    widgets = {"lr": app.sidebar.select_slider, "activation": app.sidebar.selectbox,
               "optimizer": app.sidebar.selectbox, "dataset": app.sidebar.selectbox}
    for name, value in settings.items():
        widgets[name](key=f"tp_{name}").set_value(value)
    app.run()


# The page, through AppTest.

def test_page_loads_at_epoch_zero(app):
    assert not app.exception
    assert app.title[0].value == "Training playground"
    assert trainer_of(app).epoch == 0
    assert metric(app, "Epoch") == "0"
    assert chart_keys(app) == ["tp_boundary_chart", "tp_history_chart",
                               "tp_neuron_chart", "tp_gradient_chart",
                               "tp_histogram_chart"]


def test_step_trains_one_batch(app):
    click(app, "tp_step")
    trainer = trainer_of(app)
    assert trainer.iteration == 1
    assert trainer.epoch == 0
    assert len(trainer.grad_norms) == 1


def test_step_epoch_advances_epoch(app):
    click(app, "tp_step_epoch", 2)
    assert trainer_of(app).epoch == 2
    assert metric(app, "Epoch") == "2"
    assert not app.exception


def test_reset_returns_to_epoch_zero(app):
    first = [p.copy() for p in trainer_of(app).snapshots[0]]
    click(app, "tp_step_epoch", 3)
    click(app, "tp_reset")
    trainer = trainer_of(app)
    assert trainer.epoch == 0
    assert trainer.iteration == 0
    for before, after in zip(first, trainer.snapshots[0], strict=True):
        np.testing.assert_array_equal(before, after)


def test_dataset_change_starts_new_run(app):
    click(app, "tp_step_epoch", 2)
    old = trainer_of(app)
    set_settings(app, dataset="xor")
    trainer = trainer_of(app)
    assert trainer is not old
    assert trainer.epoch == 0
    assert trainer.config.dataset == "xor"


@pytest.mark.parametrize("change", [
    lambda app: app.sidebar.number_input(key="tp_epochs").set_value(50),
    lambda app: app.toggle(key="tp_show_test").set_value(False),
])
def test_option_change_keeps_run(app, change):
    click(app, "tp_step_epoch", 2)
    old = trainer_of(app)
    change(app)
    app.run()
    assert trainer_of(app) is old
    assert trainer_of(app).epoch == 2


def test_play_trains_chunk_and_pause_stops(app):
    click(app, "tp_play")
    assert not app.exception
    assert app.session_state["tp_playing"]
    assert trainer_of(app).epoch > 0
    assert app.button(key="tp_play").disabled
    assert "Pause to rewind" in app.get("progress")[0].proto.text
    click(app, "tp_pause")
    epoch = trainer_of(app).epoch
    app.run()
    assert not app.session_state["tp_playing"]
    assert trainer_of(app).epoch == epoch


@pytest.mark.parametrize("change", [
    lambda app: app.toggle(key="tp_show_test").set_value(False),
    lambda app: app.sidebar.number_input(key="tp_epochs").set_value(5000),
    lambda app: app.button(key="tp_step").click(),
])
def test_widgets_while_playing_keep_run(app, change):
    click(app, "tp_play")
    old = trainer_of(app)
    epoch = old.epoch
    change(app)
    app.run()
    assert not app.exception
    assert trainer_of(app) is old
    assert trainer_of(app).epoch >= epoch


def test_play_stops_at_epoch_budget(app):
    app.sidebar.number_input(key="tp_epochs").set_value(3).run()
    click(app, "tp_play")
    assert trainer_of(app).epoch == 3
    assert not app.session_state["tp_playing"]
    assert "Reached the budget of 3 epochs" in app.success[0].value
    assert app.button(key="tp_play").disabled


def test_divergence_stops_and_explains(app):
    set_settings(app, **DIVERGING)
    for _ in range(5):  # Step epoch is disabled once the run diverged
        if app.button(key="tp_step_epoch").disabled:
            break
        click(app, "tp_step_epoch")
    trainer = trainer_of(app)
    assert trainer.diverged
    assert not app.exception
    message = app.error[0].value
    assert "NaN or infinite" in message
    assert "smaller learning rate" in message
    assert app.button(key="tp_play").disabled
    assert app.button(key="tp_step").disabled
    assert metric(app, "Epoch").startswith(str(last_good_epoch(trainer)))


def test_timeline_rewinds_every_chart(app):
    click(app, "tp_step_epoch", 3)
    assert timeline(app).value == 3
    timeline(app).set_value(1).run()
    trainer = trainer_of(app)
    assert not app.exception
    assert metric(app, "Epoch") == "1 of 3"
    assert metric(app, "Test accuracy") == f"{trainer.history[1].test_accuracy:.1%}"
    assert app.download_button(key="tp_export").proto.label.endswith("epoch 1")
    assert trainer.epoch == 3
    app.toggle(key="tp_show_test").set_value(False).run()
    assert metric(app, "Epoch") == "1 of 3"  # other options keep the rewind


def test_timeline_follows_after_step(app):
    click(app, "tp_step_epoch", 2)
    timeline(app).set_value(0).run()
    click(app, "tp_step_epoch")
    assert timeline(app).value == 3
    assert metric(app, "Epoch") == "3"


def test_query_params_seed_settings():
    app = AppTest.from_file(str(PAGE), default_timeout=60)
    app.query_params.update({"dataset": "moons", "hidden": "3,5,2", "lr": "0.3",
                             "features": "x1,x2,x1*x2", "optimizer": "sgd"})
    app.run()
    config = trainer_of(app).config
    assert not app.exception
    assert not app.warning
    assert config.dataset == "moons"
    assert config.hidden == [3, 5, 2]
    assert config.lr == 0.3
    assert config.features == ["x1", "x2", "x1*x2"]
    assert config.optimizer == "sgd"
    assert app.sidebar.slider(key="tp_neurons_2").value == 5


def test_bad_query_params_warn_and_keep_defaults():
    app = AppTest.from_file(str(PAGE), default_timeout=60)
    app.query_params.update({"lr": "fast", "hidden": "3,99", "noise": "0.2"})
    app.run()
    config = trainer_of(app).config
    warnings = " ".join(w.value for w in app.warning)
    assert not app.exception
    assert "lr='fast' was ignored" in warnings
    assert "hidden='3,99' was ignored" in warnings
    assert config.lr == TrainConfig().lr
    assert config.hidden == TrainConfig().hidden
    assert config.noise == 0.2


def test_settings_written_to_query_params(app):
    set_settings(app, activation="relu")
    assert app.query_params["activation"] == "relu"
    assert app.query_params["hidden"] == "4,4"


def test_import_round_trip_through_page(app):
    config = TrainConfig(dataset="moons", hidden=[5, 3], activation="relu",
                         features=["x1", "x2", "sin(x1)"], epochs=40)
    source = Trainer(config)
    source.train(5)
    data = export_network(config, source.network, source.epoch)
    upload(app, "tp_import_upload", "moons.json", data)
    trainer = trainer_of(app)
    assert not app.exception
    assert "saved after 5 epochs" in app.success[0].value
    assert trainer.config == config
    assert app.sidebar.slider(key="tp_depth").value == 2
    for (layer, key), (copy, _) in zip(source.network.parameters(),
                                       trainer.network.parameters(), strict=True):
        np.testing.assert_array_equal(layer.params[key], copy.params[key])


def test_bad_network_file_shows_error(app):
    click(app, "tp_step_epoch")
    document = json.loads(export_network(TrainConfig(), trainer_of(app).network, 1))
    document["parameters"].pop("dense1.W")
    upload(app, "tp_import_upload", "broken.json", json.dumps(document).encode())
    assert not app.exception
    assert "broken.json cannot be loaded" in app.error[0].value
    assert "missing ['dense1.W']" in app.error[0].value
    assert trainer_of(app).epoch == 1


def test_csv_upload_becomes_dataset(app):
    upload(app, "tp_csv_upload", "ring.csv", CSV)
    trainer = trainer_of(app)
    assert not app.exception
    assert trainer.config.dataset == "csv"
    assert len(trainer.data.X_train) + len(trainer.data.X_test) == 40


def test_bad_csv_shows_line_and_keeps_run(app):
    click(app, "tp_step_epoch")
    old = trainer_of(app)
    upload(app, "tp_csv_upload", "bad.csv", b"x1,x2,label\n0,1,0\n2,oops,1\n")
    assert not app.exception
    assert "line 3: x2 is not a number: 'oops'" in app.error[0].value
    assert trainer_of(app) is old
    assert app.sidebar.selectbox(key="tp_dataset").value == "circles"


def test_no_hidden_layer_is_explained(app):
    app.sidebar.slider(key="tp_depth").set_value(0).run()
    assert not app.exception
    assert trainer_of(app).config.hidden == []
    assert "no hidden layer" in app.info[0].value


def test_no_features_keeps_run(app):
    old = trainer_of(app)
    app.sidebar.multiselect(key="tp_features").set_value([]).run()
    assert not app.exception
    assert "features must be a non-empty choice" in app.error[0].value
    assert trainer_of(app) is old


def test_vanishing_comparison_draws_both(app):
    click(app, "tp_vanishing_run")
    trainers = app.session_state["tp_vanishing"]
    assert not app.exception
    assert chart_keys(app)[-2:] == ["tp_vanishing_sigmoid_chart",
                                    "tp_vanishing_relu_chart"]
    assert set(trainers) == {"sigmoid", "relu"}
    assert all(t.epoch == t.config.epochs for t in trainers.values())


def test_open_comparison_network(app):
    click(app, "tp_vanishing_run")
    click(app, "tp_open_sigmoid")
    config = trainer_of(app).config
    assert config.activation == "sigmoid"
    assert config.init == "small"
    assert config.hidden == [8] * 6


# The engine functions that the page calls.

def test_chunk_respects_wall_time():
    trainer = Trainer(TrainConfig(hidden=[16, 16], epochs=100_000))
    start = time.perf_counter()
    chunk = train_chunk(trainer, 0.05, epoch_budget=100_000)
    elapsed = time.perf_counter() - start
    assert chunk.batches == trainer.iteration
    assert chunk.epochs == trainer.epoch
    assert chunk.batches > 0
    assert elapsed < 0.5


def test_chunk_stops_at_budget():
    trainer = Trainer(TrainConfig())
    chunk = train_chunk(trainer, 10.0, epoch_budget=2)
    assert trainer.epoch == 2
    assert chunk.epochs == 2
    assert train_chunk(trainer, 10.0, epoch_budget=2).batches == 0


def test_chunk_stops_at_divergence():
    trainer = Trainer(replace(TrainConfig(), dataset="spirals", **DIVERGING))
    train_chunk(trainer, 10.0, epoch_budget=1000)
    assert trainer.diverged
    assert trainer.epoch < 1000


def test_network_after_divergence_is_last_good():
    trainer = Trainer(replace(TrainConfig(), **DIVERGING))
    trainer.train(50)
    network, epoch = network_at(trainer, trainer.epoch)
    assert epoch == last_good_epoch(trainer)
    assert all(np.all(np.isfinite(layer.params[key]))
               for layer, key in network.parameters())


def test_network_at_latest_is_live():
    trainer = Trainer(TrainConfig())
    trainer.train(2)
    assert network_at(trainer, 2) == (trainer.network, 2)
    assert network_at(trainer, 1)[1] == 1


def test_small_init_draws_small_weights():
    trainer = Trainer(TrainConfig(init="small", hidden=[16, 16]))
    W = trainer.network.layers[2].params["W"]  # (16, 16)
    assert W.dtype == np.float32
    assert abs(float(W.std()) - SMALL_STD) < 0.03


def test_layer_gradients_match_at_same_epoch():
    trainer = Trainer(TrainConfig(regularisation="l2", reg_rate=0.01))
    trainer.train(3)
    live = layer_statistics_at(trainer, trainer.network)
    restored = layer_statistics_at(trainer, trainer.restore(3))
    for name in live:
        np.testing.assert_allclose(live[name]["gradients"],
                                   restored[name]["gradients"], rtol=1e-5)


def test_csv_split_shuffles_sorted_rows():
    sorted_rows = b"".join(f"{i},{i},{int(i >= 20)}\n".encode() for i in range(40))
    data = csv_split(sorted_rows, 0.25, seed=0)
    assert len(data.X_test) == 10
    assert set(data.y_test) == {0, 1}


def test_csv_split_names_bad_line():
    with pytest.raises(CSVDataError, match="line 2"):
        csv_split(b"0,0,0\n1,1\n", 0.3, seed=0)


def test_fingerprint_ignores_epoch_budget():
    config = TrainConfig()
    assert run_fingerprint(config) == run_fingerprint(replace(config, epochs=9))
    assert run_fingerprint(config) != run_fingerprint(replace(config, lr=0.1))
    assert run_fingerprint(config, "a") != run_fingerprint(config, "b")


def test_query_round_trip():
    config = TrainConfig(dataset="spirals", hidden=[], features=["x1^2", "sin(x2)"],
                         lr=1e-5, reg_rate=0.003, regularisation="l1")
    settings, problems = settings_from_query(settings_to_query(config))
    assert problems == []
    assert replace(TrainConfig(), **settings) == config


@pytest.mark.parametrize("name, text, message", [
    ("lr", "0", "learning rate"),
    ("lr", "nan", "learning rate"),
    ("n_points", "5", "n_points must be from 20"),
    ("n_points", "many", "invalid literal"),
    ("dataset", "mnist", "unknown dataset"),
    ("features", "x3", "features must be"),
    ("features", "x1,x1", "features repeat"),
    ("hidden", "1,2,3,4,5,6,7", "hidden layers must number"),
    ("activation", "swish", "unknown activation"),
])
def test_query_rejects_bad_value(name, text, message):
    settings, problems = settings_from_query({name: text, "seed": "3"})
    assert settings == {"seed": 3}
    assert len(problems) == 1
    assert message in problems[0]


def test_query_skips_other_parameters():
    assert settings_from_query({"embed": "true"}) == ({}, [])


def test_check_settings_limits_imported_files():
    with pytest.raises(ValueError, match="epochs must be from 1"):
        check_settings(TrainConfig(epochs=LIMITS["epochs"][1] + 1))


def test_exported_file_loads_back():
    config = TrainConfig(hidden=[3])
    trainer = Trainer(config)
    trainer.train(2)
    loaded, network, epoch = import_network(
        export_network(config, trainer.network, 2))
    assert loaded == config
    assert epoch == 2
    np.testing.assert_array_equal(network.forward(trainer.X_test),
                                  trainer.network.forward(trainer.X_test))


def test_plane_covers_far_csv_points():
    data = csv_split(b"0,0,0\n4,-3,1\n1,1,0\n2,2,1\n", 0.5, seed=0)
    assert plane_extent(data) >= 4.0


def test_snapshot_bound_counts_every_parameter():
    trainer = Trainer(TrainConfig(hidden=[4, 4]))
    parameters = (2 * 4 + 4) + (4 * 4 + 4) + (4 + 1)
    assert snapshot_bytes_bound(trainer) == MAX_SNAPSHOTS * parameters * 4


def test_sigmoid_gradients_vanish_in_first_layer():
    trainers = train_comparison(
        {name: replace(config, epochs=10)
         for name, config in vanishing_configs().items()})
    sigmoid = median_gradient_norms(trainers["sigmoid"])
    relu = median_gradient_norms(trainers["relu"])
    assert sigmoid[0] < 1e-4 * sigmoid[-1]
    assert relu[0] > 1e-2 * relu[-1]
    assert sigmoid[0] < 1e-3 * relu[0]


def test_run_from_reloaded_code_restarts(app):
    click(app, "tp_step_epoch")

    class OldTrainer:  # like a Trainer whose module Streamlit has reloaded
        pass

    app.session_state["tp_trainer"] = OldTrainer()
    app.run()
    assert not app.exception
    assert "code changed" in app.info[0].value
    assert trainer_of(app).epoch == 0
