"""Downloads from a local HTTP server: resume, checksum, cache.

The server listens on 127.0.0.1 only and serves a fixture whose name
carries its own SHA-256 prefix, as torchvision's files do.
"""

import hashlib

import numpy as np
import pytest

from engine.weights import (
    DownloadError,
    WeightsError,
    cached_weights_path,
    default_cache_dir,
    download,
    fetch_weights,
    load_weights,
    sha256_prefix,
)
from tests.weights.conftest import FIXTURES

TIMEOUT_SECONDS = 5.0  # the server is local: anything slower is a failure
CUT_BYTES = 1000


@pytest.fixture
def served(file_server):
    """Serve the fixture named with its SHA-256 prefix, and return the name."""
    (path,) = FIXTURES.glob("tinyvgg-*.pth")
    file_server.files[path.name] = path.read_bytes()
    return path.name


def test_fixture_name_carries_its_hash(served):
    data = (FIXTURES / served).read_bytes()
    assert hashlib.sha256(data).hexdigest().startswith(sha256_prefix(served))


def test_download_whole_file(tmp_path, file_server, served):
    calls = []
    path = download(file_server.url(served), tmp_path / served,
                    sha256=sha256_prefix(served),
                    progress=lambda done, total: calls.append((done, total)),
                    timeout=TIMEOUT_SECONDS)
    size = len(file_server.files[served])
    assert path.read_bytes() == file_server.files[served]
    assert not (tmp_path / f"{served}.part").exists()
    assert calls[0] == (0, size)
    assert calls[-1] == (size, size)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_interrupted_transfer_resumes(tmp_path, file_server, served):
    file_server.cuts = [CUT_BYTES]
    path = download(file_server.url(served), tmp_path / served,
                    sha256=sha256_prefix(served), timeout=TIMEOUT_SECONDS)
    assert path.read_bytes() == file_server.files[served]
    assert file_server.ranges == [None, f"bytes={CUT_BYTES}-"]


def test_part_file_kept_for_next_call(tmp_path, file_server, served):
    file_server.cuts = [CUT_BYTES]
    url, destination = file_server.url(served), tmp_path / served
    with pytest.raises(DownloadError, match="run again to resume"):
        download(url, destination, attempts=1, timeout=TIMEOUT_SECONDS)
    part = tmp_path / f"{served}.part"
    assert part.stat().st_size == CUT_BYTES
    assert not destination.exists()

    download(url, destination, sha256=sha256_prefix(served),
             timeout=TIMEOUT_SECONDS)
    assert destination.read_bytes() == file_server.files[served]
    assert file_server.ranges[-1] == f"bytes={CUT_BYTES}-"


def test_every_attempt_cut_fails(tmp_path, file_server, served):
    file_server.cuts = [CUT_BYTES, 10, 10]
    size = len(file_server.files[served])
    with pytest.raises(DownloadError) as error:
        download(file_server.url(served), tmp_path / served,
                 timeout=TIMEOUT_SECONDS)
    message = str(error.value)
    assert "failed 3 times" in message
    assert f"closed after {CUT_BYTES + 20} of {size} bytes" in message
    assert f"the {CUT_BYTES + 20} bytes kept in" in message


def test_server_ignoring_range_restarts(tmp_path, file_server, served):
    file_server.cuts = [CUT_BYTES]
    file_server.honor_range = False
    path = download(file_server.url(served), tmp_path / served,
                    sha256=sha256_prefix(served), timeout=TIMEOUT_SECONDS)
    assert path.read_bytes() == file_server.files[served]


def test_complete_part_file_finishes(tmp_path, file_server, served):
    (tmp_path / f"{served}.part").write_bytes(file_server.files[served])
    path = download(file_server.url(served), tmp_path / served,
                    sha256=sha256_prefix(served), timeout=TIMEOUT_SECONDS)
    assert path.read_bytes() == file_server.files[served]


def test_overlong_part_file_restarts(tmp_path, file_server, served):
    (tmp_path / f"{served}.part").write_bytes(
        file_server.files[served] + b"extra")
    path = download(file_server.url(served), tmp_path / served,
                    sha256=sha256_prefix(served), timeout=TIMEOUT_SECONDS)
    assert path.read_bytes() == file_server.files[served]
    assert file_server.ranges[-1] is None


