"""Training playground: watch a small network learn, gradient by gradient."""

import hashlib
import time
from dataclasses import replace

import streamlit as st

import allocator
from engine.datasets import MAX_CSV_BYTES, MAX_CSV_ROWS, CSVDataError, read_csv
from engine.export import MAX_FILE_BYTES, export_network, import_network
from engine.layers import ACTIVATIONS
from engine.network import INITIALISATIONS, Sequential
from engine.optim import OPTIMIZERS
from engine.plane import evaluate_plane
from engine.playground import (
    CSV_DATASET,
    DATA_SOURCES,
    LIMITS,
    VANISHING_EPOCHS,
    batches_into_epoch,
    check_settings,
    csv_split,
    gradient_norms,
    iteration_at,
    iterations_per_epoch,
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
from engine.training import (
    MAX_HIDDEN_LAYERS,
    MAX_NEURONS,
    MAX_SNAPSHOTS,
    REGULARISATIONS,
    TrainConfig,
    Trainer,
)
from figures.training import (
    NEURON_RESOLUTION,
    decision_boundary_figure,
    gradient_flow_figure,
    histogram_figure,
    history_figure,
    neuron_grid_figure,
    shared_log_range,
)

# While playing, each redraw of the live view is followed by a chunk of
# training of CHUNK_SECONDS, or as long as the redraw took, up to
# MAX_CHUNK_SECONDS so that Pause still takes effect within about a second.
# NOTE: Streamlit sends redraws without waiting for the browser. A browser
# that paints slower than one redraw per REDRAW_SECONDS falls behind, and
# its charts keep catching up for a while after Pause. Headless Chromium on
# a busy 2-core machine took 0.4 s per redraw for 2 hidden layers of 4 and
# 1.6 s for 6 layers of 16.
CHUNK_SECONDS = 0.25
MAX_CHUNK_SECONDS = 0.5
REDRAW_SECONDS = 0.5
LEARNING_RATES = (1e-5, 3e-5, 1e-4, 3e-4, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3,
                  1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)
REG_RATES = (0.0, 1e-4, 3e-4, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
DEFAULT_NEURONS = 4
CHART_CONFIG = {"displayModeBar": False}
DATASET_TITLES = {"circles": "Circles", "xor": "XOR", "blobs": "Two blobs",
                  "spirals": "Spirals", "moons": "Moons",
                  CSV_DATASET: "Your CSV file"}
FEATURE_TITLES = {"x1": "x₁", "x2": "x₂", "x1^2": "x₁²", "x2^2": "x₂²",
                  "x1*x2": "x₁·x₂", "sin(x1)": "sin x₁", "sin(x2)": "sin x₂"}
INIT_TITLES = {"he": "He", "xavier": "Xavier (Glorot)",
               "small": "Small random (σ = 0.1)"}
REG_TITLES = {"none": "None", "l1": "L1", "l2": "L2"}
OPTIMIZER_TITLES = {"sgd": "SGD", "momentum": "SGD with momentum (μ = 0.9)",
                    "adam": "Adam"}

# Widget keys of the settings, by TrainConfig field. `hidden` has a depth
# slider and one slider per layer instead.
SETTING_KEYS = {
    "dataset": "tp_dataset", "n_points": "tp_n_points", "noise": "tp_noise",
    "test_fraction": "tp_test_fraction", "seed": "tp_seed",
    "activation": "tp_activation", "features": "tp_features",
    "init": "tp_init", "regularisation": "tp_regularisation",
    "reg_rate": "tp_reg_rate", "optimizer": "tp_optimizer", "lr": "tp_lr",
    "batch_size": "tp_batch_size", "epochs": "tp_epochs",
}
INTEGER_SETTINGS = ("n_points", "seed", "batch_size", "epochs")
DEPTH_KEY = "tp_depth"
CSV_UPLOAD = "tp_csv_upload"
IMPORT_UPLOAD = "tp_import_upload"

# Session state of the run.
TRAINER = "tp_trainer"
FINGERPRINT = "tp_fingerprint"  # run_fingerprint of the trainer's run
PLAYING = "tp_playing"
PLAY_START = "tp_play_start"  # (time.perf_counter(), epoch) at Play
CSV_DATA = "tp_csv_data"  # (file name, SHA-256 digest, bytes) of valid CSV
NOTICES = "tp_notices"  # (st function name, message) to show once
SEEDED = "tp_seeded"  # the URL's settings were read
VANISHING = "tp_vanishing"  # trainers of the vanishing-gradient comparison


def neuron_key(l: int) -> str:
    return f"tp_neurons_{l}"


def notify(kind: str, message: str) -> None:
    """Keep a message from a callback for the next run to show."""
    st.session_state.setdefault(NOTICES, []).append((kind, message))


def show_notices() -> None:
    for kind, message in st.session_state.pop(NOTICES, []):
        getattr(st, kind)(message)


def drop_stale_runs() -> None:
    """Forget runs built by code that Streamlit has since reloaded.

    When a source file changes, `streamlit run` re-imports the app's
    modules on the next run, so a stored trainer's objects no longer pass
    `isinstance` checks against the new classes. The settings stay in the
    widgets, so the run is rebuilt from epoch 0.
    """
    trainer = st.session_state.get(TRAINER)
    if trainer is None or isinstance(trainer, Trainer):
        return
    for key in (TRAINER, FINGERPRINT, VANISHING):
        st.session_state.pop(key, None)
    st.session_state[PLAYING] = False
    st.info("The app's code changed while this page was open, so the run "
            "restarted from epoch 0.")


def seed_widgets(config: TrainConfig, overwrite: bool) -> None:
    """Put a configuration into the settings widgets' session state.

    Without `overwrite`, only widgets that have no state get a value, as
    after a visit to another page, which drops the state of this page's
    widgets.
    """
    values = config.to_dict()
    hidden = values.pop("hidden")
    values[DEPTH_KEY] = len(hidden)
    for l in range(1, MAX_HIDDEN_LAYERS + 1):
        values[neuron_key(l)] = hidden[l - 1] if l <= len(hidden) else DEFAULT_NEURONS
    for name, value in values.items():
        key = SETTING_KEYS.get(name, name)
        if overwrite or key not in st.session_state:
            st.session_state[key] = value


def seed_from_url() -> None:
    """Read the settings from the URL once per session, warning about bad ones."""
    if st.session_state.get(SEEDED):
        return
    st.session_state[SEEDED] = True
    settings, problems = settings_from_query(st.query_params.to_dict())
    for problem in problems:
        notify("warning", f"The link's setting {problem}.")
    seed_widgets(replace(TrainConfig(), **settings), overwrite=True)


def with_choice(options: tuple[float, ...], value: float) -> list[float]:
    """Return the options with `value` added, for settings from a file or a link."""
    return sorted({*options, float(value)})


def upload_megabytes(limit_bytes: int) -> int:
    """Return an upload limit in whole megabytes that admits `limit_bytes`.

    The engine rejects larger files with a message; this limit only stops
    the browser from sending files far beyond it.
    """
    return max(1, -(-limit_bytes // 1_000_000))


def data_controls() -> None:
    st.sidebar.header("Data")
    dataset = st.sidebar.selectbox(
        "Dataset", DATA_SOURCES, format_func=DATASET_TITLES.get,
        key=SETTING_KEYS["dataset"])
    st.sidebar.file_uploader(
        "Your CSV file", type=["csv"], key=CSV_UPLOAD, on_change=read_uploaded_csv,
        max_upload_size=upload_megabytes(MAX_CSV_BYTES),
        help=f"Rows of x1, x2 and a label of 0 or 1, at most {MAX_CSV_ROWS:,} "
             "rows. A header line is allowed. Uploading a valid file selects it "
             "as the dataset.")
    is_csv = dataset == CSV_DATASET
    st.sidebar.slider(
        "Number of points", *LIMITS["n_points"], step=10,
        key=SETTING_KEYS["n_points"], disabled=is_csv,
        help="Points generated, half of each class. Not used for CSV data.")
    st.sidebar.slider(
        "Noise", *LIMITS["noise"], step=0.01, key=SETTING_KEYS["noise"],
        disabled=is_csv,
        help="Standard deviation of the Gaussian noise added to each "
             "coordinate. Not used for CSV data.")
    st.sidebar.slider(
        "Share of points held out for testing", *LIMITS["test_fraction"],
        step=0.05, key=SETTING_KEYS["test_fraction"])
    st.sidebar.number_input(
        "Seed", *LIMITS["seed"], key=SETTING_KEYS["seed"],
        help="Seeds the data, the split, the initial weights and the order "
             "of the batches, so equal settings give equal runs.")


def read_uploaded_csv() -> None:
    """Check an uploaded CSV file and, if it is valid, make it the dataset."""
    upload = st.session_state.get(CSV_UPLOAD)
    dataset_key = SETTING_KEYS["dataset"]
    if upload is None:
        if st.session_state.get(dataset_key) == CSV_DATASET:
            st.session_state[dataset_key] = TrainConfig().dataset
        st.session_state.pop(CSV_DATA, None)
        return
    data = upload.getvalue()
    try:
        read_csv(data)
    except CSVDataError as error:
        notify("error", f"The CSV file {upload.name} cannot be used: {error}. "
                        "The data and the run on show are unchanged.")
        return
    digest = hashlib.sha256(data).hexdigest()
    st.session_state[CSV_DATA] = (upload.name, digest, data)
    st.session_state[dataset_key] = CSV_DATASET


def network_controls() -> None:
    st.sidebar.header("Network")
    depth = st.sidebar.slider("Hidden layers", 0, MAX_HIDDEN_LAYERS, key=DEPTH_KEY)
    for l in range(1, depth + 1):
        st.sidebar.slider(f"Neurons in hidden layer {l}", 1, MAX_NEURONS,
                          key=neuron_key(l))
    st.sidebar.selectbox(
        "Activation of the hidden layers", list(ACTIVATIONS),
        format_func=lambda key: ACTIVATIONS[key].title,
        key=SETTING_KEYS["activation"],
        help="The output layer always ends in a sigmoid: P(class 1).")
    st.sidebar.multiselect(
        "Input features", list(FEATURE_TITLES), format_func=FEATURE_TITLES.get,
        key=SETTING_KEYS["features"],
        help="What the first layer receives, computed from each point "
             "(x₁, x₂).")
    st.sidebar.selectbox(
        "Weight initialisation", INITIALISATIONS, format_func=INIT_TITLES.get,
        key=SETTING_KEYS["init"],
        help="He: σ = √(2 / fan-in), made for ReLU. Xavier: σ = √(2 / (fan-in "
             "+ fan-out)), made for tanh and sigmoid. Biases start at 0.1.")
    regularisation = st.sidebar.selectbox(
        "Regularisation", REGULARISATIONS, format_func=REG_TITLES.get,
        key=SETTING_KEYS["regularisation"],
        help="Adds λ Σ|W| (L1) or λ/2 Σ W² (L2) over all weights to the cost.")
    rate_key = SETTING_KEYS["reg_rate"]
    st.sidebar.select_slider(
        "Regularisation rate λ",
        with_choice(REG_RATES, st.session_state[rate_key]),
        format_func=lambda rate: f"{rate:g}", key=rate_key,
        disabled=regularisation == "none")


def training_controls() -> None:
    st.sidebar.header("Training")
    st.sidebar.selectbox(
        "Optimizer", OPTIMIZERS, format_func=OPTIMIZER_TITLES.get,
        key=SETTING_KEYS["optimizer"])
    lr_key = SETTING_KEYS["lr"]
    st.sidebar.select_slider(
        "Learning rate α", with_choice(LEARNING_RATES, st.session_state[lr_key]),
        format_func=lambda rate: f"{rate:g}", key=lr_key)
    st.sidebar.number_input(
        "Batch size", *LIMITS["batch_size"], key=SETTING_KEYS["batch_size"],
        help="Training points per step. Each epoch shuffles the training set "
             "and steps through it once; the last batch may be smaller.")
    st.sidebar.number_input(
        "Epoch budget", *LIMITS["epochs"], step=100, key=SETTING_KEYS["epochs"],
        help="Play stops after this many epochs. Changing it keeps the run.")


def import_controls() -> None:
    st.sidebar.header("Load a network")
    st.sidebar.file_uploader(
        "Network file (JSON)", type=["json"], key=IMPORT_UPLOAD,
        max_upload_size=upload_megabytes(MAX_FILE_BYTES),
        on_change=import_uploaded_network,
        help="A file saved with “Download the network” on this page. Its "
             "settings replace the ones above and its parameters become "
             "epoch 0 of a new run.")


def import_uploaded_network() -> None:
    """Start a run from an uploaded network file and show its settings."""
    upload = st.session_state.get(IMPORT_UPLOAD)
    if upload is None:
        return
    try:
        config, network, epoch = import_network(upload.getvalue())
        check_settings(config)
    except ValueError as error:  # NetworkFileError is a ValueError
        notify("error", f"The network file {upload.name} cannot be loaded: "
                        f"{error}")
        return
    data, digest = None, ""
    if config.dataset == CSV_DATASET:
        if CSV_DATA not in st.session_state:
            notify("error", f"{upload.name} was trained on CSV data. Upload "
                            "that CSV file first, then load the network again.")
            return
        _, digest, raw = st.session_state[CSV_DATA]
        data = csv_split(raw, config.test_fraction, config.seed)
    start_run(Trainer(config, data, network), run_fingerprint(config, digest))
    seed_widgets(config, overwrite=True)
    notify("success", f"Loaded {upload.name}, saved after {epoch} epochs. Its "
                      "parameters are epoch 0 of this run.")


def config_from_widgets() -> TrainConfig:
    """Build the configuration that the settings widgets describe."""
    state = st.session_state
    values = {name: state[key] for name, key in SETTING_KEYS.items()}
    for name in INTEGER_SETTINGS:
        values[name] = int(values[name])
    values["features"] = list(values["features"])
    values["hidden"] = [int(state[neuron_key(l)])
                        for l in range(1, state[DEPTH_KEY] + 1)]
    return TrainConfig(**values)


def start_run(trainer: Trainer, fingerprint: dict) -> None:
    st.session_state[TRAINER] = trainer
    st.session_state[FINGERPRINT] = fingerprint
    st.session_state[PLAYING] = False


def update_run(config: TrainConfig) -> None:
    """Start a new run when a setting that defines the run has changed.

    Shows an error and keeps the current run when the settings are invalid
    or the CSV data is missing.
    """
    try:
        check_settings(config)
    except ValueError as error:
        st.error(f"These settings cannot be trained: {error}. The run on show "
                 "is unchanged.")
        return
    data, digest = None, ""
    if config.dataset == CSV_DATASET:
        if CSV_DATA not in st.session_state:
            st.info("Upload a CSV file in the sidebar to train on your own "
                    "data. Until then the run on show is unchanged.")
            return
        _, digest, raw = st.session_state[CSV_DATA]
        data = csv_split(raw, config.test_fraction, config.seed)
    fingerprint = run_fingerprint(config, digest)
    if st.session_state.get(FINGERPRINT) != fingerprint:
        start_run(Trainer(config, data), fingerprint)
    # Only this page's settings are written, so other parameters stay.
    query = settings_to_query(config)
    if any(st.query_params.get(name) != value for name, value in query.items()):
        st.query_params.update(query)


def epoch_budget() -> int:
    return int(st.session_state[SETTING_KEYS["epochs"]])


def is_finished(trainer: Trainer) -> bool:
    return trainer.diverged or trainer.epoch >= epoch_budget()


def play() -> None:
    st.session_state[PLAYING] = True
    st.session_state[PLAY_START] = (time.perf_counter(),
                                    st.session_state[TRAINER].epoch)


def pause() -> None:
    st.session_state[PLAYING] = False


def step(whole_epoch: bool) -> None:
    trainer = st.session_state[TRAINER]
    if whole_epoch:
        trainer.step_epoch()
    else:
        trainer.step_batch()
    st.session_state[PLAYING] = False


def reset() -> None:
    """Go back to epoch 0 of the same run: same data, weights and batches."""
    trainer = st.session_state[TRAINER]
    fresh = Trainer(trainer.config, trainer.data, trainer.restore(0))
    start_run(fresh, st.session_state[FINGERPRINT])


def control_buttons(trainer: Trainer) -> None:
    playing = st.session_state[PLAYING]
    row = st.container(horizontal=True)
    row.button("Play", key="tp_play", icon=":material/play_arrow:", type="primary",
               on_click=play, disabled=playing or is_finished(trainer))
    row.button("Pause", key="tp_pause", icon=":material/pause:", on_click=pause,
               disabled=not playing)
    row.button("Step", key="tp_step", icon=":material/skip_next:", on_click=step,
               args=(False,), disabled=trainer.diverged,
               help="Train on one batch.")
    row.button("Step epoch", key="tp_step_epoch", icon=":material/fast_forward:",
               on_click=step, args=(True,), disabled=trainer.diverged,
               help="Train on the batches left in the current epoch.")
    row.button("Reset", key="tp_reset", icon=":material/restart_alt:",
               on_click=reset, help="Go back to epoch 0 of this run.")


def keep_charts_opaque() -> None:
    """Stop Streamlit from fading the live view's charts between redraws.

    Streamlit fades elements that a rerun has not redrawn within about half
    a second. While playing, the charts are redrawn continuously, and a
    browser slow to draw them would fade the lower ones on every redraw.
    NOTE: relies on the `data-stale` attribute of Streamlit 1.67's element
    containers; if that changes, the charts only fade again.
    """
    st.html("<style>[data-testid='stElementContainer'][data-stale='true'] "
            "{opacity: 1 !important;}</style>")


def live_view() -> None:
    """Draw the run at the epoch on show, then train a chunk while playing.

    Runs as a fragment, every REDRAW_SECONDS while playing. Training comes
    after drawing: Streamlit fades elements that a run has not redrawn
    after about half a second, so charts drawn behind a chunk would flicker.
    When training stops by itself, a full rerun updates the buttons and
    stops the timer.
    """
    trainer = st.session_state[TRAINER]
    draw_start = time.perf_counter()
    show_outcome(trainer)
    epoch = timeline(trainer)
    network, epoch = network_at(trainer, epoch)
    show_metrics(trainer, epoch)
    network_file = export_network(replace(trainer.config, epochs=epoch_budget()),
                                  network, epoch)
    # A callable keeps the file off Streamlit's media store until a click.
    # Bytes would be stored anew at every redraw while playing, and the
    # browser would ask for files that the next redraw has removed.
    st.download_button(
        f"Download the network at epoch {epoch}", lambda: network_file,
        file_name=f"network-epoch-{epoch}.json", mime="application/json",
        key="tp_export", on_click="ignore", icon=":material/download:",
        help="A JSON file with the settings and every weight and bias. Load "
             "it in the sidebar, or share it with the page's link.")
    rewound = epoch < trainer.epoch or trainer.diverged
    draw_plane_charts(trainer, network, epoch, rewound)
    draw_gradient_charts(trainer, network, epoch, rewound)
    draw_seconds = time.perf_counter() - draw_start

    if st.session_state[PLAYING]:
        # Train at least as long as the redraw took, so that training keeps
        # half the time or more when a large network is slow to draw.
        seconds = min(max(CHUNK_SECONDS, draw_seconds), MAX_CHUNK_SECONDS)
        train_chunk(trainer, seconds, epoch_budget())
        if is_finished(trainer):
            st.session_state[PLAYING] = False
            st.rerun(scope="app")


def show_outcome(trainer: Trainer) -> None:
    last = last_good_epoch(trainer)
    if trainer.diverged:
        st.error(
            f"**Training stopped: the cost became NaN or infinite after epoch "
            f"{last}.** The updates made the weights so large that the outputs "
            f"overflowed. The charts show epoch {last}, the last one with a "
            f"finite cost. Choose a smaller learning rate (α = "
            f"{trainer.config.lr:g} now) or Adam, whose steps stay close to α "
            "in size; either change starts a new run.")
    elif trainer.epoch >= epoch_budget():
        st.success(f"Reached the budget of {epoch_budget():,} epochs. Raise "
                   "the epoch budget in the sidebar to train on.")
    elif st.session_state[PLAYING]:
        started, first_epoch = st.session_state[PLAY_START]
        rate = (trainer.epoch - first_epoch) / (time.perf_counter() - started)
        st.caption(f"Training at about {rate:,.0f} epochs per second since "
                   "Play, charts included.")


def timeline(trainer: Trainer) -> int:
    """Draw the timeline and return the epoch to show, the latest unless rewound.

    While playing, a progress bar replaces the slider. The slider's key
    names the iteration, so any training makes a new slider at the latest
    epoch. Requests that the browser sent before it received the new slider
    carry the old key's value, which Streamlit then drops instead of taking
    it for a move to the past.
    """
    latest = last_good_epoch(trainer)
    if st.session_state[PLAYING]:
        budget = epoch_budget()
        st.progress(min(latest / budget, 1.0),
                    text=f"Epoch {latest:,} of {budget:,}. Pause to rewind.")
        return latest
    if latest == 0:
        st.caption("The timeline to rewind appears after the first epoch.")
        return 0
    epoch = st.slider(
        "Epoch on show", 0, latest, latest, key=f"tp_view_{trainer.iteration}",
        help="Move back to redraw every chart with the weights of an earlier "
             "epoch. Training again returns to the latest epoch.")
    megabytes = snapshot_bytes_bound(trainer) / 1e6
    st.caption(
        f"Rewinding uses a copy of the parameters from the end of each "
        f"epoch. A run keeps at most {MAX_SNAPSHOTS:,} copies, at most "
        f"{megabytes:.1f} MB for this network: past that, every other copy is "
        "dropped, and an epoch without one shows the nearest earlier copy.")
    return epoch


def show_metrics(trainer: Trainer, epoch: int) -> None:
    record = trainer.history[epoch]
    epoch_text, note = f"{epoch:,}", None
    if epoch < trainer.epoch:
        epoch_text += f" of {trainer.epoch:,}"
    elif batches_into_epoch(trainer):
        note = (f"The charts show the weights after {batches_into_epoch(trainer)} "
                "more batches; the costs are those at the end of the epoch.")
    columns = st.columns(5)
    columns[0].metric("Epoch", epoch_text, help=note)
    columns[1].metric("Training cost", f"{record.train_loss:.3g}")
    columns[2].metric("Test cost", f"{record.test_loss:.3g}")
    columns[3].metric("Training accuracy", f"{record.train_accuracy:.1%}")
    columns[4].metric("Test accuracy", f"{record.test_accuracy:.1%}")


def draw_plane_charts(trainer: Trainer, network: Sequential, epoch: int,
                      rewound: bool) -> None:
    features = trainer.config.features
    extent = plane_extent(trainer.data)
    left, right = st.columns(2, gap="large")
    with left:
        st.subheader("Decision boundary")
        st.markdown(
            "The colour is the network's P(class 1) at each point of the plane: "
            "blue towards 1, red towards 0, white at 0.5, where the black line "
            "is the decision boundary. Circles are the training points and "
            "triangles the test points. Look for test points on the wrong side.")
        show_test = st.toggle("Show test points", value=True, key="tp_show_test")
        plane = evaluate_plane(network, features, extent)
        st.plotly_chart(decision_boundary_figure(plane, trainer.data, show_test),
                        key="tp_boundary_chart", config=CHART_CONFIG)
    with right:
        st.subheader("Cost and accuracy")
        st.markdown(
            "The cross-entropy cost J (log scale) and the accuracy after each "
            "epoch, on the training set (solid) and on the held-out test set "
            "(dashed). A test cost that rises while the training cost falls "
            "is overfitting.")
        st.plotly_chart(history_figure(trainer.history, epoch if rewound else None),
                        key="tp_history_chart", config=CHART_CONFIG)

    st.subheader("What each hidden neuron computes")
    if not trainer.config.hidden:
        st.info("This network has no hidden layer: its output is one weighted "
                "sum of the features, so the boundary is a straight line in "
                "feature space.")
        return
    st.markdown(
        "Each picture is one hidden neuron's activation over the same square "
        "as the decision boundary, blue where it is positive and red where it "
        "is negative, each scaled to its own peak. A first-layer neuron "
        "changes along one direction of the features only, so with x₁ and x₂ "
        "as features it is a straight ramp; later layers combine the ramps "
        "into curved regions.")
    plane = evaluate_plane(network, features, extent, NEURON_RESOLUTION)
    st.plotly_chart(neuron_grid_figure(plane), key="tp_neuron_chart",
                    width="content", config=CHART_CONFIG)


def draw_gradient_charts(trainer: Trainer, network: Sequential, epoch: int,
                         rewound: bool) -> None:
    per_epoch = iterations_per_epoch(trainer)
    st.subheader("Gradient flow")
    st.markdown(
        "The norm ‖dW‖ of each layer's weight gradient at every iteration, on "
        "a log scale, as the optimizer received it. Backpropagation multiplies "
        "the gradient by each layer's weights and activation slopes on its way "
        "down, so the first layers' lines show whether it arrives: lines far "
        "below the others mean vanishing gradients, lines shooting up mean "
        "exploding ones, and a line that falls to nothing means dead units.")
    norms = gradient_norms(trainer)
    if not len(norms):
        st.caption("No gradients yet: press Step or Play.")
    st.plotly_chart(
        gradient_flow_figure(norms, per_epoch,
                             iteration_at(trainer, epoch) if rewound else None),
        key="tp_gradient_chart", config=CHART_CONFIG)

    st.subheader("Weights, activations and gradients by layer")
    st.markdown(
        f"Histograms at epoch {epoch}, one row per layer, over the whole "
        "training set; here dW is the gradient of the cost on all training "
        "points. Activations piled at a sigmoid's 0 and 1 or at tanh's ±1 are "
        "saturated and pass little gradient back; ReLU activations piled at 0 "
        "are dead.")
    st.plotly_chart(histogram_figure(layer_statistics_at(trainer, network)),
                    key="tp_histogram_chart", config=CHART_CONFIG)


def vanishing_section() -> None:
    configs = vanishing_configs()
    st.header("Vanishing gradients, side by side")
    st.markdown(
        f"Two networks of {len(configs['sigmoid'].hidden)} hidden layers of "
        f"{configs['sigmoid'].hidden[0]} neurons train with plain SGD on the "
        "circles. The first uses sigmoid activations and small random weights "
        "(σ = 0.1); the second ReLU with He initialisation. The sigmoid's "
        "slope is at most 0.25, and small weights shrink the gradient further "
        "at every layer on the way back, so look at the bottom of the left "
        "chart: the first layers' ‖dW‖ sit orders of magnitude below the "
        "output layer's, and those layers barely learn. On the right, every "
        "layer's gradient stays within one order of magnitude.")
    if st.button(f"Train both for {VANISHING_EPOCHS} epochs", key="tp_vanishing_run",
                 icon=":material/play_arrow:"):
        progress = st.progress(0.0, text="Training both networks…")
        st.session_state[VANISHING] = train_comparison(
            configs, lambda done: progress.progress(done))
        progress.empty()
    trainers = st.session_state.get(VANISHING)
    if trainers is None:
        return
    norms = {name: gradient_norms(trainer) for name, trainer in trainers.items()}
    y_range = shared_log_range(*norms.values())
    titles = {"sigmoid": "Sigmoid, small random weights", "relu": "ReLU, He"}
    for column, (name, trainer) in zip(st.columns(2), trainers.items(),
                                       strict=True):
        with column:
            st.plotly_chart(
                gradient_flow_figure(norms[name], iterations_per_epoch(trainer),
                                     y_range=y_range, title=titles[name]),
                key=f"tp_vanishing_{name}_chart", config=CHART_CONFIG)
            medians = median_gradient_norms(trainer)
            st.caption(
                f"Median ‖dW‖: {medians[0]:.1e} in layer 1, {medians[-1]:.1e} "
                f"in the output layer. Test accuracy after {trainer.epoch} "
                f"epochs: {trainer.history[-1].test_accuracy:.0%}.")
            st.button("Open in the playground above", key=f"tp_open_{name}",
                      on_click=seed_widgets, args=(trainer.config, True))


st.set_page_config(page_title="Training playground", layout="wide")
allocator.start_trimming()
st.title("Training playground")
st.markdown(
    "Train a small network on points in the plane and watch why it learns or "
    "fails to: the decision boundary, every hidden neuron, and the gradient "
    "that reaches each layer at every step. Choose the data and the network "
    "in the sidebar, then press Play, or Step through one batch at a time. "
    "Every epoch is kept, so you can rewind to any of them. Changing a "
    "setting of the data, the network or the optimizer starts a new run; "
    "the epoch budget and the chart options keep it.")

drop_stale_runs()
seed_from_url()
if TRAINER in st.session_state:
    seed_widgets(st.session_state[TRAINER].config, overwrite=False)
data_controls()
network_controls()
training_controls()
import_controls()
show_notices()
update_run(config_from_widgets())
if TRAINER not in st.session_state:
    st.stop()

trainer = st.session_state[TRAINER]
control_buttons(trainer)
if st.session_state[PLAYING]:
    keep_charts_opaque()
redraw_every = REDRAW_SECONDS if st.session_state[PLAYING] else None
st.fragment(live_view, run_every=redraw_every)()
vanishing_section()
