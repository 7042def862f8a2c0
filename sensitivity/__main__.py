"""``python -m sensitivity``: Sobol indices of $/Mtok over the declared assumptions (a Hydra app)."""
from model.app.runner import hydra_main
from sensitivity import register_schemas, validate
from sensitivity.job import run


def main() -> None:
    """The console command (see ``[project.scripts]`` in pyproject.toml)."""
    hydra_main("sensitivity", run, validate, register_schemas)


if __name__ == "__main__":
    main()
