"""The HTML report in a real browser: headless Chromium renders it at 700 and 1400 px wide; every image must load
(naturalWidth > 0) and nothing may overflow horizontally (no element past the window's right edge, and the page's
scrollWidth within innerWidth).

Needs Debian's ``chromium`` (``.ci/run`` installs it). Without it the test is skipped with the reason, except in
CI (``CI=true``), where a missing browser is a failure.
"""

import json
import os
import re
import shutil
import subprocess

import pytest

from _report_data import fake_store
from jacstab.cli import main

CHECK = """<script>
window.addEventListener('load', function () {
  var imgs = Array.from(document.images);
  var broken = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); }).length;
  var past = Array.from(document.querySelectorAll('body *')).filter(function (e) {
    var r = e.getBoundingClientRect(); return r.width > 0 && r.right > window.innerWidth + 0.5; }).length;
  var out = document.createElement('pre'); out.id = 'jacstab-check';
  out.textContent = JSON.stringify({images: imgs.length, broken: broken, past: past,
    scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth});
  document.body.appendChild(out);
});
</script>"""


def _browser() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("chromium is missing in CI (.ci/run installs Debian's chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium); the browser check runs in CI")
    return path


@pytest.fixture(scope="module")
def report_page(tmp_path_factory):
    d = tmp_path_factory.mktemp("browser")
    fake_store(d / "s.sqlite", ("fig1", "fig3", "fig4")).close()
    with pytest.raises(SystemExit) as e:
        main(["report", "--store", str(d / "s.sqlite"), "--out", str(d / "rep"), "--dpi", "100", "--quiet"])
    assert e.value.code == 0
    page = (d / "rep" / "report.html").read_text()
    checked = d / "rep" / "checked.html"
    checked.write_text(page.replace("</body>", CHECK + "</body>"))
    return checked


@pytest.mark.parametrize("width", [700, 1400])
def test_report_renders_in_chromium_without_overflow(report_page, width, tmp_path):
    browser = _browser()
    cmd = [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           f"--user-data-dir={tmp_path / 'profile'}", f"--window-size={width},1200", "--virtual-time-budget=15000",
           "--dump-dom", report_page.as_uri()]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    found = re.search(r'<pre id="jacstab-check">([^<]*)</pre>', proc.stdout)
    assert found, f"no check result (exit {proc.returncode}): {proc.stderr[-2000:]}"
    r = json.loads(found.group(1))
    assert r["innerWidth"] == width
    assert r["images"] == 3 and r["broken"] == 0  # fig1, fig3, fig4: each embedded PNG decoded
    assert r["past"] == 0 and r["scrollWidth"] <= r["innerWidth"], r  # nothing wider than the window
