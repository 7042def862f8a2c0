"""The page's tabs as the apps register them: by entry point, as each registers its config section.

An app ships a :class:`TabSpec` (its name, title, place in the page, what builds it, which of its
inputs the URL keeps) and names it in its ``pyproject.toml`` under the group
:data:`ENTRY_POINT_GROUP`::

    [project.entry-points."llm_serving_economics.view_tabs"]
    fleet = "optimize.view_tab:TAB"

The view finds the tabs here (:func:`installed_tabs`) and never imports an app above it: the
fleet, Sobol and uncertainty tabs live in ``optimize`` and ``sensitivity``, which import the
view's pieces (widgets, figures, the command line), not the other way round.
:class:`LazyTabs` builds each tab on first use.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

ENTRY_POINT_GROUP = "llm_serving_economics.view_tabs"


@dataclass(frozen=True)
class TabSpec:
    """One tab of the page, as its app registers it: what names, titles, places and builds it,
    and which of its inputs a link keeps."""

    name: str  # the tab's id: the entry point's name, ``app.tabs[name]``
    title: str  # what the tab's handle shows
    order: int  # its place in the page, smallest first (the first tab is built with the page)
    make: Callable[[], Any]  # builds the tab (no arguments): an object whose ``panel`` the page shows
    # query key -> (the tab's widget attribute, the widget's parameter) of the inputs a link keeps
    url_keys: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    def url_widgets(self, tab: Any) -> dict[str, tuple[object, str]]:
        """Query key -> (widget, parameter) of a built tab's inputs kept in the URL."""
        return {key: (getattr(tab, attr), param) for key, (attr, param) in self.url_keys.items()}


@lru_cache(maxsize=1)
def installed_tabs() -> tuple[TabSpec, ...]:
    """Every registered tab, in the page's order.

    Returns
    -------
    tuple of TabSpec
        Sorted by ``order``, then name.

    Raises
    ------
    TypeError
        An entry point that names no :class:`TabSpec`, or one whose name differs from its spec's.
    ValueError
        Two tabs claiming one query key.
    """
    from importlib.metadata import entry_points  # on first use: the pure modules import this package

    specs = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        spec = ep.load()
        if not isinstance(spec, TabSpec) or spec.name != ep.name:
            raise TypeError(f"entry point {ep.name} = {ep.value} ({ENTRY_POINT_GROUP}) must name a TabSpec "
                            f"called {ep.name!r}")
        specs.append(spec)
    owners: dict[str, str] = {}
    for spec in specs:
        for key in spec.url_keys:
            if key in owners:
                raise ValueError(f"query key {key!r} is claimed by the tabs {owners[key]!r} and {spec.name!r}")
            owners[key] = spec.name
    return tuple(sorted(specs, key=lambda s: (s.order, s.name)))


def installed_tab(name: str) -> TabSpec:
    """The registered tab called ``name`` (``KeyError`` for another name)."""
    for spec in installed_tabs():
        if spec.name == name:
            return spec
    raise KeyError(name)


def url_tabs() -> dict[str, str]:
    """Query key -> the name of the tab whose input it is, over every registered tab."""
    return {key: spec.name for spec in installed_tabs() for key in spec.url_keys}


class LazyTabs(Mapping):
    """The view's tab objects by name, each built on first use: the first with the page, the
    others when their tab is first opened or a link names one of their inputs (a session that only
    uses the calculator never builds the fleet, Sobol and uncertainty widgets).

    Parameters
    ----------
    makers
        A function building each tab (a :class:`~model.app.view.calculator.CalculatorTab`, ...).
    holders
        The ``panel.Column`` in the page that receives each tab's ``panel`` once built.
    """

    def __init__(self, makers: dict[str, Callable[[], Any]], holders: dict[str, Any]) -> None:
        self._makers, self._holders = makers, holders
        self._built: dict[str, Any] = {}
        self.on_build: list[Callable[[str, Any], None]] = []  # called with (name, tab) after each build

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            tab = self._makers[name]()  # KeyError for an unknown name, as a dict
            self._built[name] = tab
            self._holders[name].objects = [tab.panel]
            for hook in list(self.on_build):
                hook(name, tab)
        return self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._makers)

    def __len__(self) -> int:
        return len(self._makers)

    def built(self) -> list[str]:
        """The names of the tabs built so far, in the page's order."""
        return [name for name in self._makers if name in self._built]
