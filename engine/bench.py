"""Benchmarks of the engine against PyTorch on the same CPU, in one run.

Each case runs in a fresh Python process, so that its peak resident memory
(`ru_maxrss`) is its own. PyTorch is measured only when it is importable;
it is a development tool, never a requirement. Timings are medians over
`repeats` runs after warm-up runs. The printed ratios (ours / PyTorch's)
are what to compare across machines, not the absolute times.
"""

import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

TOY_SIZES = [2, 16, 16, 1]
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


def vgg_forward_numpy(repeats: int) -> float:
    """Time VGG16's forward pass on one 224x224 input, ours."""
    from engine.vgg import build_vgg

    network = build_vgg("vgg16")
    X = np.random.default_rng(0).standard_normal(VGG_INPUT, dtype=np.float32)
    return _median_time(lambda: network.forward(X), repeats)


def vgg_forward_torch(repeats: int) -> float:
    """Time torchvision-shaped VGG16's forward pass in PyTorch."""
    import torch

    from engine.vgg import layer_specs

    modules = []
    for spec in layer_specs("vgg16"):
        if spec.kind == "conv":
            modules.append(torch.nn.Conv2d(spec.shape[1], spec.shape[0], 3,
                                           padding=1))
        elif spec.kind == "dense":
            modules.append(torch.nn.Linear(spec.shape[1], spec.shape[0]))
        elif spec.kind == "relu":
            modules.append(torch.nn.ReLU(inplace=True))
        elif spec.kind == "pool":
            modules.append(torch.nn.MaxPool2d(2))
        else:
            modules.append(torch.nn.Flatten())
    model = torch.nn.Sequential(*modules).eval()
    X = torch.randn(VGG_INPUT)
    with torch.inference_mode():
        return _median_time(lambda: model(X), repeats)


CASES = {
    "toy_step": (toy_step_numpy, toy_step_torch),
    "vgg16_forward": (vgg_forward_numpy, vgg_forward_torch),
}


def _run_case(name: str, side: int, repeats: int, threads: int) -> None:
    """Measure one case in this process and print its JSON result."""
    if side == 1:
        import torch

        torch.set_num_threads(threads)
    seconds = CASES[name][side](repeats)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"seconds": seconds, "peak_bytes": peak}))


def _measure(name: str, side: int, repeats: int, threads: int) -> dict:
    code = ("import sys; from engine.bench import _run_case; "
            f"_run_case({name!r}, {side}, {repeats}, {threads})")
    env = dict(os.environ, OMP_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS=str(threads))
    result = subprocess.run([sys.executable, "-c", code], env=env,
                            capture_output=True, text=True, check=False,
                            cwd=os.path.dirname(os.path.dirname(__file__)))
    if result.returncode != 0:
        raise RuntimeError(f"benchmark {name} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


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
                   threads: int | None = None) -> dict[str, dict]:
    """Measure each case for the engine and, when importable, PyTorch."""
    threads = threads or os.cpu_count() or 1
    with_torch = torch_available()
    results = {}
    for name in names:
        ours = _measure(name, 0, repeats, threads)
        entry = {"threads": threads, "numpy_seconds": ours["seconds"],
                 "numpy_peak_bytes": ours["peak_bytes"]}
        if name == "vgg16_forward":
            entry["numpy_gflops"] = 2 * vgg16_macs() / ours["seconds"] / 1e9
        if with_torch:
            theirs = _measure(name, 1, repeats, threads)
            entry.update(torch_seconds=theirs["seconds"],
                         torch_peak_bytes=theirs["peak_bytes"],
                         time_ratio=ours["seconds"] / theirs["seconds"])
        results[name] = entry
    return results
