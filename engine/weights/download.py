"""Download torchvision's VGG weights, resumably, and cache them as npz.

A download goes to `<name>.part` first. When the connection drops, the next
attempt requests the rest with an HTTP Range header. The finished file
must have a SHA-256 digest that starts with the hex digits in its name
(`vgg16-397923af.pth`), as torchvision's files do.
"""

import hashlib
import http.client
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from engine.weights.errors import DownloadError, WeightsError
from engine.weights.load import convert_weights

# torchvision's ImageNet weights, from torchvision/models/vgg.py.
TORCHVISION_URLS = {
    "vgg11": "https://download.pytorch.org/models/vgg11-8a719046.pth",
    "vgg13": "https://download.pytorch.org/models/vgg13-19584684.pth",
    "vgg16": "https://download.pytorch.org/models/vgg16-397923af.pth",
    "vgg19": "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
}
APP_FOLDER = "nn-explainer"
CHUNK_BYTES = 1 << 20
TIMEOUT_SECONDS = 30.0  # for connecting and for each read
DOWNLOAD_ATTEMPTS = 3
HTTP_PARTIAL_CONTENT = 206
HTTP_RANGE_NOT_SATISFIABLE = 416
# The hex digits after the last "-" of a torchvision file name. torch.hub
# accepts any count; 8 or more keep a typo from passing as a hash.
HASH_IN_NAME = re.compile(r"-([0-9a-f]{8,64})\.[A-Za-z0-9]+$")
CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")
URL_SCHEMES = ("http", "https")

# Called as progress(done_bytes, total_bytes). Total is None when unknown.
ProgressCallback = Callable[[int, int | None], None]


class _IncompleteBodyError(Exception):
    """The connection closed before Content-Length bytes arrived."""


# Failures after which a Range request may fetch the rest.
RESUMABLE_ERRORS = (_IncompleteBodyError, http.client.IncompleteRead,
                    ConnectionError, TimeoutError)


def default_cache_dir() -> Path:
    """Return `$XDG_CACHE_HOME/nn-explainer`, or `~/.cache/nn-explainer`."""
    root = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG spec says to ignore a relative path here.
    base = Path(root) if os.path.isabs(root) else Path.home() / ".cache"
    return base / APP_FOLDER


def sha256_prefix(file_name: str) -> str:
    """Return the hex digest prefix in a name like `vgg16-397923af.pth`."""
    match = HASH_IN_NAME.search(file_name)
    if match is None:
        raise WeightsError(
            f"file name {file_name!r} carries no SHA-256 prefix; expected "
            f"NAME-HEX.EXT with 8 to 64 hex digits, as in vgg16-397923af.pth")
    return match.group(1)


def cached_weights_path(config: str, cache_dir: str | Path | None = None,
                        url: str | None = None) -> Path:
    """Return where `fetch_weights` stores the npz file for `config`."""
    folder = Path(cache_dir) if cache_dir else default_cache_dir()
    return folder / (Path(_file_name(_url_for(config, url))).stem + ".npz")


def fetch_weights(config: str, *, url: str | None = None,
                  cache_dir: str | Path | None = None,
                  progress: ProgressCallback | None = None) -> Path:
    """Download a torchvision VGG file, check it and cache it as npz.

    Returns the npz path, at once if it is already cached. The downloaded
    file is deleted once converted. A file that fails the checks stays,
    so the next call checks it again without downloading.
    """
    url = _url_for(config, url)
    target = cached_weights_path(config, cache_dir, url)
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    downloaded = target.parent / _file_name(url)
    download(url, downloaded, sha256=sha256_prefix(downloaded.name),
             progress=progress)
    convert_weights(downloaded, target, config)
    downloaded.unlink()
    return target


