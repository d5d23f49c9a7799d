"""The reports open in a real browser: headless Chromium loads them without errors and
shows every figure.

Needs Debian's ``chromium`` and ``chromium-driver`` (installed by ``make``) and selenium;
skipped with the reason when one is missing. The driver is given explicitly, so Selenium
Manager never reaches for the network.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed "
                                    "(pip install actsparse[dev])")
    from selenium.webdriver.chrome.service import Service

    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if shutil.which(path) is None:
            pytest.skip(f"{path} is missing: apt-get install {package} (make installs it)")
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1000"):
        options.add_argument(arg)
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def load(browser: Any, page: Path) -> dict[str, Any]:
    """Open ``page``; its console messages, images and headings."""
    browser.get_log("browser")  # drop messages of an earlier page
    browser.get(page.resolve().as_uri())
    images = browser.execute_script(
        "return Array.from(document.images).map(i => ({complete: i.complete, "
        "width: i.naturalWidth, alt: i.alt}))")
    headings = browser.execute_script(
        "return Array.from(document.querySelectorAll('h1, h2')).map(h => h.textContent)")
    return {"log": browser.get_log("browser"), "images": images, "headings": headings,
            "title": browser.title}


def check_loaded(found: dict[str, Any], min_images: int) -> None:
    severe = [m for m in found["log"] if m.get("level") == "SEVERE"]
    assert severe == [], severe
    assert len(found["images"]) >= min_images
    broken = [i["alt"] for i in found["images"] if not (i["complete"] and i["width"] > 0)]
    assert broken == [], f"figures that did not load: {broken}"


def test_study_report_renders(browser: Any, tiny_study: tuple[Path, dict[str, Any]]) -> None:
    from actsparse.report.study_page import SECTIONS

    out, _ = tiny_study
    found = load(browser, out / "report.html")
    check_loaded(found, min_images=5)  # noise, density, speed, activation maps, overlap
    assert found["title"].startswith("actsparse study")
    assert [h for h in found["headings"][1:]] == list(SECTIONS)
    verdicts = browser.execute_script(
        "return Array.from(document.querySelectorAll('td.verdict')).map(t => t.textContent)")
    assert len(verdicts) == 7 and set(verdicts) <= {"supported", "not supported",
                                                    "inconclusive"}


def test_broken_figure_is_caught(browser: Any, tmp_path: Path) -> None:
    """The check itself can fail: a page with a missing image does not pass."""
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><body><img alt="gone" src="missing.png"></body></html>')
    found = load(browser, page)
    with pytest.raises(AssertionError):
        check_loaded(found, min_images=1)


def test_profile_report_renders(browser: Any, tmp_path: Path, one_thread: None) -> None:
    from actsparse.cli.profile import run_profile

    run_profile(model_name="mnist-cnn", data_name="mnist", out=tmp_path, limit=64,
                inputs=True, progress=False)
    found = load(browser, tmp_path / "report.html")
    check_loaded(found, min_images=6)
    assert "Density and near-zero fractions" in found["headings"]
    assert "Firing maps over example images" in found["headings"]


def test_accelerate_interpret_and_sae_pages_render(browser: Any, tmp_path: Path) -> None:
    """The smaller pages, on the same skeleton, load without errors with every figure."""
    from actsparse.report.accelerate_page import write_accelerate_page
    from actsparse.report.interpret_page import write_interpret_page
    from actsparse.report.sae_page import write_sae_page

    sweep = [{"target_density": d, "speedup": s, "accuracy": a, "flop_ratio": d,
              "params_after": 10, "swapped": ["fc"]} for d, s, a in ((1.0, 1.0, 0.99),
                                                                    (0.3, 1.6, 0.97))]
    pages = [
        (write_accelerate_page(tmp_path, title="accelerate", summary="fc", sweep=sweep,
                               metric="accuracy", metric_note="accuracy"), 1),
        (write_interpret_page(tmp_path / "interpret", title="interpret"), 1),
        (write_sae_page(tmp_path / "sae", title="sae", summary={"FVU": 0.2},
                        histogram={"edges": [-2.0, -1.0, 0.0], "counts": [3, 1], "dead": 0,
                                   "live": 4},
                        history={"step": [0.0, 1.0], "mse": [1.0, 0.5],
                                 "dead_fraction": [0.0, 0.0]}, examples=[]), 2),
    ]
    for page, images in pages:
        found = load(browser, page)
        check_loaded(found, min_images=images)
        assert found["title"] == found["headings"][0]
