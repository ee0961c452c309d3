"""`python -m engine weights fetch | info | convert`, run in-process."""

import io
import subprocess
import sys

import pytest

from engine.cli import USAGE_ERROR, main
from engine.cli_weights import ProgressBar
from engine.weights import TORCHVISION_URLS, load_weights
from tests.weights.conftest import FIXTURES

TIMEOUT_SECONDS = 60


def test_info_lists_layers(tiny_config, capsys):
    assert main(["weights", "info", str(FIXTURES / "tiny_legacy.pth")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == ("format: PyTorch, legacy serialization (before "
                        "PyTorch 1.6)")
    assert lines[2] == "stored dtype: float32"
    assert lines[3] == f"config: {tiny_config}"
    assert lines[6].split() == ["conv1_1", "(4,", "3,", "3,", "3)", "(4,)",
                                "112"]
    assert lines[-1] == "total parameters: 1,079"


def test_convert_then_info(tiny_config, tmp_path, capsys):
    destination = tmp_path / "tiny.npz"
    assert main(["weights", "convert", str(FIXTURES / "tiny_zip.pth"),
                 str(destination), "--float16"]) == 0
    output = capsys.readouterr().out
    assert output.startswith(f"wrote {destination}: {tiny_config}, float16")
    assert main(["weights", "info", str(destination)]) == 0
    output = capsys.readouterr().out
    assert ("format: NumPy npz, this project's format, converted from "
            "PyTorch, zip serialization") in output
    assert "stored dtype: float16" in output


@pytest.mark.parametrize("name, plain, detail", [
    ("hostile_os_system_legacy.pth", "This .pth file contains code to run",
     "rejected global os.system"),
    ("tiny_zip.pth", "The weights in this file do not fit",
     "weight file does not fit vgg16"),
])
def test_info_errors_exit_2(name, plain, detail, capsys):
    status = main(["weights", "info", str(FIXTURES / name), "--config",
                   "vgg16"])
    assert status == USAGE_ERROR
    error = capsys.readouterr().err
    assert error.startswith(f"error: {FIXTURES / name}: {plain}")
    assert f"Detail: {detail}" in error
    assert error.count("\n") == 1


def test_fetch_with_progress(tiny_config, tmp_path, file_server, capsys,
                             monkeypatch):
    (path,) = FIXTURES.glob("tinyvgg-*.pth")
    file_server.files[path.name] = path.read_bytes()
    monkeypatch.setitem(TORCHVISION_URLS, tiny_config,
                        file_server.url(path.name))
    file_server.cuts = [1000]
    assert main(["weights", "fetch", tiny_config, "--cache-dir",
                 str(tmp_path)]) == 0
    captured = capsys.readouterr()
    cached = tmp_path / (path.stem + ".npz")
    assert captured.out == f"saved {tiny_config} weights to {cached}\n"
    assert "100%" in captured.err
    assert load_weights(cached).config == tiny_config

    assert main(["weights", "fetch", tiny_config, "--cache-dir",
                 str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith(f"already cached: {cached}")


def test_fetch_bad_checksum_exit_2(tmp_path, file_server, capsys):
    (path,) = FIXTURES.glob("tinyvgg-*.pth")
    file_server.files["vgg16-397923af.pth"] = path.read_bytes()
    status = main(["weights", "fetch", "vgg16", "--url",
                   file_server.url("vgg16-397923af.pth"), "--cache-dir",
                   str(tmp_path)])
    assert status == USAGE_ERROR
    error = capsys.readouterr().err
    assert "but its name expects 397923af; deleted" in error
    assert list(tmp_path.iterdir()) == []


def test_progress_bar_text():
    stream = io.StringIO()
    bar = ProgressBar(stream)
    bar(0, 2_000_000)
    bar(1_000_000, 2_000_000)
    bar(1_000_000, 2_000_000)  # unchanged: not redrawn
    bar.close()
    frames = stream.getvalue().split("\r")[1:]
    assert len(frames) == 2
    assert frames[1] == f"[{'#' * 15}{'.' * 15}]  50%  1.0 of 2.0 MB\n"


def test_progress_bar_unknown_total():
    stream = io.StringIO()
    ProgressBar(stream)(1_500_000, None)
    assert stream.getvalue() == "\r1.5 MB"


def test_module_entry_point():
    # The real command line, in a fresh interpreter, with a usage error.
    result = subprocess.run(
        [sys.executable, "-m", "engine", "weights", "info",
         str(FIXTURES / "hostile_eval_zip.pth")],
        capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False)
    assert result.returncode == USAGE_ERROR
    assert "rejected global builtins.eval" in result.stderr