def download(url: str, destination: str | Path, *, sha256: str | None = None,
             progress: ProgressCallback | None = None,
             attempts: int = DOWNLOAD_ATTEMPTS,
             timeout: float = TIMEOUT_SECONDS) -> Path:
    """Download `url` to `destination`, resuming from `<destination>.part`.

    Returns at once when `destination` exists. Tries up to `attempts` times
    while the connection drops, and keeps the part file when all fail, so
    the next call resumes. When `sha256` is given, the file's digest must
    start with it, or else the file is deleted and WeightsError raised.
    """
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in URL_SCHEMES:
        raise WeightsError(
            f"URL scheme must be one of {URL_SCHEMES}; found {scheme!r} in "
            f"{url}")
    destination = Path(destination)
    if destination.exists():
        if sha256 is not None:
            _check_sha256(destination, sha256, url)
        return destination
    part = destination.with_name(destination.name + ".part")
    for attempt in range(1, attempts + 1):
        try:
            _transfer(url, part, progress, timeout)
            break
        except RESUMABLE_ERRORS as error:
            if attempt == attempts:
                raise DownloadError(
                    f"download of {url} failed {attempts} times, last with "
                    f"{error}; run again to resume from the {_size(part)} "
                    f"bytes kept in {part}") from None
    if sha256 is not None:
        _check_sha256(part, sha256, url)
    os.replace(part, destination)
    return destination


def _url_for(config: str, url: str | None) -> str:
    if url is not None:
        return url
    if config not in TORCHVISION_URLS:
        raise WeightsError(
            f"no download URL for configuration {config!r}; expected one of "
            f"{sorted(TORCHVISION_URLS)} or an explicit URL")
    return TORCHVISION_URLS[config]


def _file_name(url: str) -> str:
    name = Path(urllib.parse.urlsplit(url).path).name
    if not name:
        raise WeightsError(f"URL {url} does not end with a file name")
    return name


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _transfer(url: str, part: Path, progress: ProgressCallback | None,
              timeout: float) -> None:
    """Fetch what `part` lacks, raising a RESUMABLE_ERRORS error on a drop."""
    done = _size(part)
    headers = {"Range": f"bytes={done}-"} if done else {}
    try:
        response = urllib.request.urlopen(
            urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == HTTP_RANGE_NOT_SATISFIABLE and done:
            if error.headers.get("Content-Range") == f"bytes */{done}":
                return  # the part file is already whole
            part.unlink()  # longer than the file: start over
            return _transfer(url, part, progress, timeout)
        raise DownloadError(
            f"download of {url} failed: HTTP {error.code} {error.reason}"
        ) from None
    except urllib.error.URLError as error:
        raise DownloadError(
            f"download of {url} failed: {error.reason}") from None
    with response:
        if done and response.status == HTTP_PARTIAL_CONTENT:
            total = _resumed_total(response, done, url)
            mode = "ab"
        else:
            # A server that ignores Range sends the whole file again.
            done, mode = 0, "wb"
            length = response.headers.get("Content-Length")
            total = int(length) if length is not None else None
        with open(part, mode) as file:
            if progress:
                progress(done, total)
            while chunk := response.read(CHUNK_BYTES):
                file.write(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
    if total is not None and done < total:
        raise _IncompleteBodyError(
            f"connection closed after {done} of {total} bytes")


def _resumed_total(response: http.client.HTTPResponse, done: int,
                   url: str) -> int:
    header = response.headers.get("Content-Range", "")
    match = CONTENT_RANGE.fullmatch(header)
    if match is None or int(match.group(1)) != done:
        raise DownloadError(
            f"server of {url} resumed with Content-Range {header!r}; "
            f"expected bytes {done}-END/TOTAL")
    return int(match.group(3))


def _check_sha256(path: Path, prefix: str, url: str) -> None:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK_BYTES):
            digest.update(chunk)
    found = digest.hexdigest()
    if not found.startswith(prefix):
        path.unlink()
        raise WeightsError(
            f"SHA-256 of the download from {url} starts with "
            f"{found[:len(prefix)]}, but its name expects {prefix}; deleted "
            f"{path}, so the next try downloads it again")