def test_existing_file_checked_not_fetched(tmp_path, file_server, served):
    destination = tmp_path / served
    destination.write_bytes(b"not the file")
    with pytest.raises(WeightsError, match="deleted"):
        download(file_server.url(served), destination,
                 sha256=sha256_prefix(served), timeout=TIMEOUT_SECONDS)
    assert not destination.exists()
    assert file_server.ranges == []


def test_wrong_checksum_deletes_part(tmp_path, file_server, served):
    wrong_name = "tinyvgg-00000000.pth"
    file_server.files[wrong_name] = file_server.files[served]
    with pytest.raises(WeightsError, match="expects 00000000; deleted"):
        download(file_server.url(wrong_name), tmp_path / wrong_name,
                 sha256=sha256_prefix(wrong_name), timeout=TIMEOUT_SECONDS)
    assert list(tmp_path.iterdir()) == []


def test_missing_file_is_http_error(tmp_path, file_server):
    with pytest.raises(DownloadError, match="HTTP 404"):
        download(file_server.url("absent-12345678.pth"), tmp_path / "a.pth",
                 timeout=TIMEOUT_SECONDS)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/a"])
def test_only_http_urls(tmp_path, url):
    with pytest.raises(WeightsError, match="URL scheme must be one of"):
        download(url, tmp_path / "a.pth")


@pytest.mark.parametrize("name, prefix", [
    ("vgg16-397923af.pth", "397923af"),
    ("vgg19-dcbb9e9d.pth", "dcbb9e9d"),
    ("model-0123456789abcdef.bin", "0123456789abcdef"),
])
def test_sha256_prefix(name, prefix):
    assert sha256_prefix(name) == prefix


@pytest.mark.parametrize("name", ["vgg16.pth", "vgg16-39792.pth",
                                  "vgg16-397923AF.pth"])
def test_name_without_hash(name):
    with pytest.raises(WeightsError, match="carries no SHA-256 prefix"):
        sha256_prefix(name)


def test_cache_dir_from_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "nn-explainer"


@pytest.mark.parametrize("value", ["", "relative/cache"])
def test_cache_dir_default(monkeypatch, tmp_path, value):
    monkeypatch.setenv("XDG_CACHE_HOME", value)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / ".cache" / "nn-explainer"


def test_default_cache_path_vgg16(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    expected = tmp_path / "nn-explainer" / "vgg16-397923af.npz"
    assert cached_weights_path("vgg16") == expected


def test_fetch_converts_and_caches(tmp_path, file_server, served,
                                   tiny_config, tiny_expected):
    url = file_server.url(served)
    path = fetch_weights(tiny_config, url=url, cache_dir=tmp_path)
    assert path == cached_weights_path(tiny_config, tmp_path, url)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    loaded = load_weights(path)
    assert loaded.config == tiny_config
    assert loaded.origin == "torch-legacy"
    for key, array in tiny_expected.items():
        np.testing.assert_array_equal(loaded.weights[key], array)

    # A second fetch finds the cached file and sends no request.
    requests = len(file_server.ranges)
    assert fetch_weights(tiny_config, url=url, cache_dir=tmp_path) == path
    assert len(file_server.ranges) == requests


def test_fetch_mismatch_keeps_download(tmp_path, file_server, served):
    url = file_server.url(served)
    with pytest.raises(WeightsError, match="does not fit vgg16"):
        fetch_weights("vgg16", url=url, cache_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [served]

    # The next call checks the kept file again instead of downloading.
    requests = len(file_server.ranges)
    with pytest.raises(WeightsError, match="does not fit vgg16"):
        fetch_weights("vgg16", url=url, cache_dir=tmp_path)
    assert len(file_server.ranges) == requests


def test_fetch_unknown_config(tmp_path):
    with pytest.raises(WeightsError, match="no download URL for"):
        fetch_weights("vgg17", cache_dir=tmp_path)
