"""``python -m sensitivity``: Sobol indices of $/Mtok over the declared assumptions (a Hydra app)."""
from model.app.runner import hydra_main
from sensitivity import register_schemas, validate
from sensitivity.job import run

if __name__ == "__main__":
    hydra_main("sensitivity", run, validate, register_schemas)
