"""The HTML report in a real browser (headless Chromium): it renders with no console error, its charts are
visible, and the hostile model name and device (conftest.py) run nothing.

Two loads of the same report:
1. the file as written, with a screenshot; Chromium logs every console message (errors, CSP violations,
   failed loads) to stderr as `:CONSOLE` lines, so there must be none;
2. a copy whose policy also allows inline scripts, with a probe script first in <head>: it records
   window errors, console.error calls and alert() calls (a `<script>alert(1)</script>` that slipped through
   escaping would run there), then writes them, the number of scripts and the charts' positions into a
   <pre id="probe"> that --dump-dom returns.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")

WIDTH, HEIGHT = 1280, 2000
CHROMIUM_TIMEOUT_S = 120
SUBMISSION_BLUE = (0x4C, 0x72, 0xB0)  # Table 1 submissions in the PSNR-runtime chart (charts.SUBMISSION_COLOUR)

PROBE = """<script>
window.__errors = []; window.__alerts = [];
window.onerror = function (message) { __errors.push(String(message)); };
window.addEventListener('error', function (e) {
  if (e.target && e.target !== window) {
    __errors.push('failed to load ' + (e.target.src || e.target.href || e.target.tagName));
  }
}, true);
window.alert = function (message) { __alerts.push(String(message)); };
console.error = function () { __errors.push(Array.prototype.join.call(arguments, ' ')); };
window.addEventListener('load', function () {
  var rects = {};
  document.querySelectorAll('figure.chart').forEach(function (f) {
    var r = f.querySelector('svg').getBoundingClientRect(); rects[f.id] = [r.left, r.top, r.width, r.height];
  });
  var pre = document.createElement('pre'); pre.id = 'probe';
  pre.textContent = JSON.stringify({errors: __errors, alerts: __alerts, scripts: document.scripts.length,
                                    handlers: document.querySelectorAll('[onload],[onerror],[onclick]').length,
                                    rects: rects});
  document.body.appendChild(pre);
});
</script>"""


def chromium(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--hide-scrollbars",
            "--force-device-scale-factor=1", f"--window-size={WIDTH},{HEIGHT}", *extra, page.resolve().as_uri()]
    return subprocess.run(argv, capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT_S)


@pytest.fixture(scope="module")
def page(report_inputs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("html") / "report.html"
    proc = subprocess.run([sys.executable, "-m", "mai_bench.cli.main", "report", str(report_inputs.dir), "-o",
                           str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def screenshot(page: Path, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    work = tmp_path_factory.mktemp("chromium-shot")
    png = work / "shot.png"
    proc = chromium(page, work / "profile", f"--screenshot={png}")
    assert proc.returncode == 0 and png.is_file(), proc.stderr[-3000:]
    return png, proc


@pytest.fixture(scope="module")
def probe(page: Path, tmp_path_factory) -> dict:
    from mai_bench.report.html import CSP

    work = tmp_path_factory.mktemp("chromium-probe")
    text = page.read_text(encoding="utf-8")
    assert CSP in text
    probed = work / "probed.html"
    probed.write_text(text.replace(CSP, CSP + "; script-src 'unsafe-inline'", 1).replace("<head>", "<head>" + PROBE, 1),
                      encoding="utf-8")
    proc = chromium(probed, work / "profile", "--dump-dom", "--virtual-time-budget=3000")
    assert proc.returncode == 0, proc.stderr[-3000:]
    match = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout, re.S)
    assert match, "the probe did not report: the page did not finish loading\n" + proc.stderr[-3000:]
    return json.loads(html.unescape(match.group(1)))


def test_no_console_messages(screenshot) -> None:
    _, proc = screenshot
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []


def test_no_errors_and_nothing_executes(probe) -> None:
    assert probe["errors"] == []
    assert probe["alerts"] == [], "text from a result ran as a script"
    assert probe["scripts"] == 1, "only the probe may be a script"
    assert probe["handlers"] == 0


def test_charts_are_laid_out(probe) -> None:
    for chart in ("chart-psnr-runtime", "chart-latency", "chart-devices"):
        left, top, width, height = probe["rects"][chart]
        assert width > 300 and height > 150, (chart, probe["rects"][chart])
        assert left >= 0 and left + width <= WIDTH + 1


def test_psnr_runtime_chart_is_visible_in_the_screenshot(screenshot, probe) -> None:
    png, _ = screenshot
    left, top, width, height = probe["rects"]["chart-psnr-runtime"]
    assert top + height <= HEIGHT, "the chart must sit inside the screenshot for this check"
    image = np.asarray(Image.open(png).convert("RGB"))
    assert image.shape[:2] == (HEIGHT, WIDTH)
    region = image[int(top):int(top + height), int(left):int(left + width)]
    pixels = region.reshape(-1, 3)
    colours = len(np.unique(pixels, axis=0))
    ink = float(np.mean(np.any(pixels < 235, axis=1)))
    blue = int(np.sum(np.all(np.abs(pixels.astype(int) - SUBMISSION_BLUE) <= 12, axis=1)))
    assert colours > 50, f"only {colours} colours: the chart region looks blank"
    assert ink > 0.02, f"only {ink:.1%} of the chart region is drawn"
    assert blue > 100, "Table 1's markers are not drawn"
    whole = image.reshape(-1, 3)
    assert len(np.unique(whole, axis=0)) > colours  # the page has more than the chart: tables and text
