"""The benchmark command: its rounds, ratios and output."""

import json

import pytest

from engine.bench import _summary
from engine.cli import main


def _run(seconds: float) -> dict:
    return {"seconds": seconds, "peak_bytes": 100, "blas_kernel": "test"}


def test_summary_takes_median_of_round_ratios():
    pairs = [(_run(1.0), _run(2.0)), (_run(3.0), _run(2.0)),
             (_run(1.2), _run(1.0))]
    entry = _summary("toy_step", pairs, threads=2)
    assert entry["time_ratios"] == [0.5, 1.5, 1.2]
    assert entry["time_ratio"] == 1.2
    assert entry["numpy_seconds"] == 1.2
    assert entry["torch_seconds"] == 2.0
    assert entry["rounds"] == 3


def test_summary_without_torch_has_no_ratio():
    entry = _summary("toy_step", [(_run(1.0), None)], threads=1)
    assert "time_ratio" not in entry
    assert entry["numpy_seconds"] == 1.0


def test_toy_step_bench_json(capsys):
    assert main(["bench", "--only", "toy_step", "--repeats", "1",
                 "--rounds", "2", "--json"]) == 0
    entry = json.loads(capsys.readouterr().out)["toy_step"]
    assert entry["rounds"] == 2
    assert entry["numpy_seconds"] > 0


def test_bench_takes_three_rounds_by_default(capsys):
    assert main(["bench", "--only", "toy_step", "--repeats", "1",
                 "--json"]) == 0
    entry = json.loads(capsys.readouterr().out)["toy_step"]
    assert entry["rounds"] == 3


@pytest.mark.parametrize("option", ["--rounds", "--repeats"])
def test_bench_rejects_zero(capsys, option):
    assert main(["bench", "--only", "toy_step", option, "0"]) == 2
    assert f"{option} must be >= 1" in capsys.readouterr().err
