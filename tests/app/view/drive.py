"""Drive the view in headless Chromium: the browser tests' and the latency benchmark's tools.

Starts ``serving-view`` (``python -m model.app.view.server``) on a free loopback port, opens
Debian's ``/usr/bin/chromium`` through ``/usr/bin/chromedriver`` with selenium (the test extra;
imported only here, only when used), and reaches the page's widgets through BokehJS: every
widget and pane of the view carries a CSS class (``view-…``), Panel renders each inside a shadow
root, and a value set on a Bokeh model in the page travels to the server as a user's would.
Nothing here touches the network beyond 127.0.0.1.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROME_ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-extensions", "--disable-default-apps", "--mute-audio")

# JS shared by every script: find through shadow roots, find Bokeh models by CSS class or name.
JS_LIB = r"""
window.__view = window.__view || (function () {
  function deep(root, sel) {
    const hit = root.querySelector(sel);
    if (hit) return hit;
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) { const x = deep(el.shadowRoot, sel); if (x) return x; }
    }
    return null;
  }
  function models() { return Array.from(Bokeh.documents[0].all_models); }
  function byClass(css) {
    return models().find(m => m.css_classes && m.css_classes.includes(css)) || null;
  }
  // the value-holding model under a widget: the widget itself, or a composite's slider / input
  function valueModel(css, prefer) {
    const top = byClass(css);
    if (top === null) return null;
    if ('value' in top && top.type !== 'panel.models.layout.Column') return top;
    const queue = [top];
    let fallback = null;
    while (queue.length) {
      const m = queue.shift();
      if (m.type === prefer) return m;
      if (fallback === null && m !== top && 'value' in m && m.type !== 'panel.models.markup.HTML') fallback = m;
      for (const c of (m.children || [])) queue.push(Array.isArray(c) ? c[1] || c[0] : c);
    }
    return fallback;
  }
  function host(css) { return deep(document, '.' + css); }
  function inner(css, sel) {
    const h = host(css);
    if (h === null) return null;
    return (h.shadowRoot && h.shadowRoot.querySelector(sel)) || h.querySelector(sel);
  }
  return {deep, models, byClass, valueModel, host, inner};
})();
"""


# Elements of the shown tab whose right edge is beyond the window, and a sideways-scrolling page.
JS_CUT_OFF = r"""
const out = [];
const doc = document.documentElement;
if (doc.scrollWidth > window.innerWidth) out.push(`page scrolls sideways: ${doc.scrollWidth} > ${window.innerWidth}`);
function shown(el) {
  for (let e = el; e; e = e.parentElement || (e.getRootNode() && e.getRootNode().host)) {
    const s = getComputedStyle(e);
    if (s.display === 'none' || s.visibility === 'hidden') return false;
  }
  return true;
}
function walk(root) {
  for (const el of root.querySelectorAll('*')) {
    if (el.shadowRoot) walk(el.shadowRoot);
    if (!['CANVAS', 'TABLE', 'BUTTON', 'INPUT', 'SELECT', 'TH'].includes(el.tagName)) continue;
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.height > 0 && r.right > window.innerWidth + 0.5 && shown(el)) {
      out.push(`${el.tagName}.${String(el.className).slice(0, 40)} right=${Math.round(r.right)}`);
    }
  }
}
walk(document);
return out;
"""


def missing() -> str | None:
    """Why the browser cannot be driven here, or ``None`` if it can.

    Returns
    -------
    str or None
        ``"browser tests skipped: /usr/bin/chromium not found"`` and the like.
    """
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            return f"browser tests skipped: {path} not found"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "browser tests skipped: selenium is not installed (pip install -e '.[test]')"
    return None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now.

    Returns
    -------
    int
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ViewServer:
    """``python -m model.app.view.server`` in a subprocess on a free loopback port.

    Parameters
    ----------
    port
        The port (default: a free one).
    timeout
        Seconds to wait for the server to answer.
    """

    def __init__(self, port: int | None = None, timeout: float = 120.0) -> None:
        self.port = free_port() if port is None else port
        self.timeout = timeout
        self.url = f"http://127.0.0.1:{self.port}/"
        self.process: subprocess.Popen | None = None
        self.first_line = ""
        self.stderr_path = Path(tempfile.mkstemp(prefix="serving-view-", suffix=".err")[1])

    def __enter__(self) -> ViewServer:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self._stderr = self.stderr_path.open("w")
        self.process = subprocess.Popen([sys.executable, "-m", "model.app.view.server", "--port", str(self.port)],
                                        stdout=subprocess.PIPE, stderr=self._stderr, text=True, env=env)
        self.first_line = self.process.stdout.readline().strip()
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serving-view exited {self.process.returncode}: {self.stderr()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.2)
        raise TimeoutError(f"serving-view did not listen on {self.url} within {self.timeout:g} s")

    def stderr(self) -> str:
        """What the server wrote to stderr so far."""
        return self.stderr_path.read_text() if self.stderr_path.exists() else ""

    def stop(self) -> int:
        """Send Ctrl-C (SIGINT) and wait; the exit code (130 expected)."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(2)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._stderr.close()
        return int(self.process.returncode)

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.stderr_path.unlink(missing_ok=True)


