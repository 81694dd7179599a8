"""Render a demo report in headless Chromium and save a PNG screenshot.

    python scripts/screenshot_report.py out/demo/report.html out/demo/report.png [HEIGHT]

Needs Debian's chromium (`apt-get install chromium`).  The flags keep Chromium off the
network (it only opens the local file) and out of any user profile.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def _chromium(*args: str, capture: bool = False) -> str:
    exe = find_chromium()
    if exe is None:
        raise SystemExit("no chromium found: apt-get install chromium")
    with tempfile.TemporaryDirectory() as profile:
        out = subprocess.run(
            [exe, *FLAGS, f"--user-data-dir={profile}", *args],
            check=True,
            stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
            timeout=180,
        )
    return out.stdout or ""


def screenshot(html: Path, png: Path, *, width: int = 1280, height: int = 14000) -> Path:
    _chromium(
        f"--window-size={width},{height}", f"--screenshot={png.resolve()}", html.resolve().as_uri()
    )
    return png


# what the rendered page holds: each image's decoded size, each table's rows and empty cells
_PROBE = """<script>window.addEventListener('load', () => {
  const q = (s, el) => [...(el || document).querySelectorAll(s)];
  const out = {
    images: q('img').map(i => [i.alt, i.naturalWidth, i.naturalHeight]),
    tables: q('table').map(t => [t.className, q('tbody tr', t).length,
                                 q('td', t).filter(c => !c.textContent.trim()).length]),
    figures: q('figure').length,
    sections: q('h2').map(h => h.textContent),
    section_tops: q('h2').map(h => h.getBoundingClientRect().top + window.scrollY),
  };
  const pre = document.createElement('pre');
  pre.id = 'glassdyn-probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});</script>"""


def inspect(html: Path, *, width: int = 1280) -> dict:
    """Render ``html`` in headless Chromium and report what the browser shows: ``images``
    ([alt, width, height] as decoded), ``tables`` ([class, body rows, empty cells]),
    ``figures`` (count), ``sections`` (the h2 titles) and ``section_tops`` (their page offsets
    in pixels at ``width``).  The report itself has no script:
    a copy with a probe is rendered."""
    import html as htmlmod
    import json
    import re

    text = Path(html).read_text()
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "probe.html"
        probe.write_text(text.replace("</body>", _PROBE + "</body>"))
        dom = _chromium(
            f"--window-size={width},1000",
            "--virtual-time-budget=20000",
            "--dump-dom",
            probe.as_uri(),
            capture=True,
        )
    m = re.search(r'<pre id="glassdyn-probe">(.*?)</pre>', dom, re.DOTALL)
    if not m:
        raise RuntimeError("the rendered page did not run its probe")
    return json.loads(htmlmod.unescape(m.group(1)))


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        raise SystemExit(__doc__)
    height = int(sys.argv[3]) if len(sys.argv) == 4 else 14000
    out = screenshot(Path(sys.argv[1]), Path(sys.argv[2]), height=height)
    print(f"wrote {out}")
