"""``python -m model``: the cost-model grid, its table and plots (a Hydra app)."""
from model.app.runner import deferred, hydra_main
from model.app.schema import register_schemas


def main() -> None:
    """The console command (see ``[project.scripts]`` in pyproject.toml); the job's libraries load only
    once the config is checked."""
    hydra_main("model", deferred("model.app.grid:run"), deferred("model.app.preflight:validate_grid_job"),
               register_schemas)


if __name__ == "__main__":
    main()
