"""``python -m optimize``: cheapest concurrency under the SLA and the fleet plan (a Hydra app)."""
from model.app.runner import deferred, hydra_main
from optimize.schema import register_schemas


def main() -> None:
    """The console command (see ``[project.scripts]`` in pyproject.toml); the job's libraries load only
    once the config is checked."""
    hydra_main("optimize", deferred("optimize.job:run"), deferred("optimize:validate"), register_schemas)


if __name__ == "__main__":
    main()
