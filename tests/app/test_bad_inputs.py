"""Every bad input we could think of, across the apps and the Python API (issue 12).

Each app case runs the app's console entry point in this process (``main()`` with ``sys.argv``
set, as the ``serving-*`` commands do) from an empty working directory, and must end in exit
code 2 with exactly one line on stderr, ``error: <key>...``, no traceback, nothing on stdout and
no file written: neither the run directory nor Hydra's default ``outputs/``.  The API cases must
raise :class:`model.ConfigError` (a ``ValueError``) with a one-line message naming the key.
``tests/app/test_errors_cli.py`` runs a sample of the same refusals as real subprocesses, one per app and
kind of refusal (a value the check refuses, a key or value Hydra refuses while composing).

``main()`` is what the console script ``serving-<app>`` and ``python -m <app>`` call, with the same
``sys.argv``: the same composition, the same check and the same one line; ``SystemExit(2)`` is the
exit code the process ends with (the subprocess sample shows that it does).  Only the interpreter's
start is left out, ~1 s a case.
"""
from __future__ import annotations

import math
import socket
import sys

import numpy as np
import pytest
import xarray as xr

import model
import optimize
import sensitivity
from model.__main__ import main as model_main
from model.app.calibrate import main as calibrate_main
from optimize.__main__ import main as optimize_main
from sensitivity.__main__ import main as sensitivity_main
from tests.model.test_errors import BAD_INPUTS

APPS = {"model": model_main, "optimize": optimize_main, "sensitivity": sensitivity_main,
        "calibrate": calibrate_main}


