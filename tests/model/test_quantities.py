"""The table of quantities (model.quantities) is the kernel's and the result's, both ways.

- every array the kernel reads (``p["..."]`` in model/equations.py) is a declared input, and every
  declared input is read; likewise every output the kernel writes (``out[...]``, ``"..." in out``,
  ``out.get(...)``) is a declared cell output, and every declared cell output is written;
- the evaluated Dataset holds exactly the declared outputs, in their order, with the table's
  ``units`` and ``long_name``; each carried term is a parameter;
- an input read from a config key is that key's value, untouched by the derivation, and the key is the
  override key that reaches it; a derived one names the function of model.parameters that makes it;
- the dims every input and output has on the grid are among those declared;
- every known value of a feasible cell lies in the output's declared range.
"""
import ast

import numpy as np
import pytest
import xarray as xr

import model
from model import parameters as parameters_module
from model.equations import INPUTS
from model.overrides import override_target
from model.parameters import parameters, raw_parameters
from model.quantities import CELL_OUTPUTS, COORDINATES, OUTPUTS, QUANTITIES
from model.quantities import INPUTS as DECLARED_INPUTS
from model.ranges import meets
from model.results import COORD_ATTRS
from tests.helpers import HAND_WORKED_CELL, ROOT

SMALL = ["grid.isl_points=4", "grid.concurrency_max=64", "grid.concurrency_step=7"]
# wider dims: a hardware's own KV bits make the KV per request vary by hardware; physical prefill, a
# pinned replica and host-tier prefixes switch on the kernel's other branches
WIDE = [*SMALL, "hardware.b200.kv_cache_bits=8", "hardware.b200.prefill_mode=physical",
        "hardware.h200.min_systems=8", "hardware.h200.max_systems=8"]


def kernel_names() -> tuple[set[str], set[str]]:
    """The string keys model/equations.py reads from ``p`` and writes or tests in ``out``."""
    tree = ast.parse((ROOT / "model" / "equations.py").read_text())
    read: set[str] = set()
    written: set[str] = set()

    def literal(node: ast.AST) -> str | None:
        return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None

    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and literal(node.slice):
            {"p": read, "out": written}.get(node.value.id, set()).add(literal(node.slice) or "")
        elif isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.In) \
                and isinstance(node.comparators[0], ast.Name) and node.comparators[0].id == "out" \
                and literal(node.left):
            written.add(literal(node.left) or "")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "out" and node.args \
                and literal(node.args[0]):
            written.add(literal(node.args[0]) or "")
    return read, written


def test_the_kernel_reads_exactly_the_declared_inputs():
    read, _ = kernel_names()
    assert len(read) > 40  # the parse found the kernel's reads
    assert read == set(DECLARED_INPUTS), (read - set(DECLARED_INPUTS), set(DECLARED_INPUTS) - read)
    assert INPUTS == tuple(DECLARED_INPUTS)


def test_the_kernel_writes_exactly_the_declared_cell_outputs():
    _, written = kernel_names()
    assert written == set(CELL_OUTPUTS), (written - set(CELL_OUTPUTS), set(CELL_OUTPUTS) - written)


@pytest.fixture(scope="module")
def wide():
    cfg = model.load_config(WIDE)
    return cfg, parameters(cfg), model.evaluate(cfg, variables=list(CELL_OUTPUTS))  # with those computed on request


def test_the_dataset_holds_the_declared_outputs_with_their_attributes(wide):
    cfg, p, ds = wide
    assert list(ds.data_vars) == list(OUTPUTS)  # the default workload has a price sheet: every output
    # by default, all but the disaggregated prefill pool's outputs (computed when asked for by name)
    assert list(model.evaluate(cfg).data_vars) == [name for name, q in OUTPUTS.items() if not q.on_request]
    for name, q in OUTPUTS.items():
        assert ds[name].attrs == {"units": q.unit, "long_name": q.doc}, name
        assert (q.dtype is not None) == (name in CELL_OUTPUTS)
        if q.dtype is not None:
            assert ds[name].dtype == np.dtype(q.dtype), name
        elif name not in ("kv_cache_bytes", "memory_bytes"):  # formed from two terms by model.results.assemble
            term = p[q.term].reset_coords(drop=True)
            xr.testing.assert_equal(ds[name].reset_coords(drop=True).transpose(*term.dims), term)
    for q in COORDINATES:
        assert ds[q.name].attrs == {"units": q.unit, "long_name": q.doc}
        assert COORD_ATTRS[q.name] == (q.unit, q.doc)


