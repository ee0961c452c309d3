"""Benchmarks of the engine against PyTorch on the same CPU, in one run.

Each case runs in a fresh Python process, so that its peak resident memory
(VmHWM on Linux) is its own. PyTorch is measured only when it is importable;
it is a development tool, never a requirement. Timings are medians over
`repeats` runs after warm-up runs. The printed ratios (ours / PyTorch's)
are what to compare across machines, not the absolute times.
"""

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TOY_SIZES = [2, 16, 16, 1]
PINNED_BLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
TOY_POINTS = 500
VGG_INPUT = (1, 3, 224, 224)


def _median_time(run, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _toy_data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((TOY_POINTS, 2)).astype(np.float32)
    Y = (rng.random((TOY_POINTS, 1)) > 0.5).astype(np.float32)
    return X, Y


def toy_step_numpy(repeats: int) -> float:
    """Time one full-batch SGD step of a 2-16-16-1 tanh network, ours."""
    from engine.losses import BinaryCrossEntropyWithLogits
    from engine.network import build_mlp
    from engine.optim import SGD

    X, Y = _toy_data()
    network = build_mlp(TOY_SIZES, "tanh", "linear", dtype=np.float32)
    network.layers[0].input_grad = False
    loss, optimizer = BinaryCrossEntropyWithLogits(), SGD(0.1)

    # A training step needs dJ/dZ, not J itself, so the cost is skipped.
    def step():
        network.backward(loss.gradient(network.forward(X), Y))
        optimizer.step(network)

    # Each timed run is 100 steps, because one step is shorter than the
    # timer's useful resolution.
    return _median_time(lambda: [step() for _ in range(100)], repeats) / 100


def toy_step_torch(repeats: int) -> float:
    """Time the same step in PyTorch: zero_grad, forward, backward, step."""
    import torch

    X, Y = (torch.from_numpy(a) for a in _toy_data())
    layers = []
    for n_in, n_out in zip(TOY_SIZES[:-1], TOY_SIZES[1:]):
        layers += [torch.nn.Linear(n_in, n_out), torch.nn.Tanh()]
    model = torch.nn.Sequential(*layers[:-1])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss = torch.nn.BCEWithLogitsLoss()

    def step():
        optimizer.zero_grad()
        loss(model(X), Y).backward()
        optimizer.step()

    return _median_time(lambda: [step() for _ in range(100)], repeats) / 100


def _read_only_vgg16():
    """Build VGG16 with read-only weights, as the app's shared models are."""
    from engine.vgg import build_vgg

    network = build_vgg("vgg16")
    network.make_read_only()
    return network


def vgg_forward_numpy(repeats: int) -> float:
    """Time VGG16's forward pass on one 224x224 input, ours."""
    network = _read_only_vgg16()
    X = np.random.default_rng(0).standard_normal(VGG_INPUT, dtype=np.float32)
    return _median_time(lambda: network.forward(X), repeats)


def _torch_vgg16():
    """Build VGG16 in PyTorch laid out as torchvision's, in eval mode."""
    import torch
    from torch import nn

    from engine.vgg import CONFIGS, POOL

    config = CONFIGS["vgg16"]
    layers, channels = [], 3
    for item in config.channels:
        if item == POOL:
            layers.append(nn.MaxPool2d(2))
        else:
            layers += [nn.Conv2d(channels, item, 3, padding=1),
                       nn.ReLU(inplace=True)]
            channels = item
    model = nn.Module()
    model.features = nn.Sequential(*layers)
    model.classifier = nn.Sequential(
        nn.Linear(channels * config.feature_size ** 2, config.hidden),
        nn.ReLU(inplace=True), nn.Dropout(),
        nn.Linear(config.hidden, config.hidden), nn.ReLU(inplace=True),
        nn.Dropout(), nn.Linear(config.hidden, config.n_classes))
    model.forward = lambda X: model.classifier(
        torch.flatten(model.features(X), 1))
    return model.eval()


def vgg_forward_torch(repeats: int) -> float:
    """Time torchvision-shaped VGG16's forward pass in PyTorch."""
    import torch

    model = _torch_vgg16()
    X = torch.randn(VGG_INPUT)
    with torch.inference_mode():
        return _median_time(lambda: model(X), repeats)


def vgg_input_gradient_numpy(repeats: int) -> float:
    """Time VGG16's forward pass plus d(top score)/dX, parameters frozen."""
    from engine.saliency import input_gradient

    network = _read_only_vgg16()
    X = np.random.default_rng(0).standard_normal(VGG_INPUT, dtype=np.float32)
    return _median_time(lambda: input_gradient(network, X), repeats)


def vgg_input_gradient_torch(repeats: int) -> float:
    """The same in PyTorch, with `requires_grad` off for every parameter."""
    import torch

    model = _torch_vgg16()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    X = torch.randn(VGG_INPUT)

    def run():
        x = X.clone().requires_grad_(True)
        logits = model(x)
        logits[0, logits[0].argmax()].backward()

    return _median_time(run, repeats)


def _predict_file() -> str:
    """Write random VGG16 weights where both sides can read them.

    With PyTorch, a torchvision-style `.pth` state dict; without it, an
    npz of our own format.
    """
    import tempfile

    folder = tempfile.mkdtemp(prefix="nn-explainer-bench-")
    try:
        import torch
    except ImportError:
        from engine.vgg import he_weights, layer_specs
        from engine.weights import save_npz

        path = f"{folder}/vgg16.npz"
        save_npz(path, he_weights(layer_specs("vgg16")), "vgg16")
        return path
    path = f"{folder}/vgg16.pth"
    torch.save(_torch_vgg16().state_dict(), path)
    return path


def vgg_predict_numpy(repeats: int, path: str) -> float:
    """Time loading a weight file, preprocessing a photo and classifying it."""
    from engine.images import load_image
    from engine.pretrained import load_pretrained

    photo = (ROOT / "assets" / "samples" / "chelsea.png").read_bytes()

    def run():
        load_pretrained(path, "vgg16").classify(load_image(photo))

    return _median_time(run, repeats, warmup=0)


def vgg_predict_torch(repeats: int, path: str) -> float:
    """The same job in PyTorch: build, load the state dict, classify."""
    import torch

    from engine.images import load_image, preprocess_imagenet

    photo = (ROOT / "assets" / "samples" / "chelsea.png").read_bytes()

    def run():
        model = _torch_vgg16()
        model.load_state_dict(torch.load(path, weights_only=True))
        X = torch.from_numpy(preprocess_imagenet(load_image(photo)).tensor)
        with torch.inference_mode():
            torch.softmax(model(X), 1).topk(5)

    return _median_time(run, repeats, warmup=0)


CASES = {
    "toy_step": (toy_step_numpy, toy_step_torch),
    "vgg16_forward": (vgg_forward_numpy, vgg_forward_torch),
    "vgg16_input_gradient": (vgg_input_gradient_numpy,
                             vgg_input_gradient_torch),
    "vgg16_predict": (vgg_predict_numpy, vgg_predict_torch),
}
# Cases that read a weight file, written once per run and shared by both.
FILE_CASES = {"vgg16_predict"}


def _run_case(name: str, side: int, repeats: int, threads: int,
              path: str | None = None) -> None:
    """Measure one case in this process and print its JSON result."""
    if side == 1:
        import torch

        torch.set_num_threads(threads)
    extra = (path,) if path is not None else ()
    seconds = CASES[name][side](repeats, *extra)
    peak = _peak_resident_bytes()
    print(json.dumps({"seconds": seconds, "peak_bytes": peak,
                      "blas_kernel": _blas_kernel()}))


def _peak_resident_bytes() -> int:
    """Return this process's peak resident memory.

    VmHWM starts afresh when a process execs, while `ru_maxrss` keeps the
    peak of the parent it was forked from, which here holds a whole VGG16.
    """
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _blas_kernel() -> str:
    """Return the CPU kernel OpenBLAS chose, when threadpoolctl can tell."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (install threadpoolctl to see it)"
    kernels = [info.get("architecture", "?") for info in threadpool_info()
               if info.get("internal_api") == "openblas"]
    return ", ".join(kernels) or "not OpenBLAS"


def _measure(name: str, side: int, repeats: int, threads: int,
             path: str | None = None) -> dict:
    code = ("from engine.bench import _run_case; "
            f"_run_case({name!r}, {side}, {repeats}, {threads}, {path!r})")
    env = dict(os.environ, OMP_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS=str(threads))
    # Some machines pin OpenBLAS to an older CPU kernel (for example
    # OPENBLAS_CORETYPE=Haswell on an AVX-512 CPU) to work around bugs of
    # old OpenBLAS builds. NumPy's current build does not need that, and
    # PyTorch ignores it, so both are dropped here for a like-for-like run.
    for name in PINNED_BLAS_VARIABLES:
        env.pop(name, None)
    result = subprocess.run([sys.executable, "-c", code], env=env,
                            capture_output=True, text=True, check=False,
                            cwd=ROOT)
    if result.returncode != 0:
        raise RuntimeError(f"benchmark {name} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _summary(name: str, pairs: list[tuple[dict, dict | None]],
             threads: int) -> dict:
    """Combine the rounds of one case: medians of times and peaks."""
    ours = [pair[0] for pair in pairs]
    seconds = statistics.median(run["seconds"] for run in ours)
    entry = {"threads": threads, "rounds": len(pairs),
             "numpy_seconds": seconds,
             "numpy_peak_bytes": max(run["peak_bytes"] for run in ours),
             "blas_kernel": ours[0]["blas_kernel"]}
    if name == "vgg16_forward":
        entry["numpy_gflops"] = 2 * vgg16_macs() / seconds / 1e9
    if pairs[0][1] is None:
        return entry
    theirs = [pair[1] for pair in pairs]
    ratios = [a["seconds"] / b["seconds"] for a, b in zip(ours, theirs)]
    entry.update(
        torch_seconds=statistics.median(run["seconds"] for run in theirs),
        torch_peak_bytes=max(run["peak_bytes"] for run in theirs),
        time_ratio=statistics.median(ratios), time_ratios=ratios)
    return entry


def vgg16_macs() -> int:
    """Count the multiply-adds of one 224x224 VGG16 forward pass."""
    from engine.vgg import config_table

    return sum(row.macs for row in config_table("vgg16"))


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def run_benchmarks(names: list[str], repeats: int,
                   threads: int | None = None,
                   rounds: int = 1) -> dict[str, dict]:
    """Measure each case for the engine and, when importable, PyTorch.

    With several `rounds`, the two sides take turns and each round gives
    one ratio. The median of those ratios is reported, so a load that comes
    and goes on the machine moves it less than it moves one pair of runs.
    """
    threads = threads or os.cpu_count() or 1
    with_torch = torch_available()
    path = _predict_file() if FILE_CASES & set(names) else None
    results = {}
    for name in names:
        case_path = path if name in FILE_CASES else None
        case_repeats = min(repeats, 3) if case_path else repeats
        pairs = []
        for _ in range(rounds):
            ours = _measure(name, 0, case_repeats, threads, case_path)
            theirs = (_measure(name, 1, case_repeats, threads, case_path)
                      if with_torch else None)
            pairs.append((ours, theirs))
        results[name] = _summary(name, pairs, threads)
    if path is not None:
        shutil.rmtree(os.path.dirname(path), ignore_errors=True)
    return results
