"""Where a catalog value comes from, and whether the catalog marks it uncertain.

The catalog entries (``hardware.<name>``, ``models.<name>``, ``workload``) carry a ``source``
dict and an ``uncertain`` list (:class:`model.schema.Sourced`).  The view shows the source of
every catalog value it lets the user edit, and marks the uncertain ones.
"""
from __future__ import annotations

from dataclasses import dataclass

from omegaconf import DictConfig

UNCERTAIN_MARK = "⚠"
NO_SOURCE = "no source in the catalog (the schema's default)"


@dataclass(frozen=True)
class Note:
    """The provenance of one config key (``key``, dotted): the catalog's ``source`` text (or
    :data:`NO_SOURCE`) and whether the key's field is in its entry's ``uncertain`` list."""

    key: str
    source: str
    uncertain: bool

    def tooltip(self) -> str:
        """Text of the input's tooltip: the key, whether uncertain, the source."""
        flag = f"{UNCERTAIN_MARK} uncertain (an estimate or assumption). " if self.uncertain else ""
        return f"{self.key}: {flag}Source: {self.source}"

    def label(self, text: str) -> str:
        """An input's label, with the uncertain mark where it applies."""
        return f"{text} {UNCERTAIN_MARK}" if self.uncertain else text


def entry_and_field(key: str) -> tuple[str, str]:
    """The catalog entry (``hardware.b200``, ``workload``) and its field a key belongs to.

    Parameters
    ----------
    key
        Dotted config key, e.g. ``hardware.b200.price_per_hour`` or ``workload.price_sheet.output``.

    Returns
    -------
    tuple of str
        The entry's dotted path and the field name its ``source`` / ``uncertain`` use.
    """
    parts = key.split(".")
    if parts[0] in ("hardware", "models") and len(parts) >= 3:
        return ".".join(parts[:2]), parts[2]
    if parts[0] == "workload" and len(parts) >= 2:
        return "workload", parts[1]
    return parts[0], parts[-1]


def note(cfg: DictConfig, key: str) -> Note:
    """The provenance of ``key`` in a composed config.

    Parameters
    ----------
    cfg
        A composed config (the catalog's ``source`` and ``uncertain`` as composed).
    key
        Dotted config key.

    Returns
    -------
    Note
    """
    entry_path, field = entry_and_field(key)
    node = cfg
    for part in entry_path.split("."):
        node = node.get(part) if node is not None and part in node else None
    if node is None or "source" not in node:
        return Note(key, NO_SOURCE, False)
    source = node.source.get(field) if node.source is not None else None
    uncertain = field in list(node.uncertain or [])
    return Note(key, str(source) if source else NO_SOURCE, uncertain)
