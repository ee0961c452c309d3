"""The command line: output formats and one-line errors with status 2."""

import json
import subprocess
import sys

import pytest

from engine.cli import main


def test_train_json(capsys):
    status = main(["train", "--dataset", "spiral", "--hidden", "8,8",
                   "--activation", "tanh", "--optimizer", "adam", "--lr",
                   "0.03", "--epochs", "20", "--seed", "0", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert status == 0
    assert set(result) >= {"train_loss", "test_loss", "train_accuracy",
                           "test_accuracy", "settings"}
    assert result["settings"]["dataset"] == "spirals"
    assert result["settings"]["hidden"] == [8, 8]


def test_gradcheck_json(capsys):
    assert main(["gradcheck", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] == []
    assert "adam step" in result["errors"]
    assert "conv 3x3 s1 p1" in result["errors"]


@pytest.mark.parametrize("args, message", [
    (["train", "--hidden", "8,x"], "--hidden must be comma-separated"),
    (["train", "--lr", "0"], "learning rate must be a positive number"),
    (["train", "--dataset", "mnist"], "unknown dataset 'mnist'"),
    (["train", "--hidden", "8,8,8,8,8,8,8"], "hidden layers must number"),
    (["train", "--features", "x3"], "features must be"),
])
def test_bad_arguments_one_line_status_2(capsys, args, message):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1


def test_module_entry_point_usage_error():
    result = subprocess.run([sys.executable, "-m", "engine", "train",
                             "--epochs", "many"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "invalid int value" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["train", "--seed", "-1"], "seed must be >= 0"),
    (["train", "--epochs", "999999999"], "epochs must be between 0 and"),
    (["predict", "/nonexistent.jpg"], "/nonexistent.jpg: No such file"),
])
def test_more_bad_arguments(capsys, args, message):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Errno" not in err
