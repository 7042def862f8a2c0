"""``python -m sensitivity``: Sobol indices of $/Mtok over the declared assumptions (a Hydra app)."""
from model.app.runner import deferred, hydra_main
from sensitivity.schema import register_schemas


def main() -> None:
    """The console command (see ``[project.scripts]`` in pyproject.toml); the job's libraries load only
    once the config is checked."""
    hydra_main("sensitivity", deferred("sensitivity.job:run"), deferred("sensitivity:validate"), register_schemas)


if __name__ == "__main__":
    main()
