"""``python -m sensitivity.uncertainty`` (``serving-uncertainty``): how sure is the answer? (a Hydra app)."""
from model.app.runner import deferred, hydra_main
from sensitivity.uncertainty.schema import register_schemas


def main() -> None:
    """The console command (see ``[project.scripts]`` in pyproject.toml); the job's libraries load only
    once the config is checked."""
    hydra_main("uncertainty", deferred("sensitivity.uncertainty.job:run"), deferred("sensitivity.uncertainty:validate"),
               register_schemas)


if __name__ == "__main__":
    main()
