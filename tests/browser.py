"""Headless Chromium for map tests: probe a page's DOM and take screenshots, offline.

No Selenium and no DevTools client: Chromium runs once per check with
``--dump-dom`` or ``--screenshot`` and a virtual-time budget, with every host name
resolving to nothing and a dead proxy, so a page that needs the network fails.
The page under test is a *copy* with two small scripts injected: one at the top
of ``<head>`` collecting errors (``window.onerror``, rejected promises,
``console.error``) and ``alert`` calls, and one at the end that, after load, opens
every bound popup, counts Leaflet elements and writes a JSON summary into a
``<pre id="__probe">`` element that ``--dump-dom`` prints.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import shutil
import signal
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

#: Flags for a quiet, sandbox-free, network-free headless run.
BASE_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--mute-audio",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=http://127.0.0.1:9",
)

_HEAD_PROBE = """<script>
window.__errors = []; window.__alerts = [];
window.addEventListener('error', function (e) {
  if (e && e.message) { window.__errors.push(e.message + ' @' + (e.filename || '') + ':' + (e.lineno || '')); }
});
window.addEventListener('unhandledrejection', function (e) { window.__errors.push('rejection: ' + e.reason); });
window.alert = function (x) { window.__alerts.push(String(x)); };
(function () {
  var original = console.error;
  console.error = function () {
    window.__errors.push('console.error: ' + Array.prototype.join.call(arguments, ' '));
    return original.apply(console, arguments);
  };
})();
</script>
"""

_TAIL_PROBE = """<script>
window.addEventListener('load', function () { setTimeout(function () {
  var out = {leaflet: typeof L, version: (window.L && L.version) || null, maps: 0, popups: 0,
             suspicious: []};
  try {
    var maps = Object.keys(window).filter(function (k) {
      return /^map_/.test(k) && window.L && window[k] instanceof L.Map;
    }).map(function (k) { return window[k]; });
    out.maps = maps.length;
    out.interactive = document.querySelectorAll('.leaflet-interactive').length;
    out.markers = document.querySelectorAll('.leaflet-marker-icon').length;
    out.paths = document.querySelectorAll('path.leaflet-interactive').length;
    out.legends = document.querySelectorAll('.sp-legend').length;
    out.legend_text = Array.prototype.map.call(document.querySelectorAll('.sp-legend'),
                                               function (e) { return e.textContent; });
    out.layer_controls = document.querySelectorAll('.leaflet-control-layers').length;
    out.overlay_inputs = document.querySelectorAll('.leaflet-control-layers-overlays input').length;
    out.titles = Array.prototype.map.call(document.querySelectorAll('.sp-map-title'),
                                          function (e) { return e.textContent; });
    maps.forEach(function (m) {
      m.eachLayer(function (l) {
        if (out.popups < __MAX_POPUPS__ && l.getPopup && l.getPopup() && (l.getLatLng || l.getBounds)) {
          l.openPopup();
          out.popups += 1;
          var el = l.getPopup().getElement();
          var text = el ? el.textContent : '';
          if (/alert|script|onerror/i.test(text)) { out.suspicious.push(text); }
          l.closePopup();
        }
      });
    });
    var box = document.querySelector('input[data-sp-toggle]');
    if (box) {
      var hidden = function () {
        return Array.prototype.filter.call(document.querySelectorAll('.leaflet-marker-icon'),
          function (e) { return getComputedStyle(e).display === 'none'; }).length;
      };
      box.checked = false; box.dispatchEvent(new Event('change'));
      out.toggle = {key: box.getAttribute('data-sp-toggle'), hidden: hidden()};
      box.checked = true; box.dispatchEvent(new Event('change'));
      out.toggle.after = hidden();
    }
    if (maps.length === 2) {
      maps[0].setView([maps[0].getCenter().lat + 0.01, maps[0].getCenter().lng], maps[0].getZoom() + 1,
                      {animate: false});
      out.synced = Math.abs(maps[0].getCenter().lat - maps[1].getCenter().lat) < 1e-9 &&
                   maps[0].getZoom() === maps[1].getZoom();
    }
  } catch (e) { window.__errors.push('probe: ' + e); }
  out.errors = window.__errors;
  out.alerts = window.__alerts;
  var pre = document.createElement('pre');
  pre.id = '__probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
}, 300); });
</script>
"""


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable on PATH, or None."""
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def has_cjk_font() -> bool | None:
    """Whether fontconfig knows a Chinese font (None when ``fc-list`` is missing).

    Without one, Chromium draws Chinese labels as empty boxes (Debian: ``fonts-noto-cjk``).
    """
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return None
    out = subprocess.run([fc_list, ":lang=zh", "family"], capture_output=True, text=True, check=False)
    return bool(out.stdout.strip())


