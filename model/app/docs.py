"""The config reference (docs/config.md), generated from the schemas so that it cannot drift.

Every row comes from a field's one declaration (:func:`model.fields.spec`: unit, meaning,
allowed range) and, for the catalogs, from the values and sources in ``conf/``.  The sections
other apps add are found through the ``llm_serving_economics.config_sections`` entry points
of ``pyproject.toml``, so this module imports none of the apps it documents.
"""
from __future__ import annotations

import dataclasses
import sys
import typing
from importlib.metadata import entry_points
from typing import Any

from omegaconf import DictConfig, OmegaConf

from model.app.config import compose_config
from model.fields import CHECKS, ENTRY_POINT_GROUP, FieldDoc, Section, field_docs
from model.quantities import INPUTS, OUTPUTS, OVERRIDE_KEYS, Quantity
from model.rules import SECTION_RULES
from model.schema import HardwareSpec, ModelSpec

START, END = "<!-- config-reference:start -->", "<!-- config-reference:end -->"
REFERENCE_FILE = "docs/config.md"  # relative to the repository root
META_FIELDS = ("source", "uncertain")  # documented once, above the catalogs


def _fmt(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def _allowed(doc: FieldDoc) -> str:
    return f" ({CHECKS[doc.check].removeprefix('must be ')})" if doc.check else ""


def _range(check: str | None) -> str:
    return CHECKS[check].removeprefix("must be ") if check else ""


def _dims(q: Quantity) -> str:
    return ", ".join(q.dims) or "(scalar)"


def quantity_reference() -> str:
    """The outputs of the cost model, the cell kernel's inputs and the override keys (model/quantities.py)."""
    out = ["Outputs of `model.evaluate` and `serving-model`'s grid.nc, in their order (model/quantities.py; "
           "`units` and `long_name` are the netCDF attributes; the range holds for every known value of a "
           "feasible cell):", "",
           "| variable | dims | units | shown in | long_name | range |", "|---|---|---|---|---|---|"]
    out += [f"| `{name}` | {_dims(q)} | {q.unit} | {q.shown_unit} | {q.doc} | {_range(q.valid)} |"
            for name, q in OUTPUTS.items()]
    out += ["", "Inputs of the cell kernel (`model.equations.cell_kernel`), each a config key's value as it is "
            "or derived from the config by a function of `model.parameters`:", "",
            "| input | dims | unit | from | meaning |", "|---|---|---|---|---|"]
    out += [f"| `{name}` | {_dims(q)} | {q.unit} | `{q.source}` | {q.doc} |" for name, q in INPUTS.items()]
    out += ["", "Override keys: the dotted keys `model.evaluate(cfg, params)`, a sweep and the sensitivity and "
            "uncertainty apps replace by numbers or arrays (`model.overrides`):", "",
            "| key | parameter | unit | meaning | allowed |", "|---|---|---|---|---|"]
    catalog = "the field's range (field meanings above)"
    out += [f"| `{key}` | `{variable}` | {doc.unit} | {doc.doc} | {_range(doc.check) or catalog} |"
            for key, (variable, doc) in OVERRIDE_KEYS.items()]
    return "\n".join(out)


def field_meanings() -> str:
    """One table of the catalog fields (hardware.<name>.<field>, models.<name>.<field>)."""
    out = ["Field meanings (hardware.<name>.<field>, models.<name>.<field>; every entry also has "
           "`source` and `uncertain`, the source of each value and the list of uncertain ones):", "",
           "| field | unit | meaning |", "|---|---|---|"]
    for schema in (HardwareSpec, ModelSpec):
        out += [f"| `{name}` | {d.unit} | {d.doc}{_allowed(d)} |"
                for name, d in field_docs(schema).items() if name not in META_FIELDS]
    return "\n".join(out)


def rule_reference() -> str:
    """The rules that tie fields of one section together (model/rules.py), in the order they are applied."""
    out = ["Rules tying fields of a section together (model/rules.py), applied in this order after each field's "
           "own range; `{field}` in a message is that field's value. The checks across catalog entries (the "
           "selection's names, decode rates, replica sizes, power-law and physical-prefill inputs of the selected "
           "pairs) are in model/validate.py.", "",
           "| key | reads | applies where | refused with |", "|---|---|---|---|"]
    out += [f"| `{prefix}.{r.key}` | {', '.join(r.fields)} | {r.applies or 'always'} | {r.message} |"
            for prefix, rules in SECTION_RULES.items() for r in rules]
    return "\n".join(out)


def _catalog_rows(group: str, catalog: DictConfig) -> list[str]:
    rows = []
    for name, entry in catalog.items():
        schema = OmegaConf.get_type(entry)
        docs = field_docs(schema)
        plain = OmegaConf.to_container(entry, resolve=True, enum_to_str=True)
        sources, uncertain = plain.pop("source"), set(plain.pop("uncertain"))
        plain.pop("description")
        defaults = OmegaConf.to_container(OmegaConf.structured(schema), enum_to_str=True)
        for field, value in plain.items():
            if value is None:
                default = "not set"
            elif value == defaults.get(field):
                default = "schema default (docs/model.md §2)"
            else:
                default = f"set in conf/{group}/catalog.yaml"
            source = sources.get(field, default)
            if field in uncertain:
                source = f"**uncertain** — {source}"
            rows.append(f"| `{group}.{name}.{field}` | {docs[field].unit} | {_fmt(value)} | {source} |")
    return rows


def catalogs(cfg: DictConfig) -> str:
    """Collapsible tables of every catalog value with its unit and source."""
    out = []
    for group in ("hardware", "models"):
        out += ["", f"<details><summary><code>{group}.*</code>: catalog values and sources</summary>", "",
                "| key | unit | default | source |", "|---|---|---|---|"]
        out += _catalog_rows(group, cfg[group])
        out += ["", "</details>"]
    return "\n".join(out)


def _dataclass_of(annotation: Any) -> type | None:
    """The dataclass an annotation names, unwrapping Optional; None for leaves."""
    if dataclasses.is_dataclass(annotation):
        return annotation
    if typing.get_origin(annotation) is typing.Union:
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _dataclass_of(inner[0]) if len(inner) == 1 else None
    return None


def section_keys(schema: type, prefix: str = "", exclude: tuple[str, ...] = ()) -> dict[str, FieldDoc]:
    """Dotted key -> :class:`FieldDoc` of every documented leaf of ``schema``, nested sections
    flattened in declaration order (``source`` and ``uncertain`` left out)."""
    hints = typing.get_type_hints(schema)
    out: dict[str, FieldDoc] = {}
    for name, doc in field_docs(schema).items():
        if name in exclude or name in META_FIELDS:
            continue
        key = f"{prefix}.{name}" if prefix else name
        nested = _dataclass_of(hints[name])
        if nested is not None:
            out.update(section_keys(nested, key))
        else:
            out[key] = doc
    return out


def key_table(cfg: DictConfig, docs: dict[str, FieldDoc], title: str) -> str:
    """A table of ``docs`` keys with their value in ``cfg`` and their source where recorded."""
    out = [title, "", "| key | unit | default | meaning and source |", "|---|---|---|---|"]
    for key, doc in docs.items():
        value = OmegaConf.select(cfg, key)
        if OmegaConf.is_config(value):
            value = OmegaConf.to_container(value, resolve=True, enum_to_str=True)
        parts, source = key.split("."), None
        for depth in (1, 2):  # workload.source.isl for workload.isl, workload.source.mix for workload.mix.*
            sources = OmegaConf.select(cfg, ".".join(parts[:-depth]) + ".source") if len(parts) > depth else None
            if sources is not None and parts[-depth] in sources:
                source = sources[parts[-depth]]
                break
        out.append(f"| `{key}` | {doc.unit} | {_fmt(value)} | {doc.doc}{_allowed(doc)}"
                   + (f" (source: {source})" if source else "") + " |")
    return "\n".join(out)


def sections() -> list[Section]:
    """The documented sections of every installed app, in the reference's order."""
    found = [ep.load() for ep in entry_points(group=ENTRY_POINT_GROUP)]
    return sorted(found, key=lambda s: s.order)


def readme_reference() -> str:
    """The config reference as docs/config.md shows it (every app's sections)."""
    parts = []
    for section in sections():
        section.register()
        cfg = compose_config(section.config_name)
        OmegaConf.resolve(cfg)
        if section.config_name == "model" and not section.prefix:
            parts.append(field_meanings() + "\n" + catalogs(cfg))
        parts.append(key_table(cfg, section_keys(section.schema, section.prefix, section.exclude), section.title))
        if section.config_name == "model" and not section.prefix:
            parts += [rule_reference(), quantity_reference()]
    return "\n\n".join(parts)


def update_readme(path: str, text: str) -> bool:
    """Replace the block between the markers of the file at ``path`` with ``text``; True if it changed."""
    with open(path, encoding="utf-8") as f:
        readme = f.read()
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{START}\n{text}\n{END}{tail}"
    if new != readme:
        with open(path, "w", encoding="utf-8") as f:
            f.write(new)
    return new != readme


def main(argv: list[str]) -> None:
    """``python -m model.app.docs [docs/config.md]``: rewrite the reference block of that file."""
    target = argv[1] if len(argv) > 1 else REFERENCE_FILE
    changed = update_readme(target, readme_reference())
    print(f"{target}: config reference {'updated' if changed else 'already current'}")


if __name__ == "__main__":
    main(sys.argv)
