"""``python -m model``: the cost-model grid, its table and plots (a Hydra app)."""
from model.app.grid import run
from model.app.preflight import validate_grid_job
from model.app.runner import hydra_main
from model.schema import register_schemas


def main() -> None:
    """The console command (see ``[project.scripts]`` in pyproject.toml)."""
    hydra_main("model", run, validate_grid_job, register_schemas)


if __name__ == "__main__":
    main()