def instrument(page: str, *, max_popups: int = 1000) -> str:
    """A copy of ``page`` with the error collector first in ``<head>`` and the probe at the end.

    The probe opens and closes at most ``max_popups`` bound popups.
    """
    head = page.lower().find("<head>")
    if head < 0:
        raise ValueError("page has no <head>")
    at = head + len("<head>")
    page = page[:at] + "\n" + _HEAD_PROBE + page[at:]
    end = page.lower().rfind("</html>")
    tail = _TAIL_PROBE.replace("__MAX_POPUPS__", str(int(max_popups)))
    return (page[:end] + tail + page[end:]) if end >= 0 else page + tail


def _run(chromium: str, args: list[str], *, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run Chromium in its own process group with a fresh profile; kill that group on timeout."""
    with tempfile.TemporaryDirectory(prefix="sp-chromium-") as profile:
        cmd = [chromium, *BASE_FLAGS, f"--user-data-dir={profile}", *args]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
        return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def probe(page: str, folder: Path, *, chromium: str | None = None, size: tuple[int, int] = (1280, 860),
          budget_ms: int = 4000, timeout: float = 45, max_popups: int = 1000) -> dict[str, Any]:
    """Load an instrumented copy of ``page`` offline and return the probe's summary.

    Parameters
    ----------
    page
        HTML document.
    folder
        Where to write the instrumented copy.
    chromium
        Browser executable (found on PATH when omitted).
    size
        Window size, pixels.
    budget_ms
        Virtual time to let the page run before the DOM is dumped.
    timeout
        Seconds before the browser is killed.
    max_popups
        How many bound popups to open (each once) looking for injected script.

    Returns
    -------
    dict
        ``leaflet`` (typeof L), ``maps``, ``interactive``, ``markers``, ``paths``,
        ``legends``, ``legend_text``, ``layer_controls``, ``overlay_inputs``,
        ``titles``, ``popups`` (opened), ``suspicious`` (popup texts mentioning
        script/alert), ``toggle`` (markers hidden by unticking the first legend
        check box, and after ticking it again), ``synced`` (dual maps), ``errors``,
        ``alerts``.
    """
    chromium = chromium or find_chromium()
    if chromium is None:
        raise RuntimeError("no chromium on PATH")
    path = Path(folder) / "probe.html"
    path.write_text(instrument(page, max_popups=max_popups), encoding="utf-8")
    proc = _run(chromium, [f"--window-size={size[0]},{size[1]}", f"--virtual-time-budget={budget_ms}",
                           "--dump-dom", path.as_uri()], timeout=timeout)
    start = proc.stdout.find('<pre id="__probe">')
    if start < 0:
        raise AssertionError(f"probe did not run (exit {proc.returncode}): {proc.stderr[-2000:]}")
    end = proc.stdout.find("</pre>", start)
    return json.loads(html.unescape(proc.stdout[start + len('<pre id="__probe">'):end]))


def screenshot(page: str, png: Path, *, chromium: str | None = None, size: tuple[int, int] = (1280, 860),
               budget_ms: int = 4000, timeout: float = 45) -> Path:
    """Render ``page`` offline and save a PNG screenshot of the window.

    Parameters
    ----------
    page
        HTML document.
    png
        Output PNG path (the page is written next to it).
    chromium, size, budget_ms, timeout
        As :func:`probe`.

    Returns
    -------
    pathlib.Path
        ``png``.
    """
    chromium = chromium or find_chromium()
    if chromium is None:
        raise RuntimeError("no chromium on PATH")
    png = Path(png)
    source = png.with_suffix(".html")
    source.write_text(page, encoding="utf-8")
    proc = _run(chromium, [f"--window-size={size[0]},{size[1]}", f"--virtual-time-budget={budget_ms}",
                           f"--screenshot={png}", source.as_uri()], timeout=timeout)
    if not png.exists():
        raise AssertionError(f"no screenshot (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return png


# --------------------------------------------------------------------------- PNG reading (stdlib + NumPy)
def _paeth_row(raw: list[int], prior: list[int], bpp: int) -> list[int]:
    out = [0] * len(raw)
    for i, x in enumerate(raw):
        b = prior[i]
        if i >= bpp:
            a, c = out[i - bpp], prior[i - bpp]
        else:
            a = c = 0
        p = a + b - c
        pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
        out[i] = (x + (a if pa <= pb and pa <= pc else (b if pb <= pc else c))) & 0xFF
    return out


def _average_row(raw: list[int], prior: list[int], bpp: int) -> list[int]:
    out = [0] * len(raw)
    for i, x in enumerate(raw):
        out[i] = (x + ((out[i - bpp] if i >= bpp else 0) + prior[i]) // 2) & 0xFF
    return out


def _unfilter(kind: int, raw: np.ndarray, prior: np.ndarray, bpp: int) -> np.ndarray:
    if kind == 0:
        return raw
    if kind == 1:  # Sub: running sum per channel
        return (np.cumsum(raw.reshape(-1, bpp).astype(np.int64), axis=0) & 0xFF).astype(np.uint8).ravel()
    if kind == 2:  # Up
        return ((raw.astype(np.int32) + prior) & 0xFF).astype(np.uint8)
    if kind in (3, 4):  # Average, Paeth: sequential, on Python ints
        row = (_average_row if kind == 3 else _paeth_row)(raw.tolist(), prior.tolist(), bpp)
        return np.asarray(row, dtype=np.uint8)
    raise ValueError(f"bad PNG filter {kind}")


def read_png(path: Path) -> np.ndarray:
    """Decode an 8-bit RGB/RGBA PNG into a ``(height, width, channels)`` uint8 array."""
    data = Path(path).read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, header = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    if header is None:
        raise ValueError("PNG without IHDR")
    width, height, depth, colour, _, _, interlace = header
    channels = {2: 3, 6: 4, 0: 1, 4: 2}.get(colour)
    if depth != 8 or channels is None or interlace:
        raise ValueError("only 8-bit, non-interlaced grey/RGB(A) PNGs are supported")
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), dtype=np.uint8)
    stride = width * channels
    rows = raw.reshape(height, stride + 1)
    out = np.zeros((height, stride), dtype=np.uint8)
    prior = np.zeros(stride, dtype=np.uint8)
    for y in range(height):
        prior = out[y] = _unfilter(int(rows[y, 0]), rows[y, 1:], prior, channels)
    return out.reshape(height, width, channels)


def image_stats(img: np.ndarray) -> dict[str, float]:
    """Simple "is anything drawn" statistics of a decoded screenshot (:func:`read_png`).

    Returns
    -------
    dict
        ``std`` (grey-level standard deviation), ``colours`` (distinct RGB values),
        ``width``, ``height``.
    """
    rgb = img[..., :3].astype(np.int64)
    grey = rgb.mean(axis=2)
    packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    return {"std": float(grey.std()), "colours": float(len(np.unique(packed))),
            "width": float(img.shape[1]), "height": float(img.shape[0])}


def colour_fraction(img: np.ndarray, rgb: tuple[int, int, int], *, tol: int = 12) -> float:
    """Fraction of pixels of a decoded image within ``tol`` (per channel) of colour ``rgb``."""
    close = np.all(np.abs(img[..., :3].astype(np.int32) - np.asarray(rgb, dtype=np.int32)) <= tol, axis=2)
    return float(close.mean())
