"""Helpers for browser tests that start a Streamlit server and drive it with Playwright.

The DOM details used here were checked against Streamlit 1.67.0 and Debian's
Chromium 156. The root element `[data-testid="stApp"]` carries two attributes that
Streamlit sets for its own end-to-end tests:

- `data-test-connection-state`: `CONNECTED` once the WebSocket to the server is open.
- `data-test-script-state`: `initial`, `running`, `rerunRequested`, `stopRequested`,
  `notRunning` (the script run has finished) or `compilationError`.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Locator, Page

APP_SELECTOR = '[data-testid="stApp"]'
EXCEPTION_SELECTOR = '[data-testid="stException"]'
PLOTLY_CHART_SELECTOR = '[data-testid="stPlotlyChart"]'
PLOTLY_SVG_SELECTOR = f"{PLOTLY_CHART_SELECTOR} .js-plotly-plot .main-svg"
ERROR_ALERT_SELECTOR = '[data-testid="stAlertContentError"]'
FILE_DROPZONE_SELECTOR = '[data-testid="stFileUploaderDropzone"]'
FILE_CHIP_NAME_SELECTOR = '[data-testid="stFileChipName"]'
# During a rerun Streamlit keeps each element of the previous run, with
# `data-stale="true"` on its stElementContainer, until the new run replaces
# or removes it. The same element can then be on the page twice.
CURRENT_ELEMENT_SELECTOR = (
    '[data-testid="stElementContainer"]:not([data-stale="true"])'
)

# Script states in which Streamlit has stopped running the script. In Streamlit 1.67.0
# a page with a syntax error also ends in `notRunning` and shows an stException box.
_IDLE_SCRIPT_STATES = ("notRunning", "compilationError")

# True when the app is connected, the script run has finished and no element is
# still loading. `stStatusWidget` is the "Running..." indicator in the header, and
# Streamlit does not render it at all when `client.toolbarMode` is "minimal".
# `stSkeleton` is a placeholder for an element whose code is still loading (Plotly,
# for example), and `data-stale="true"` marks an element left over from the
# previous run.
_APP_IDLE_JS = """
(idleStates) => {
    const app = document.querySelector('[data-testid="stApp"]');
    if (app === null) {
        return false;
    }
    if (app.getAttribute("data-test-connection-state") !== "CONNECTED") {
        return false;
    }
    if (!idleStates.includes(app.getAttribute("data-test-script-state"))) {
        return false;
    }
    const busy = document.querySelector(
        '[data-testid="stStatusWidget"], [data-testid="stSkeleton"], ' +
        '[data-stale="true"]'
    );
    return busy === null;
}
"""

# Height in pixels of the scrolling main area and sidebar content of the app.
_CONTENT_HEIGHT_JS = """
() => {
    const scrollers = document.querySelectorAll(
        '[data-testid="stMain"], [data-testid="stSidebarContent"]'
    );
    const heights = Array.from(scrollers, (element) => element.scrollHeight);
    return Math.max(document.documentElement.scrollHeight, ...heights);
}
"""

# Cap on screenshot height, which keeps artifact files and browser memory bounded.
# Chromium 156 captured a 20000 px tall page without problems.
MAX_SCREENSHOT_HEIGHT_PX = 16_000
SERVER_START_TIMEOUT_S = 60.0
# Time limit for a rerun after a click or an upload, when a test waits for the
# state that the rerun leads to. Such a wait is needed because Streamlit 1.67.0
# marks the page as running only when the server replies to the change, so the
# page can look idle before its rerun starts.
RERUN_TIMEOUT_MS = 30_000
SERVER_STOP_TIMEOUT_S = 10.0
LOG_TAIL_LINES = 40


class StreamlitServerError(RuntimeError):
    """Raised when the Streamlit server cannot be started or does not become healthy."""


def find_free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on `host` that was free when checked.

    Another process may still take the port before the server binds it.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def read_log_tail(log_path: Path, line_count: int = LOG_TAIL_LINES) -> str:
    """Return the last `line_count` lines of a log file, or a note if it is missing."""
    if not log_path.exists():
        return f"(log file {log_path} not found)"
    lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join(lines[-line_count:])


def _is_server_healthy(base_url: str) -> bool:
    health_url = f"{base_url}/_stcore/health"
    try:
        with urllib.request.urlopen(health_url, timeout=2) as response:
            return response.read().decode().strip() == "ok"
    except (urllib.error.URLError, OSError):
        return False


@dataclass(frozen=True)
class StreamlitServer:
    """A running `streamlit run` server, with its base URL and process."""

    base_url: str  # http://127.0.0.1:PORT
    process: subprocess.Popen


@contextlib.contextmanager
def run_streamlit_server(
    app_dir: Path,
    log_path: Path,
    *,
    extra_args: Sequence[str] = (),
    script: str = "app.py",
    start_timeout_s: float = SERVER_START_TIMEOUT_S,
) -> Iterator[StreamlitServer]:
    """Start `streamlit run SCRIPT` in `app_dir` on a free 127.0.0.1 port.

    Yields the server once `/_stcore/health` returns "ok", and stops it on
    exit. Raises StreamlitServerError with the tail of the server log if the
    server exits early or is not healthy within `start_timeout_s` seconds.
    The server reads `.streamlit/config.toml` from `app_dir`, and the
    command-line options below take precedence over it.

    `extra_args` are more command-line options, such as
    `["--server.disconnectedSessionTTL", "2"]`. They come after the defaults,
    so an option given again there overrides its default, because Click keeps
    the last value. The yielded process is the Python interpreter
    that serves the app, so its PID gives the server's memory in /proc.
    """
    script_path = app_dir / script
    if not script_path.is_file():
        raise StreamlitServerError(f"Streamlit script not found: {script_path}")

    port = find_free_port()
    base_url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        script,
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        # A source file saved during a run would otherwise make Streamlit
        # ask whether to rerun, and the page would never become idle.
        "--server.fileWatcherType",
        "none",
        *extra_args,
    ]
    log_path.parent.mkdir(parents=True, exist_ok=True)

    with log_path.open("w", encoding="utf-8") as log_file:
        process = subprocess.Popen(
            command,
            cwd=app_dir,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_healthy(process, base_url, log_path, start_timeout_s)
            yield StreamlitServer(base_url, process)
        finally:
            _stop_process(process)


def _wait_until_healthy(
    process: subprocess.Popen,
    base_url: str,
    log_path: Path,
    timeout_s: float,
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        exit_code = process.poll()
        if exit_code is not None:
            raise StreamlitServerError(
                f"Streamlit server exited with code {exit_code} before it was "
                f"healthy. Last lines of {log_path}:\n{read_log_tail(log_path)}"
            )
        if _is_server_healthy(base_url):
            return
        time.sleep(0.25)

    raise StreamlitServerError(
        f"Streamlit server at {base_url} was not healthy after {timeout_s:.0f} s. "
        f"Last lines of {log_path}:\n{read_log_tail(log_path)}"
    )


def _stop_process(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=SERVER_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_for_app_idle(page: Page, timeout: float = 60_000) -> None:
    """Wait until Streamlit has finished running the script and rendering elements.

    `timeout` is in milliseconds, as in Playwright. Right after a click or an upload
    the script state may still read `notRunning` for a moment before the rerun
    starts, so this waits for the idle state, pauses briefly and checks it again.
    """
    page.wait_for_selector(APP_SELECTOR, state="attached", timeout=timeout)
    for _ in range(2):
        page.wait_for_function(
            _APP_IDLE_JS,
            arg=list(_IDLE_SCRIPT_STATES),
            timeout=timeout,
            polling=100,
        )
        page.wait_for_timeout(300)


def open_app_page(page: Page, base_url: str, url_path: str = "/") -> None:
    """Open one page of the app, wait until it is idle, and check that it exists.

    `url_path` is case-sensitive, for example "/Forward_propagation" for
    pages/1_Forward_propagation.py. For an unknown path Streamlit shows a "Page not
    found" dialog and runs the main page at "/", which this reports as an error.
    """
    page.goto(f"{base_url}{url_path}")
    wait_for_app_idle(page)
    actual_path = urllib.parse.urlsplit(page.url).path
    if actual_path != url_path:
        raise AssertionError(
            f"Streamlit page {url_path!r} not found: the browser is at {page.url}. "
            "Check the file name under pages/ and the case of the path."
        )


def assert_no_exception(page: Page) -> None:
    """Fail if the page shows a Streamlit exception box (`stException`)."""
    exceptions = page.locator(EXCEPTION_SELECTOR)
    count = exceptions.count()
    if count == 0:
        return
    messages = "\n---\n".join(exceptions.all_inner_texts())
    raise AssertionError(f"Page {page.url} shows {count} exception(s):\n{messages}")


def wait_for_plotly_chart(page: Page, timeout: float = 30_000) -> Locator:
    """Wait until at least one Plotly chart has drawn its SVG, and return all charts.

    `timeout` is in milliseconds. The returned locator matches every
    `[data-testid="stPlotlyChart"]` element on the page.
    """
    page.locator(PLOTLY_SVG_SELECTOR).first.wait_for(state="visible", timeout=timeout)
    return page.locator(PLOTLY_CHART_SELECTOR)


def screenshot(page: Page, path: Path | str) -> Path:
    """Save a PNG of the whole app, not only the visible part, and return its path.

    Streamlit scrolls the main area inside `stMain` and keeps the document at the
    viewport height, so Playwright's `full_page=True` alone captures one screen.
    This grows the viewport to the content height (at most
    MAX_SCREENSHOT_HEIGHT_PX) for the screenshot and then restores it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    viewport = page.viewport_size
    content_height = min(page.evaluate(_CONTENT_HEIGHT_JS), MAX_SCREENSHOT_HEIGHT_PX)
    if viewport is None or content_height <= viewport["height"]:
        page.screenshot(path=str(path), full_page=True)
        return path

    page.set_viewport_size({"width": viewport["width"], "height": content_height})
    try:
        # Let Streamlit and Plotly lay out the taller page before the capture.
        page.wait_for_timeout(300)
        page.screenshot(path=str(path), full_page=True)
    finally:
        page.set_viewport_size(viewport)
    return path


