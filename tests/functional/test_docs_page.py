"""GET /docs of the real binary in headless Chromium (Debian's `chromium`): the page renders
every operation of the document, with every host name but 127.0.0.1 unresolvable, so it
provably needs no internet (the page's Content-Security-Policy forbids other origins too).

Writes a screenshot to $DOCS_SCREENSHOT (default: the test's temporary directory);
`DOCS_SCREENSHOT=docs/docs-page.png` refreshes the one kept in the repository.
"""

import os
import re
import shutil
import subprocess

import pytest
import requests

CHROMIUM = shutil.which("chromium")
# Flags for a quiet, reproducible headless run in a container (root, no GPU, no sync).
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
    "--hide-scrollbars", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--virtual-time-budget=15000",
]
TIMEOUT_S = 90

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")


@pytest.fixture(scope="module")
def service_env():
    return {"THREADS": "1", "LOG_LEVEL": "warn"}


def chromium(tmp_path, *args):
    profile = tmp_path / "profile"  # a fresh profile: no cache, no state from other runs
    result = subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True, timeout=TIMEOUT_S, check=True,
    )
    return result.stdout.decode()


def test_docs_page_renders_every_operation_offline(service, tmp_path):
    document = requests.get(service.base_url + "/openapi.json", timeout=10).json()
    dom = chromium(tmp_path, "--dump-dom", service.base_url + "/docs")

    assert 'class="swagger-ui' in dom, dom[:2000]
    assert document["info"]["title"] in dom
    assert "Failed to load API definition" not in dom
    # Swagger UI gives each operation the id "operations-<tag>-<operationId>".
    rendered = set(re.findall(r'id="operations-[^-"]+-([A-Za-z0-9_]+)"', dom))
    expected = {op["operationId"] for item in document["paths"].values() for op in item.values()}
    assert expected <= rendered, f"not rendered: {sorted(expected - rendered)}"
    assert len(expected) >= 15  # the whole contract, not a stub document


def test_docs_page_screenshot(service, tmp_path):
    target = os.environ.get("DOCS_SCREENSHOT") or str(tmp_path / "docs-page.png")
    chromium(tmp_path, "--window-size=1280,1600", f"--screenshot={os.path.abspath(target)}",
             service.base_url + "/docs")
    with open(target, "rb") as f:
        header = f.read(8)
    assert header == b"\x89PNG\r\n\x1a\n"
    assert os.path.getsize(target) > 20_000  # a rendered page, not a blank one


def test_assets_are_served_gzipped_over_real_http(service):
    url = service.base_url + "/docs/swagger-ui-bundle.js"
    gzipped = requests.get(url, headers={"Accept-Encoding": "gzip"}, timeout=10)  # decoded by requests
    plain = requests.get(url, headers={"Accept-Encoding": "identity"}, timeout=10)
    assert gzipped.headers["Content-Encoding"] == "gzip"
    assert "Content-Encoding" not in plain.headers
    assert int(gzipped.headers["Content-Length"]) < int(plain.headers["Content-Length"]) // 3
    assert gzipped.content == plain.content  # the same file, byte for byte
    assert gzipped.headers["Vary"] == "Accept-Encoding"
    assert gzipped.headers["Cache-Control"] == "public, max-age=86400"