def chrome(width: int = 1400, height: int = 900, user_data_dir: str | None = None):
    """Headless Chromium through chromedriver, its viewport ``width`` x ``height`` pixels.

    Parameters
    ----------
    width, height
        Viewport size, pixels.
    user_data_dir
        Profile directory (default: a new temporary one).

    Returns
    -------
    selenium.webdriver.Chrome
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in CHROME_ARGS:
        options.add_argument(arg)
    options.add_argument(f"--window-size={width},{height}")
    options.add_argument(f"--user-data-dir={user_data_dir or tempfile.mkdtemp(prefix='view-chromium-')}")
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
    driver.set_script_timeout(60)
    return driver


class Page:
    """The view loaded in a browser, reached through BokehJS.

    Parameters
    ----------
    driver
        A selenium driver (:func:`chrome`).
    url
        The view's URL.
    timeout
        Seconds to wait for the page to render.
    """

    def __init__(self, driver: Any, url: str, timeout: float = 120.0) -> None:
        self.driver = driver
        self.url = url
        driver.get(url)
        self.wait("return !!(window.Bokeh && Bokeh.documents && Bokeh.documents.length)", timeout)
        self.wait(JS_LIB + "return __view.inner('view-readout', 'table') !== null", timeout)

    def js(self, script: str, *args: Any) -> Any:
        """Run ``script`` (with the helpers ``__view.*``) and return its value."""
        return self.driver.execute_script(JS_LIB + script, *args)

    def wait(self, script: str, timeout: float = 30.0, *args: Any) -> Any:
        """Poll ``script`` until it returns something truthy; its value.

        Raises
        ------
        TimeoutError
        """
        deadline = time.monotonic() + timeout
        while True:
            value = self.driver.execute_script(script if "__view" not in script else JS_LIB + script, *args)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout:g} s for: {script[-160:]}")
            time.sleep(0.1)

    def set(self, css: str, value: Any, prefer: str = "Slider") -> None:
        """Set the value of the widget with CSS class ``css`` in the browser (a composite's
        ``prefer`` model, e.g. an editable slider's slider)."""
        ok = self.js("const m = __view.valueModel(arguments[0], arguments[2]); if (m === null) return false;"
                     "m.value = arguments[1]; return true;", css, value, prefer)
        if not ok:
            raise LookupError(f"no widget with CSS class {css!r}")

    def check(self, css: str, active: bool) -> None:
        """Tick or clear the checkbox with CSS class ``css`` (a Bokeh ``Checkbox``'s ``active``)."""
        ok = self.js("const m = __view.byClass(arguments[0]); if (m === null) return false; m.active = arguments[1];"
                     "return true;", css, bool(active))
        if not ok:
            raise LookupError(f"no checkbox with CSS class {css!r}")

    def select_tab(self, index: int, timeout: float = 60.0) -> None:
        """Show tab ``index`` (0: calculator, 1: fleet plan, 2: sensitivity, 3: uncertainty) and
        wait until its content is in the page (a tab is built on the server when first opened)."""
        self.js("__view.byClass('view-tabs').active = arguments[0];", index)
        self.wait("const t = __view.byClass('view-tabs'); const c = t && t.tabs[arguments[0]].child;"
                  "return c && c.children && c.children.length > 0;", timeout, index)
        time.sleep(0.5)

    def click(self, css: str) -> None:
        """Click the button of the widget with CSS class ``css``."""
        ok = self.js("const b = __view.inner(arguments[0], 'button'); if (b === null) return false; b.click();"
                     "return true;", css)
        if not ok:
            raise LookupError(f"no button with CSS class {css!r}")

    def html(self, css: str) -> str:
        """The rendered inner HTML of the pane with CSS class ``css`` ('' if absent)."""
        return self.js("const h = __view.host(arguments[0]); if (h === null) return '';"
                       "return (h.shadowRoot || h).innerHTML;", css) or ""

    def attribute(self, css: str, selector: str, name: str) -> str | None:
        """An attribute of the first element matching ``selector`` in the pane with class ``css``."""
        return self.js("const e = __view.inner(arguments[0], arguments[1]); return e ? e.getAttribute(arguments[2])"
                       " : null;", css, selector, name)

    def readout(self, variable: str, hardware: str) -> float:
        """The exact number behind a readout cell (its ``data-value``)."""
        raw = self.attribute("view-readout", f'td[data-var="{variable}"][data-hw="{hardware}"]', "data-value")
        return float("nan") if raw in (None, "") else float(raw)

    def wait_readout_point(self, isl: int, concurrency: int, timeout: float = 30.0) -> None:
        """Wait until the readout table shows (``isl``, ``concurrency``)."""
        self.wait("const t = __view.inner('view-readout', 'table'); return t && t.getAttribute('data-isl') == "
                  "arguments[0] && t.getAttribute('data-n') == arguments[1];", timeout, str(isl), str(concurrency))

    def timed_set(self, css: str, value: int, attribute: str, source: str | None = None,
                  timeout_ms: int = 20000, expect: Any = None, prefer: str = "Slider") -> tuple[float, float]:
        """Set a slider in the page and time, from that moment, the readout's update (a
        MutationObserver on the readout's shadow root until its table's ``attribute`` equals
        ``value``) and the plot's (the named ColumnDataSource's change, then the next frame).

        Parameters
        ----------
        css
            The slider's CSS class.
        value
            Its new value.
        attribute
            The readout table's attribute that must reach ``value`` (``data-n``, ``data-isl``).
        source
            Name of a ColumnDataSource whose change marks the plot's update (``None``: not timed).
        timeout_ms
            Give up after this long (the times are then -1).
        expect
            The ``attribute`` value that marks the update (default: ``value``; a discrete
            slider's model holds an index, the readout the ISL).
        prefer
            The model type to set under a composite widget (``Slider``; ``Spinner`` for a number input).

        Returns
        -------
        tuple of float
            Milliseconds to the readout update and to the plot update (painted).
        """
        script = JS_LIB + r"""
const [css, value, attribute, sourceName, timeoutMs, expect, prefer, done] = arguments;
const host = __view.host('view-readout');
const root = host.shadowRoot || host;
let readout = -1, plot = sourceName ? -1 : 0, finished = false;
const t0 = performance.now();
function finish() {
  if (!finished && readout >= 0 && plot >= 0) { finished = true; obs.disconnect(); done([readout, plot]); }
}
const obs = new MutationObserver(() => {
  const t = root.querySelector('table');
  if (readout < 0 && t && t.getAttribute(attribute) == String(expect)) { readout = performance.now() - t0; finish(); }
});
obs.observe(root, {subtree: true, childList: true, characterData: true, attributes: true});
if (sourceName) {
  const src = Bokeh.documents[0].get_model_by_name(sourceName);
  src.change.connect(() => {
    if (plot < 0) requestAnimationFrame(() => { plot = performance.now() - t0; finish(); });
  });
}
__view.valueModel(css, prefer).value = value;
setTimeout(() => { if (!finished) { finished = true; obs.disconnect(); done([readout, plot]); } }, timeoutMs);
"""
        expect = value if expect is None else expect
        readout, plot = self.driver.execute_async_script(script, css, value, attribute, source, timeout_ms, expect,
                                                         prefer)
        return float(readout), float(plot)

    def cut_off(self) -> list[str]:
        """What the viewport cuts off sideways: every shown canvas, table, button, input or select
        whose right edge lies beyond the window (hidden tabs excluded), and the page itself if it
        scrolls sideways.

        Returns
        -------
        list of str
            ``"<tag>.<class> right=<px>"`` per element; empty when everything fits.
        """
        return self.js(JS_CUT_OFF)

    def rect(self, css: str, selector: str | None = None) -> dict[str, float] | None:
        """The viewport rectangle (left, top, right, bottom) of the pane with class ``css`` or of
        the first ``selector`` inside it (at any depth of shadow roots); ``None`` if absent or
        not shown."""
        return self.js("const h = __view.host(arguments[0]);"
                       "const e = h && arguments[1] ? __view.deep(h.shadowRoot || h, arguments[1]) : h;"
                       "if (!e) return null; const r = e.getBoundingClientRect();"
                       "if (r.width === 0 && r.height === 0) return null;"
                       "return {left: r.left, top: r.top, right: r.right, bottom: r.bottom};", css, selector)

    def screenshot(self, path: str | Path) -> Path:
        """Save the viewport as a PNG."""
        path = Path(path)
        self.driver.save_screenshot(str(path))
        return path

