"""The upload page in a real headless Firefox (Debian's firefox-esr) against the local stack.

Playwright's Firefox is a patched build that cannot be downloaded here, so Firefox is driven over
WebDriver BiDi by puppeteer-core from a small Node script (tests/e2e/firefox_smoke.mjs; `make
browser` installs firefox-esr and the locked node_modules). A smoke test: sign in, upload a photo
and a non-image through the real file input, see the thumbnail and the rejection reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.photos import make_photo

pytestmark = [pytest.mark.e2e, pytest.mark.local]

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "e2e" / "firefox_smoke.mjs"
FIREFOX = shutil.which("firefox-esr") or "/usr/bin/firefox-esr"
NODE = shutil.which("node")
SCRIPT_TIMEOUT_S = 90


def test_firefox_uploads_a_photo_and_shows_a_rejection(stack: Any, tmp_path: Path) -> None:
    if not Path(FIREFOX).exists():
        pytest.fail(f"Firefox not found at {FIREFOX}: make browser (apt-get install firefox-esr)")
    if NODE is None:
        pytest.fail("node not found on PATH: the Firefox test runs a Node script")
    if not (ROOT / "node_modules" / "puppeteer-core").is_dir():
        pytest.fail("node_modules/puppeteer-core missing: make browser (npm ci --ignore-scripts)")

    photo = make_photo(tmp_path / "lighthouse.jpg", (1600, 1200), seed=31)
    fake = tmp_path / "notes.jpg"
    fake.write_text("plain text that only claims to be a JPEG\n" * 40)

    env = {**os.environ, "SHOEBOX_FIREFOX": FIREFOX, "PUPPETEER_SKIP_DOWNLOAD": "1"}
    try:
        done = subprocess.run(
            [NODE, str(SCRIPT), stack.api_url + "/", str(photo), str(fake)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=SCRIPT_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as error:
        out = error.stdout or b""
        err = error.stderr or b""
        pytest.fail(
            f"firefox_smoke.mjs did not finish in {SCRIPT_TIMEOUT_S}s\n"
            f"stdout:\n{out.decode() if isinstance(out, bytes) else out}\n"
            f"stderr:\n{err.decode() if isinstance(err, bytes) else err}"
        )
    print(done.stdout, done.stderr, sep="")  # shown by pytest -rA: each step with its time
    assert done.returncode == 0, (
        f"firefox_smoke.mjs exited {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    )
    assert "PASS" in done.stdout, done.stdout
