"""The HTML report as a person sees it: opened in a real headless browser (Debian's chromium), which runs
pytest-html's script; the test reads the page it drew (the DOM) and its screenshot."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image
from reportchecks import run_checks

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# No network here: without the background flags chromium keeps trying to reach its update and sync servers.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")
RED, GREEN = (0xC0, 0x39, 0x2B), (0x2E, 0x8B, 0x57)

CATALOGUE = [
    {"name": "drs-partially-automated", "description": "DRS partially automated", "controls": ["SP-AGG-011"],
     "active": True, "since": None},
    {"name": "aggregate-gone", "description": "an aggregate removed", "controls": ["SP-AGG-002"],
     "active": True, "since": None},
    {"name": "compute-killed", "description": "a compute killed", "controls": ["SP-FO-001", "SP-FO-006"],
     "active": False, "since": None},
]


@pytest.fixture
def browser(tmp_path: Path):
    if CHROMIUM is None:
        message = "chromium is not installed (apt-get install chromium; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)

    def run(url: str, *args: str) -> subprocess.CompletedProcess:
        profile = tmp_path / f"chromium-profile-{len(list(tmp_path.iterdir()))}"
        return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args, url],
                              capture_output=True, timeout=120, check=True)

    return run


class Page(HTMLParser):
    """The text of the elements the test reads, by tag and class."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, str]] = []
        self.texts: dict[str, list[str]] = {}
        self.svgs = 0

    def handle_starttag(self, tag, attrs) -> None:
        classes = dict(attrs).get("class") or ""
        self.svgs += tag == "svg"
        if tag not in ("br", "input", "img", "meta", "link", "source", "line", "rect"):
            self.stack.append((tag, classes))

    def handle_endtag(self, tag) -> None:
        while self.stack and self.stack.pop()[0] != tag:
            pass

    def handle_data(self, data) -> None:
        for tag, classes in self.stack[-1:]:
            for key in [tag, *(f"{tag}.{c}" for c in classes.split())]:
                self.texts.setdefault(key, []).append(data.strip())

    def text(self, key: str) -> list[str]:
        return [t for t in self.texts.get(key, []) if t]


def test_the_report_page_shows_controls_in_order_with_versions_reasons_and_pictures(project, browser, tmp_path):
    catalogue = tmp_path / "catalogue.json"
    catalogue.write_text(json.dumps(CATALOGUE))
    _result, run_dir = run_checks(project, "--fault-catalogue", str(catalogue))
    url = (run_dir / "report.html").as_uri()

    dom = browser(url, "--dump-dom").stdout.decode()
    page = Page()
    page.feed(dom)
    run_id = run_dir.name
    assert page.text("h1") == [f"stackproof · fake · run {run_id}"]
    assert page.text("title")[0] == f"stackproof · fake · run {run_id}"  # the others: the pictures' titles
    controls = page.text("td.col-control")
    assert controls == sorted(controls) and len(controls) == 8, controls
    assert controls[:4] == ["SP-AGG-002", "SP-AGG-005[kvm]", "SP-AGG-005[vmware]", "SP-AGG-011"]
    assert page.text("td.col-area")[:4] == ["placement"] * 4 and set(page.text("td.col-tier")) == {"readonly"}
    durations = page.text("td.col-duration")
    assert durations and all(re.fullmatch(r"\d\d:\d\d:\d\d\.\d\d", d) for d in durations), durations

    table = dom.split('id="environment"', 1)[1].split("</table>", 1)[0]
    environment = {key: re.sub(r"<[^>]+>", " ", value).strip()
                   for key, value in re.findall(r"<tr>\s*<td>(.*?)</td>\s*<td>(.*?)</td>\s*</tr>", table, re.S)}
    assert environment["Run ID"] == run_id and environment["Tier"] == "readonly"
    assert environment["Target"].startswith("fake (") and re.fullmatch(r"\d+\.\d+.*", environment["stackproof"])
    items = page.text("li")
    assert any(i.startswith("openstacksdk: ") for i in items), items
    assert any(i.startswith("compute: API 2.1, microversions up to 2.96") for i in items), items
    assert not {"Packages", "Plugins"} & set(environment), "no dumps of pytest-metadata's internals"

    text = " ".join(t for values in page.texts.values() for t in values)
    assert "the target describes no host role 'compute-vmware'" in page.text("span.sp-reason")
    assert "Skipped: " not in text and "object at 0x" not in text, "skip tuples and object reprs stay out"
    assert "partiallyAutomated" in text and "req-" in text  # the finding and the requests behind it
    assert page.text("h3") == ["By area", "Detection matrix", "Failover measures against nova's bounds"]
    assert page.svgs == 2

    shot = tmp_path / "report.png"
    browser(url, f"--screenshot={shot}", "--window-size=1280,2400")
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 2400)
    counts = {colour: 0 for colour in (RED, GREEN)}
    for pixel in image.getdata():
        if pixel in counts:
            counts[pixel] += 1
    # The pictures were drawn, not only present: the caught fault's cell and the measure over its bound
    # (red), the measure within it (green) cover hundreds of pixels each.
    assert counts[RED] > 500 and counts[GREEN] > 500, counts
