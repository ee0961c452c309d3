"""Save a trained toy network with its settings as JSON, and load it back.

The file holds `format`, `version`, the `settings` of `TrainConfig`, the
epoch reached, and every parameter as nested lists under its layer's name.
Floats are written with `repr` precision, so a round trip is exact.
"""

import json

import numpy as np

from engine.network import Sequential, build_mlp
from engine.training import DTYPE, TrainConfig

FORMAT = "nn-explainer/toy-network"
VERSION = 1
MAX_FILE_BYTES = 1_000_000


class NetworkFileError(ValueError):
    """A network file that cannot be loaded, with the reason."""


def export_network(config: TrainConfig, network: Sequential,
                   epoch: int) -> bytes:
    """Serialise the settings and parameters to UTF-8 JSON bytes."""
    params = {f"{layer.name}.{key}": layer.params[key].tolist()
              for layer, key in network.parameters()}
    document = {"format": FORMAT, "version": VERSION, "epoch": epoch,
                "settings": config.to_dict(), "parameters": params}
    return json.dumps(document).encode("utf-8")


def import_network(data: bytes) -> tuple[TrainConfig, Sequential, int]:
    """Read a file written by `export_network`: settings, network, epoch.

    Raises `NetworkFileError` when the file is not such a network, or its
    parameters are missing, mis-shaped or not finite.
    """
    if len(data) > MAX_FILE_BYTES:
        raise NetworkFileError(
            f"the file is {len(data):,} bytes; a network file is at most "
            f"{MAX_FILE_BYTES:,}")
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise NetworkFileError(f"the file is not valid JSON ({error})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise NetworkFileError(
            f"the file is not a network exported by this app (expected "
            f"format {FORMAT!r})")
    if document.get("version") != VERSION:
        raise NetworkFileError(
            f"unsupported file version {document.get('version')!r}; "
            f"this app reads version {VERSION}")
    try:
        config = TrainConfig.from_dict(document["settings"])
    except (KeyError, TypeError, ValueError) as error:
        raise NetworkFileError(f"invalid settings: {error}") from None
    network = build_mlp([len(config.features), *config.hidden, 1],
                        config.activation, "linear", dtype=DTYPE)
    _fill_parameters(network, document.get("parameters"))
    return config, network, int(document.get("epoch", 0))


def _fill_parameters(network: Sequential, params) -> None:
    if not isinstance(params, dict):
        raise NetworkFileError("the file has no parameters")
    expected = {f"{layer.name}.{key}" for layer, key in network.parameters()}
    if set(params) != expected:
        missing = sorted(expected - set(params))
        extra = sorted(set(params) - expected)
        raise NetworkFileError(
            f"the parameters do not match the settings: missing {missing}, "
            f"unexpected {extra}")
    for layer, key in network.parameters():
        name = f"{layer.name}.{key}"
        try:
            value = np.array(params[name], dtype=layer.params[key].dtype)
        except (TypeError, ValueError):
            raise NetworkFileError(f"{name} is not an array of numbers") from None
        if value.shape != layer.params[key].shape:
            raise NetworkFileError(
                f"{name}: expected shape {layer.params[key].shape}, "
                f"found {value.shape}")
        if not np.all(np.isfinite(value)):
            raise NetworkFileError(f"{name} contains NaN or infinite values")
        layer.params[key] = value