def test_each_input_comes_from_its_declared_source(wide):
    cfg, p, _ = wide
    raw = raw_parameters(cfg).sel(model=list(cfg.select.models), hardware=list(cfg.select.hardware))
    for name, q in DECLARED_INPUTS.items():
        if q.source.startswith("model.parameters."):
            assert callable(getattr(parameters_module, q.source.rpartition(".")[2])), name
            continue
        key = q.source.replace("<name>", "b200" if q.source.startswith("hardware") else "deepseek_v3")
        assert override_target(key, raw)[0] == name, name  # the config key is the override key
        xr.testing.assert_identical(p[name], raw[name])  # the kernel reads the value itself


def test_every_array_has_only_declared_dims(wide):
    _, p, ds = wide
    for name, q in DECLARED_INPUTS.items():
        assert set(p[name].dims) <= set(q.dims), (name, p[name].dims, q.dims)
    for name, q in OUTPUTS.items():
        assert set(ds[name].dims) <= set(q.dims), (name, ds[name].dims, q.dims)
    # and the widest of them are reached: the KV per request varies by hardware here
    assert set(p.kv_bytes_per_request.dims) == {"model", "hardware", "isl"}


@pytest.mark.parametrize("overrides", [[], HAND_WORKED_CELL])
def test_every_output_of_a_feasible_cell_lies_in_its_declared_range(overrides, grid):
    ds = grid if not overrides else model.evaluate(model.load_config(overrides), variables=list(CELL_OUTPUTS))
    checked = 0
    for name, q in OUTPUTS.items():
        if q.valid is None or (q.on_request and not overrides):  # the default grid has no pool outputs
            continue
        var = ds[name].where(ds.feasible) if set(q.dims) == set(ds.feasible.dims) else ds[name]
        values = np.asarray(var.values, float).ravel()
        known = values[~np.isnan(values)]
        assert meets(q.valid, known).all(), (name, q.valid, known[~meets(q.valid, known)][:5])
        checked += known.size > 0
    assert checked >= 25  # (power-law terms are NaN where no wafer is selected)


def test_a_config_input_states_its_fields_unit_and_range():
    """Read from the field's declaration, not restated: a change there reaches the table."""
    from model.fields import field_docs
    from model.schema import HardwareSpec, SlaSpec

    assert QUANTITIES["hop_latency_s"].unit == field_docs(HardwareSpec)["hop_latency_s"].unit == "s"
    assert QUANTITIES["hop_latency_s"].valid == ">= 0"
    assert QUANTITIES["min_interactivity"].doc == field_docs(SlaSpec)["min_interactivity"].doc
    assert QUANTITIES["min_interactivity"].dims == ()


@pytest.mark.parametrize("key, variable, bad, allowed", [
    ("models.deepseek_v3.interactivity.b200.tok_s", "base_interactivity", 0.0, "must be a finite number > 0"),
    ("workload.mix.cache_write", "mix_cache_write", 1.0, "must be a fraction in [0, 1)"),
    ("workload.price_sheet.output", "price_output", -1.0, "must be a finite number >= 0"),
    ("workload.osl", "osl", 0.0, "must be a finite number > 0"),
    ("sla.min_interactivity", "min_interactivity", -1.0, "must be a finite number >= 0"),
    ("sla.max_ttft_s", "max_ttft_s", 0.0, "must be a finite number > 0"),
    ("hardware.b200.hop_latency_s", "hop_latency_s", -1.0, "must be a finite number >= 0"),
    ("models.deepseek_v3.layers", "layers", 0.5, "must be a whole number >= 1"),
])
def test_each_override_key_reaches_its_parameter_and_refuses_values_outside_its_range(cfg, key, variable, bad,
                                                                                      allowed):
    from model.errors import ConfigError
    from model.quantities import OVERRIDE_KEYS

    raw = raw_parameters(cfg)
    assert override_target(key, raw)[0] == variable
    listed = [p for p in OVERRIDE_KEYS if len(p.split(".")) == len(key.split("."))
              and all(a == b or a.startswith("<") for a, b in zip(p.split("."), key.split(".")))]
    assert len(listed) == 1  # the key is listed (docs/config.md shows the list)
    with pytest.raises(ConfigError) as err:
        model.evaluate(cfg, {key: bad}, variables=["systems"])
    assert str(err.value) == f"{key}={bad!r}: {allowed}"


def test_an_unknown_override_key_lists_the_declared_ones(cfg):
    from model.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        override_target("workload.mix.reasoning", raw_parameters(cfg))
    assert str(err.value).endswith(  # as before the keys were declared in model.quantities
        "not an array-valued parameter; allowed: hardware.<name>.<field>, models.<name>.<field>, "
        "models.<name>.interactivity.<hardware>.tok_s, workload.mix.<type>, workload.price_sheet.<type>, "
        "workload.osl, sla.min_interactivity, sla.max_ttft_s")