def closed_loopback_port() -> int:
    """A loopback port nothing listens on (bound, then released): connecting is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# (app, overrides, the key the one line must name)
CASES = [
    # the cost model's refusals of tests/model/test_errors.py (the line also names the value: VALUES), then more
    *(("model", override, key) for override, key, _ in BAD_INPUTS),
    # the cost model: catalog values
    ("model", "hardware.b200.price_per_hour=nan", "hardware.b200.price_per_hour"),
    ("model", "hardware.b200.price_per_hour=inf", "hardware.b200.price_per_hour"),
    ("model", "hardware.b200.price_per_hour=cheap", "hardware.b200.price_per_hour"),
    ("model", "hardware.cerebras_wse3.hop_latency_s=-1e-6", "hardware.cerebras_wse3.hop_latency_s"),
    ("model", "hardware.b200.prefill_mode=fast", "hardware.b200.prefill_mode"),
    ("model", "hardware.b200.parallelism=data", "hardware.b200.parallelism"),
    ("model", "hardware.b200.prefill_efficiency=1.5", "hardware.b200.prefill_efficiency"),
    ("model", "hardware.b200.interactivity_multiplier=0", "hardware.b200.interactivity_multiplier"),
    ("model", "hardware.b200.prce_per_hour=3", "hardware.b200.prce_per_hour"),
    ("model", "+hardware.b200.prce_per_hour=3", "hardware.b200.prce_per_hour"),
    ("model", "models.deepseek_v3.layers=2.5", "models.deepseek_v3.layers"),
    ("model", "models.gpt_oss_120b.max_context=-1", "models.gpt_oss_120b.max_context"),
    # workload, SLA, grid, selection
    ("model", "workload.isl=-96300", "workload.isl"),
    ("model", "workload.concurrency=0", "workload.concurrency"),
    ("model", "workload.kv_tier=disk", "workload.kv_tier"),
    # a dict into a null Optional[Dict]: OmegaConf raised a bare AttributeError from the merge ({{ }}: format)
    ("model", "workload.cache_curve={{capacity_tokens:[1,2],prefix_aware:[0.1,0.2]}}", "workload.cache_curve"),
    ("model", "workload.price_sheet.output=-1", "workload.price_sheet.output"),
    ("model", "sla.max_ttft_s=0", "sla.max_ttft_s"),
    ("model", "sla.percentile=p75", "sla.percentile"),
    ("optimize", "sla.percentile=median", "sla.percentile"),
    ("model", "select.models=gpt_oss_120b", "select.models"),
    ("model", "grid.isl_points=abc", "grid.isl_points"),
    ("model", "grid.max_memory_fraction=2", "grid.max_memory_fraction"),
    ("model", "nokey=3", "nokey"),
    ("model", "dask.n_workers=0", "dask.n_workers"),
    ("model", "dask.chunks.sample=4", "dask.chunks.sample"),
    ("model", "dask.enabled=true dask.address=not-an-address", "dask.address"),
    ("model", "dask.enabled=true dask.address=tcp://127.0.0.1:{closed_port}", "dask.address"),
    ("model", "output.compression=maybe", "output.compression"),
    # too big for memory (32 GB at any machine's 5%): refused before anything is allocated or written
    ("model", "grid.isl_points=300 grid.concurrency_max=20000 grid.max_memory_fraction=0.05", "grid"),
    ("optimize", "fleet.isl.kind=lognormal fleet.isl.buckets=100000 grid.max_memory_fraction=0.05", "grid"),
    ("model", "--multirun hardware.b200.price_per_hour=1,-2", "hardware.b200.price_per_hour"),
    ("model", "--multirun hardware.b200.prce_per_hour=1,2", "hardware.b200.prce_per_hour"),
    ("model", "-m workload.isl=range(0,3000,1000)", "workload.isl"),
    # the fleet planner
    ("optimize", "fleet.demand_defaul=3", "fleet.demand_defaul"),
    ("optimize", "fleet.demand_default=0", "fleet.demand_default"),
    ("optimize", "fleet.demand_default=-50", "fleet.demand_default"),
    ("optimize", "fleet.isl.kind=weird", "fleet.isl.kind"),
    ("optimize", "fleet.isl.buckets=0", "fleet.isl.buckets"),
    ("optimize", "fleet.target_utilization=1.5", "fleet.target_utilization"),
    ("optimize", "fleet.solver.time_limit_s=0", "fleet.solver.time_limit_s"),
    ("optimize", "fleet.solver.mip_rel_gap=-0.1", "fleet.solver.mip_rel_gap"),
    ("optimize", "fleet.inventory.b200=-1", "fleet.inventory.b200"),
    ("optimize", "fleet.isl.kind=lognormal fleet.isl.sigma=0", "fleet.isl.sigma"),
    ("optimize", "sla.min_interactivity=abc", "sla.min_interactivity"),
    ("optimize", "hardware.b200.price_per_hour=0", "hardware.b200.price_per_hour"),
    # the Sobol analysis
    ("sensitivity", "sensitivity.n=many", "sensitivity.n"),
    ("sensitivity", "sensitivity.n=1000", "sensitivity.n"),
    ("sensitivity", "sensitivity.seed=0", "sensitivity.seed"),
    ("sensitivity", "sensitivity.conf_level=1.5", "sensitivity.conf_level"),
    ("sensitivity", "sensitivity.num_resamples=0", "sensitivity.num_resamples"),
    ("sensitivity", "sensitivity.convergence_tolerance=0", "sensitivity.convergence_tolerance"),
    ("sensitivity", "sensitivity.parameters.price_per_hour.bounds=[2,1]", "sensitivity.parameters.price_per_hour"),
    ("sensitivity", "sensitivity.parameters.cache_read_ratio.bounds=[-5,20]",
     "sensitivity.parameters.cache_read_ratio"),
    ("sensitivity", "sensitivity.parameters.isl.distribution=gamma", "sensitivity.parameters.isl.distribution"),
    ("sensitivity", "sensitivity.parameters.isl.key=workload.nope", "sensitivity.parameters.isl.key"),
    # the calibration
    ("calibrate", "calibration.length_factor=0", "calibration.length_factor"),
    ("calibrate", "calibration.length_factor=x", "calibration.length_factor"),
    ("calibrate", "calibration.inherit.gb200_nvl72=tpu", "calibration.inherit.gb200_nvl72"),
    ("calibrate", "calibration.per_hardware=[price_per_hour]", "calibration.per_hardware"),
    ("calibrate", "calibration.shared=[foo]", "calibration.shared"),
    ("calibrate", "calibration.weights_gb.deepseek_r1.fp8=-1", "calibration.weights_gb.deepseek_r1.fp8"),
    ("calibrate", "calibration.data=missing.csv", "calibration.data"),
    ("calibrate", "calibration.configuration_recipes=missing.csv", "calibration.configuration_recipes"),
    # the runs' table given as their recipes: no decode_max_batch column (a KeyError in the join)
    ("calibrate", "calibration.configuration_recipes=model/data/inferencex/inferencex-dsr1.csv",
     "calibration.configuration_recipes"),
    # the serving stacks' facts: a word where a number or a flag belongs was a traceback or a silent true
    ("calibrate", "calibration.stacks.kv_bits.trt=abc", "calibration.stacks.kv_bits.trt"),
    ("calibrate", "calibration.stacks.mtp_draft_per_batch.trt=maybe", "calibration.stacks.mtp_draft_per_batch.trt"),
    ("calibrate", "calibration.stacks.recipe_batch_per_rank.sglang=7",
     "calibration.stacks.recipe_batch_per_rank.sglang"),
    ("calibrate", "calibration.stacks.mtp_draft_tokens=2.5", "calibration.stacks.mtp_draft_tokens"),
    ("calibrate", "+calibration.stacks.kv_bits.tgi=8", "calibration.stacks.kv_bits.tgi"),
    # a launcher no plugin provides was Hydra's traceback after the check (it is no key of the app's config)
    ("optimize", "--multirun hydra/launcher=nosuch workload.isl=32000,96300", "hydra/launcher=nosuch"),
]


# the value each of tests/model/test_errors.py's refusals must also say, as the command prints it
VALUES = {("model", override): value for override, _, value in BAD_INPUTS}


@pytest.mark.parametrize("app,overrides,key", CASES, ids=[f"{a}:{o}" for a, o, _ in CASES])
def test_an_app_refuses_bad_input_in_one_line_and_writes_nothing(app, overrides, key, tmp_path, monkeypatch,
                                                                   capsys):
    run_dir = tmp_path / "run"
    args = overrides.format(closed_port=closed_loopback_port()).split()
    dir_key = "hydra.sweep.dir" if args[0].startswith("-") else "hydra.run.dir"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdout", sys.stdout)  # the app wraps it; put it back afterwards
    monkeypatch.setattr(sys, "argv", [f"serving-{app}", *args, f"{dir_key}={run_dir}"])
    with pytest.raises(SystemExit) as stop:
        APPS[app]()
    out, err = capsys.readouterr()
    assert stop.value.code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {key}"), err
    assert VALUES.get((app, overrides), "") in lines[0], err
    assert "Traceback" not in err and out == ""
    assert list(tmp_path.iterdir()) == []  # no run directory, no outputs/


def test_a_rerun_into_an_existing_run_directory_is_refused_and_leaves_it_untouched(tmp_path, monkeypatch, capsys):
    run_dir = tmp_path / "run"
    (run_dir / ".hydra").mkdir(parents=True)
    recorded = run_dir / ".hydra" / "config.yaml"
    recorded.write_text("the earlier run's config\n")
    monkeypatch.setattr(sys, "stdout", sys.stdout)
    monkeypatch.setattr(sys, "argv", ["serving-model", f"hydra.run.dir={run_dir}"])
    with pytest.raises(SystemExit) as stop:
        model_main()
    err = capsys.readouterr().err
    assert stop.value.code == 2 and len(err.strip().splitlines()) == 1 and "another run" in err
    assert recorded.read_text() == "the earlier run's config\n"
    assert sorted(p.name for p in run_dir.rglob("*")) == [".hydra", "config.yaml"]


def test_a_sweep_on_a_launcher_or_dask_without_its_extra_is_refused_with_the_install_line(tmp_path, monkeypatch,
                                                                                         capsys):
    """The README's sweeps on the base install (``pip install -e .``, no extras): the joblib launcher
    ended in Hydra's traceback, ``dask.enabled=true`` in a failed import per job.  Simulated here by
    hiding the extras the test install has: one line, exit 2, nothing written, and the pip line."""
    import importlib.util

    from hydra.core.config_store import ConfigStore

    store = ConfigStore.instance()
    listed = store.list
    monkeypatch.setattr(store, "list", lambda group: [n for n in listed(group) if n != "joblib.yaml"])
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "distributed" else
                        find_spec(name, *a))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdout", sys.stdout)
    for app, args, line in [
            ("optimize", ["--multirun", "hydra/launcher=joblib", "workload.isl=32000,96300"],
             'error: hydra/launcher=joblib: not installed; allowed: basic, submitit_local, submitit_slurm; '
             'install it with pip install -e ".[joblib]"'),
            ("model", ["--multirun", "dask.enabled=true", "hardware.cerebras_wse3.cache_read_ratio=5,20"],
             'error: dask.enabled=True: needs the dask extra: pip install -e ".[dask]", or dask.enabled=false')]:
        monkeypatch.setattr(sys, "argv", [f"serving-{app}", *args, f"hydra.sweep.dir={tmp_path / 'sweep'}"])
        with pytest.raises(SystemExit) as stop:
            APPS[app]()
        out, err = capsys.readouterr()
        assert stop.value.code == 2 and err.strip() == line and out == "", err
        assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def cfg():
    return model.load_config(["select.models=[gpt_oss_120b]", "select.hardware=[cerebras_wse3,b200]"])


# (call, the key the message starts with)
API_CASES = [
    (lambda c: model.evaluate(c, {"hardware.b200.price_per_hour": -10}), "hardware.b200.price_per_hour"),
    (lambda c: model.evaluate(c, {"hardware.b200.price_per_hour": [3.0, -1.0]}), "hardware.b200.price_per_hour"),
    (lambda c: model.evaluate(c, {"hardware.b200.price_per_hour": math.inf}), "hardware.b200.price_per_hour"),
    (lambda c: model.evaluate(c, {"hardware.b200.prce_per_hour": 3}), "hardware.b200.prce_per_hour"),
    (lambda c: model.evaluate(c, {"hardware.tpu.price_per_hour": 3}), "hardware.tpu"),
    (lambda c: model.evaluate(c, {"models.gpt_oss_120b.layers": 0}), "models.gpt_oss_120b.layers"),
    (lambda c: model.evaluate(c, {"workload.isl": -5}), "workload.isl"),
    (lambda c: model.evaluate(c, isl=[-5]), "isl"),
    (lambda c: model.evaluate(c, concurrency=[0, 8]), "concurrency"),
    (lambda c: model.evaluate(c, concurrency=np.array([[1, 2], [3, 4]])), "concurrency"),
    (lambda c: model.evaluate(c, isl=xr.DataArray([1000], dims="model")), "isl"),
    (lambda c: model.evaluate(c, variables=["cost_per_mtk"]), "variables"),
    (lambda c: model.evaluate(c, chunks={"sample": 4}), "chunks"),
    (lambda c: model.cheapest_under_sla(c, {"hardware.b200.price_per_hour": -1}), "hardware.b200.price_per_hour"),
    (lambda c: model.load_config(["hardware.b200.prce_per_hour=3"]), "hardware.b200.prce_per_hour"),
    (lambda c: model.load_config(["workload.isl=abc"]), "workload.isl"),
    (lambda c: model.load_config(["workload.cache_curve={capacity_tokens:[1,2],prefix_aware:[0.1,0.2]}"]),
     "workload.cache_curve"),
    (lambda c: optimize.load_config(["fleet.demand_default=0"]), "fleet.demand_default"),
    (lambda c: optimize.load_config(["fleet.target_utilization=0"]), "fleet.target_utilization"),
    (lambda c: sensitivity.load_config(["sensitivity.n=3"]), "sensitivity.n"),
    (lambda c: sensitivity.load_config(["sensitivity.parameters.isl.bounds=[0,1000]"]),
     "sensitivity.parameters.isl"),
]


@pytest.mark.parametrize("call,key", API_CASES, ids=[k + f"#{i}" for i, (_, k) in enumerate(API_CASES)])
def test_the_api_raises_config_error_in_one_line(cfg, call, key):
    with pytest.raises(model.ConfigError) as err:
        call(cfg)
    assert isinstance(err.value, ValueError)
    message = str(err.value)
    assert "\n" not in message and key in message.split(": ")[0], message  # names the key before saying why


def test_there_are_at_least_sixty_cases():
    assert len(CASES) + len(API_CASES) >= 60
    assert {app for app, _, _ in CASES} == set(APPS)
