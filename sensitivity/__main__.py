"""``python -m sensitivity``: Sobol indices of $/Mtok over the declared assumptions (a Hydra app)."""
import hydra
from omegaconf import DictConfig

from model.cli import run_job
from model.config import CONF_DIR
from sensitivity import validate
from sensitivity.job import run


@hydra.main(config_path=str(CONF_DIR), config_name="sensitivity", version_base="1.3")
def main(cfg: DictConfig) -> None:
    run_job(run, cfg, validate)


if __name__ == "__main__":
    main()
