"""The skeleton every app's run-on-demand tab fills in (the fleet, Sobol and uncertainty tabs).

:class:`AppTab` holds what they share: the server-wide callbacks
(:class:`~model.app.view.callbacks.AppCallbacks`), the inputs and last result, the one-line error
alert, the equivalent command, a run button (with a progress bar when the analysis reports
progress), the run in a worker thread (one at a time) and the page's sidebar + results layout.
A tab sets the class attributes, builds its widgets in :meth:`AppTab.build` and draws a result in
:meth:`AppTab.show`.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, ClassVar

import panel as pn

from model.app.view import downloads
from model.app.view.callbacks import AppCallbacks, one_line, shared
from model.app.view.widgets import TABLE_CSS, CommandBox, ErrorAlert, on_loop, session_doc

SIDEBAR_WIDTH = 340
SIDEBAR_STYLES = {"background": "#f9fafb", "border-right": "1px solid #e5e7eb"}


class AppTab:
    """A tab that runs one app on demand.

    Class attributes
    ----------------
    callbacks_class
        Its :class:`~model.app.view.callbacks.AppCallbacks` (one per server unless given).
    css
        CSS class prefix: ``<css>-error``, ``<css>-run``, ``<css>-progress``, ``<css>-progress-text``.
    run_label, busy_label
        The run button's label, and while it runs (``None``: the same, with a spinner).
    run_css
        The run button's CSS class (default ``<css>-run``).
    with_progress
        Whether the analysis reports progress (a bar and a line of text under the button).

    Parameters
    ----------
    callbacks
        The callbacks (default: the server-wide one, :func:`~model.app.view.callbacks.shared`).
    """

    callbacks_class: ClassVar[type[AppCallbacks]] = AppCallbacks
    css: ClassVar[str] = "view"
    run_label: ClassVar[str] = "Run"
    busy_label: ClassVar[str | None] = None
    run_css: ClassVar[str | None] = None
    with_progress: ClassVar[bool] = True

    def __init__(self, callbacks: AppCallbacks | None = None) -> None:
        self.callbacks = shared(self.callbacks_class) if callbacks is None else callbacks
        self.inputs = self.callbacks.defaults()
        self.result: Any = None
        self.running = threading.Lock()
        self.alert = ErrorAlert(f"{self.css}-error")
        self.command = CommandBox(f"view-cli-{self.callbacks.app}")
        self.run_button = pn.widgets.Button(label=self.run_label, color="primary", width=140,
                                            css_classes=[self.run_css or f"{self.css}-run"])
        self.run_button.on_click(lambda event: self.start())
        self.progress: pn.indicators.Progress | None = None
        self.progress_text: pn.pane.HTML | None = None
        if self.with_progress:
            self.progress = pn.indicators.Progress(label="progress", value=0, max=100, width=290,
                                                   bar_color="primary", css_classes=[f"{self.css}-progress"])
            self.progress_text = pn.pane.HTML('<span class="note">Not run yet.</span>', stylesheets=[TABLE_CSS],
                                              css_classes=[f"{self.css}-progress-text"], margin=(0, 10))
        self.panel = self.build()
        self.show_command()

    # -- what a tab fills in --------------------------------------------------------------
    def build(self) -> pn.viewable.Viewable:
        """Make the tab's widgets and return its layout (see :meth:`layout`)."""
        raise TypeError(f"{type(self).__name__} must define build()")

    def analyze(self, inputs: Any, progress: Callable[[int, int], None]) -> Any:
        """The tab's run of ``inputs``, calling ``progress(done, total)`` as it goes."""
        raise TypeError(f"{type(self).__name__} must define analyze()")

    def progress_note(self, done: int, total: int) -> str:
        """The progress line's text after ``done`` of ``total`` blocks."""
        return f"block {done:,} of {total:,}"

    def show(self, result: Any, seconds: float = float("nan")) -> None:
        """Draw a result that took ``seconds``."""
        raise TypeError(f"{type(self).__name__} must define show()")

    def inputs_changed(self, key: str) -> None:
        """Called after :meth:`set` changed ``key`` (before the command is shown again)."""

    # -- inputs ---------------------------------------------------------------------------
    def set(self, key: str, value: Any) -> None:
        """Change one input (a key of the inputs' ``set``) and show the new equivalent command."""
        self.inputs = self.inputs.set(key, value)
        self.inputs_changed(key)
        self.show_command()

    def show_command(self) -> None:
        """Show the equivalent command of the current inputs."""
        self.command.show(self.callbacks.command(self.inputs))

    def follow(self, widget: Any, key: str) -> Any:
        """Have ``widget``'s value set input ``key``; returns the widget."""
        widget.param.watch(lambda event: self.set(key, event.new), "value")
        return widget

    def download(self, filename: str, label: str, data: Callable[[Any], bytes]) -> pn.widgets.FileDownload:
        """A button downloading ``data(result)`` of the last result (an empty file before one)."""
        def callback() -> Any:
            return downloads.as_file(b"" if self.result is None else data(self.result))

        return pn.widgets.FileDownload(callback=callback, filename=filename, label=label, color="primary",
                                       variant="outline", width=150)

    def layout(self, sidebar: Sequence[Any], main: Sequence[Any], name: str) -> pn.Row:
        """The tab's page: the inputs in a sidebar, the results beside it taking the width left."""
        return pn.Row(pn.Column(*sidebar, width=SIDEBAR_WIDTH, styles=SIDEBAR_STYLES),
                      pn.Column(*main, sizing_mode="stretch_width", styles={"min-width": "0"}),
                      sizing_mode="stretch_width", name=name)

    # -- the run ----------------------------------------------------------------------------
    def start(self, wait: bool = False) -> None:
        """Run the current inputs in a worker thread (one at a time; a press while one runs does
        nothing).

        Parameters
        ----------
        wait
            Block until it is done (tests).
        """
        if not self.running.acquire(blocking=False):
            return
        self.run_button.loading = True
        if self.busy_label:
            self.run_button.label = self.busy_label
        if self.progress is not None:
            self.progress.value = 0
            self.progress_text.object = '<span class="note">Composing the config…</span>'
        worker = threading.Thread(target=self._run, args=(self.inputs, session_doc()), daemon=True)
        worker.start()
        if wait:
            worker.join()

    def _run(self, inputs: Any, doc: Any) -> None:
        start = time.perf_counter()
        shown = [-1]

        def progress(done: int, total: int) -> None:
            percent = int(100 * done / max(total, 1))
            if percent != shown[0] and self.progress is not None:
                shown[0] = percent
                text = f'<span class="note">{self.progress_note(done, total)}</span>'
                on_loop(doc, partial(self._progress, percent, text))

        try:
            result = self.analyze(inputs, progress)
        except Exception as err:  # noqa: BLE001 - refused inputs and engine failures are shown, the page stays up
            on_loop(doc, partial(self._failed, one_line(err)))
            return
        finally:
            self.running.release()
        on_loop(doc, partial(self._done, result, time.perf_counter() - start))

    def _idle(self) -> None:
        self.run_button.loading = False
        self.run_button.label = self.run_label

    def _progress(self, percent: int, text: str) -> None:
        self.progress.value = percent
        self.progress_text.object = text

    def _failed(self, line: str) -> None:
        self._idle()
        self.alert.show(line)
        if self.progress_text is not None:
            self.progress_text.object = '<span class="note">Not run: see the message above.</span>'

    def _done(self, result: Any, seconds: float) -> None:
        self._idle()
        self.result = result
        self.show(result, seconds)
