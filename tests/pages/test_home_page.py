"""The home page through Streamlit's AppTest."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def test_home_page_tours_every_page():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    assert not at.exception
    text = " ".join(block.value for block in at.markdown)
    pages = sorted(path.stem.split("_", 1)[1].replace("_", " ")
                   for path in (ROOT / "pages").glob("*.py"))
    for name in pages:
        assert name.lower() in text.lower(), f"the tour skips {name}"
