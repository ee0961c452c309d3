"""Take the README's screenshots from the running app.

Starts `streamlit run app.py` on a free port of 127.0.0.1, opens each page
in headless Chromium (Debian's /usr/bin/chromium) and saves the top of it,
one browser window high, to docs/screenshots/. Run from the repository
root after `bash scripts/test.sh` has installed the test tools:

    python3 scripts/screenshots.py
"""

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser.helpers import (  # noqa: E402
    open_app_page,
    run_streamlit_server,
    wait_for_plotly_chart,
)

OUT = ROOT / "docs" / "screenshots"
PAGES = {
    "home": "/",
    "forward_propagation": "/Forward_propagation",
    "backpropagation": "/Backpropagation",
    "vgg16": "/VGG16",
    "training": "/Training",
    "convolution": "/Convolution",
    "tiny_vgg": "/Tiny_VGG",
}
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu",
    "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
VIEWPORT = {"width": 1400, "height": 1000}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    log = OUT.parent / "screenshots-server.log"
    with run_streamlit_server(ROOT, log) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                    headless=True, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport=VIEWPORT)
        for name, path in PAGES.items():
            if path != "/" and not any(ROOT.glob(f"pages/*_{path[1:]}.py")):
                continue
            open_app_page(page, server.base_url, path)
            if path != "/":
                wait_for_plotly_chart(page, timeout=120_000)
            page.screenshot(path=str(OUT / f"{name}.png"))
            print(f"saved {OUT / name}.png")
        browser.close()
    log.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
