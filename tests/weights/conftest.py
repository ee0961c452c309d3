"""Shared fixtures: the small VGG-like network and a local HTTP server."""

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

import engine.vgg
from engine.vgg import LayerSpec

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "weights"
TINY_CONFIG = "vggtiny"

# The layers of TinyVGG in tests/fixtures/make_weights.py: torchvision's
# module layout with small shapes, for an 8x8 input.
TINY_SPECS = [
    LayerSpec("conv1_1", "conv", (4, 3, 3, 3)),
    LayerSpec("relu1_1", "relu"),
    LayerSpec("pool1", "pool"),
    LayerSpec("conv2_1", "conv", (6, 4, 3, 3)),
    LayerSpec("relu2_1", "relu"),
    LayerSpec("conv2_2", "conv", (6, 6, 3, 3)),
    LayerSpec("relu2_2", "relu"),
    LayerSpec("pool2", "pool"),
    LayerSpec("flatten", "flatten"),
    LayerSpec("fc6", "dense", (10, 24)),
    LayerSpec("relu6", "relu"),
    LayerSpec("fc7", "dense", (10, 10)),
    LayerSpec("relu7", "relu"),
    LayerSpec("fc8", "dense", (5, 10)),
]
# torchvision's keys in TinyVGG's state dict, by our names.
TINY_TORCH_KEYS = {
    "conv1_1": "features.0", "conv2_1": "features.3", "conv2_2": "features.5",
    "fc6": "classifier.0", "fc7": "classifier.3", "fc8": "classifier.6",
}


def read_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as npz:
        return {key: npz[key] for key in npz.files}


@pytest.fixture
def tiny_expected() -> dict[str, np.ndarray]:
    """TinyVGG's weights as PyTorch saved them, by our names."""
    arrays = read_npz(FIXTURES / "tiny_expected.npz")
    return {f"{ours}.{parameter}": arrays[f"{theirs}.{parameter}"]
            for ours, theirs in TINY_TORCH_KEYS.items()
            for parameter in ("weight", "bias")}


@pytest.fixture
def tiny_config(monkeypatch: pytest.MonkeyPatch) -> str:
    """Make `layer_specs(TINY_CONFIG)` return TINY_SPECS, so that code
    which takes only a configuration name runs on the small fixtures."""
    pool = engine.vgg.POOL
    tiny = engine.vgg.VGGConfig((4, pool, 6, 6, pool), hidden=10,
                                n_classes=5, input_size=8)
    monkeypatch.setitem(engine.vgg.CONFIGS, TINY_CONFIG, tiny)
    return TINY_CONFIG


class RangeHandler(BaseHTTPRequestHandler):
    """Serve the server's files, with HTTP Range requests of `bytes=N-`."""

    server: "FileServer"

    def do_GET(self) -> None:
        body = self.server.files.get(self.path.lstrip("/"))
        if body is None:
            self.send_error(404)
            return
        requested = self.headers.get("Range")
        self.server.ranges.append(requested)
        start = 0
        if requested and self.server.honor_range:
            start = int(re.fullmatch(r"bytes=(\d+)-", requested).group(1))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range",
                             f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        payload = body[start:]
        if self.server.cuts:
            # Send only the first bytes, then close: a dropped connection.
            payload = payload[:self.server.cuts.pop(0)]
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output clean


class FileServer(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 that serves `files` by name."""

    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), RangeHandler)
        self.files: dict[str, bytes] = {}
        self.cuts: list[int] = []  # byte counts at which responses stop
        self.honor_range = True
        self.ranges: list[str | None] = []  # Range header of each request

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.server_port}/{name}"


@pytest.fixture
def file_server():
    server = FileServer()
    thread = threading.Thread(target=server.serve_forever,
                              kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
