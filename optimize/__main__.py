"""``python -m optimize``: cheapest concurrency under the SLA and the fleet plan (a Hydra app)."""
import hydra
from omegaconf import DictConfig

from model.cli import run_job
from model.config import CONF_DIR
from optimize import validate
from optimize.job import run


@hydra.main(config_path=str(CONF_DIR), config_name="optimize", version_base="1.3")
def main(cfg: DictConfig) -> None:
    run_job(run, cfg, validate)


if __name__ == "__main__":
    main()