def resident_memory_bytes(pid: int) -> int:
    """Return the resident set size (VmRSS) of process `pid`, in bytes.

    Reads /proc/PID/status, so it works on Linux only. Raises
    FileNotFoundError when the process is gone, and ValueError when it has
    exited but its parent has not yet reaped it, because its status then
    has no VmRSS line.
    """
    status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            kibibytes = int(line.split()[1])  # the line reads "VmRSS: 1234 kB"
            return kibibytes * 1024
    raise ValueError(f"/proc/{pid}/status has no VmRSS line")


def file_input(page: Page, label: str) -> Locator:
    """Return the `<input type="file">` of the file uploader labelled `label`.

    Streamlit 1.67 sets the uploader's label as the `aria-label` of its drop
    zone, which contains the input. Pass the locator's `set_input_files` a
    path to upload a file.
    """
    dropzone = f'{FILE_DROPZONE_SELECTOR}[aria-label="{label}"]'
    return page.locator(f'{dropzone} input[type="file"]')


def metric_value(page: Page, label: str) -> Locator:
    """Return the value of the `st.metric` labelled `label` in the current run.

    The locator leaves out the copy that Streamlit keeps from the previous
    run during a rerun, so `expect(...).to_have_text` on it waits through
    the rerun instead of failing on two matches.
    """
    metric = page.locator(f'{CURRENT_ELEMENT_SELECTOR} > [data-testid="stMetric"]')
    label_text = page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True)
    return metric.filter(has=label_text).get_by_test_id("stMetricValue")


def error_alert_texts(page: Page) -> list[str]:
    """Return the text of every `st.error` box on the page."""
    return page.locator(ERROR_ALERT_SELECTOR).all_inner_texts()


def is_app_idle(page: Page) -> bool:
    """Return whether the app is idle now, by the test of `wait_for_app_idle`.

    It checks once and does not wait, so a caller can poll several pages in
    turn. Right after a click or an upload it may still return True for a
    moment before the rerun starts, so check again after a pause.
    """
    return page.evaluate(_APP_IDLE_JS, list(_IDLE_SCRIPT_STATES))
