"""``python -m optimize``: cheapest concurrency under the SLA and the fleet plan (a Hydra app)."""
from model.app.runner import hydra_main
from optimize import register_schemas, validate
from optimize.job import run


def main() -> None:
    """The console command (see ``[project.scripts]`` in pyproject.toml)."""
    hydra_main("optimize", run, validate, register_schemas)


if __name__ == "__main__":
    main()
