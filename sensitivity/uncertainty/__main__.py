"""``python -m sensitivity.uncertainty`` (``serving-uncertainty``): how sure is the answer? (a Hydra app)."""
from model.app.runner import hydra_main
from sensitivity.uncertainty import register_schemas, validate
from sensitivity.uncertainty.job import run


def main() -> None:
    """The console command (see ``[project.scripts]`` in pyproject.toml)."""
    hydra_main("uncertainty", run, validate, register_schemas)


if __name__ == "__main__":
    main()
