"""Files whose pickles would run code are rejected before anything runs.

Each payload in tests/fixtures/weights/hostile_*.pth creates PAYLOAD_MARKER
in the working directory when an unrestricted unpickler loads it:
make_weights.py checks that plain `pickle` and `torch.load` do run it.
"""

import sys

import pytest

from engine.weights import (
    CorruptWeightsError,
    UnsafeWeightsError,
    load_weights,
    read_torch_file,
)
from tests.weights.conftest import FIXTURES

PAYLOAD_MARKER = "payload_ran.txt"
PAYLOAD_MODULE = "payload_ran_module"
PAYLOADS = {
    "os_system": "os.system",
    "eval": "builtins.eval",
    "subprocess": "subprocess.call",
    "importlib": "importlib.import_module",
}


@pytest.fixture
def payload_directory(tmp_path, monkeypatch):
    """Work in an empty folder where the importlib payload's module exists."""
    (tmp_path / f"{PAYLOAD_MODULE}.py").write_text(
        f"open({PAYLOAD_MARKER!r}, 'w').close()\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop(PAYLOAD_MODULE, None)


@pytest.mark.parametrize("container", ["legacy", "zip"])
@pytest.mark.parametrize("payload", sorted(PAYLOADS))
def test_payload_rejected_unrun(payload, container, payload_directory):
    path = FIXTURES / f"hostile_{payload}_{container}.pth"
    with pytest.raises(UnsafeWeightsError,
                       match=f"rejected global {PAYLOADS[payload]}:"):
        load_weights(path)
    assert not (payload_directory / PAYLOAD_MARKER).exists()
    assert PAYLOAD_MODULE not in sys.modules


def test_payload_in_header_rejected(payload_directory):
    with pytest.raises(UnsafeWeightsError, match="rejected global os.system"):
        read_torch_file(FIXTURES / "hostile_header_legacy.pth")
    assert not (payload_directory / PAYLOAD_MARKER).exists()


def test_whole_model_rejected():
    with pytest.raises(UnsafeWeightsError, match=r"__main__\.TinyVGG") as error:
        read_torch_file(FIXTURES / "whole_model.pth")
    assert "torch.save(model.state_dict())" in error.value.advice


def test_module_persistent_id_rejected():
    with pytest.raises(UnsafeWeightsError,
                       match="persistent id of kind 'module'"):
        read_torch_file(FIXTURES / "module_id_legacy.pth")


@pytest.mark.parametrize("name, message", [
    ("overrun_tensor_legacy.pth",
     "reads element 27 of a storage with 20 elements"),
    ("overrun_view_legacy.pth", "runs past the end of storage 1"),
])
def test_header_past_storage_end_rejected(name, message):
    with pytest.raises(CorruptWeightsError, match=message):
        read_torch_file(FIXTURES / name)
