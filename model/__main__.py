"""``python -m model``: the cost-model grid, its table and plots (a Hydra app)."""
import hydra
from omegaconf import DictConfig

from model.cli import run_job
from model.config import CONF_DIR
from model.job import run


@hydra.main(config_path=str(CONF_DIR), config_name="model", version_base="1.3")
def main(cfg: DictConfig) -> None:
    run_job(run, cfg)


if __name__ == "__main__":
    main()
