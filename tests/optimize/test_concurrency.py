"""Exact best concurrency per (model, hardware, ISL), with the reason where there is none."""
import optimize
from optimize.concurrency import NoAnswer


def test_best_concurrency_reasons():
    best = optimize.best_concurrency(optimize.load_config(["select.hardware=[cerebras_wse3,b200,h100_sxm]",
                                                           "hardware.h100_sxm.allowed_sizes=[1,2]"]))
    at = best.sel(isl=96300)
    assert at.reason.sel(model="gpt_oss_120b", hardware="cerebras_wse3") == NoAnswer.none.value
    assert at.reason.sel(model="gpt_oss_120b", hardware="b200") == NoAnswer.sla_unreachable.value
    assert 100 < float(at.max_interactivity.sel(model="gpt_oss_120b", hardware="b200")) < 1000
    assert at.reason.sel(model="glm_4_7", hardware="h100_sxm") == NoAnswer.no_buildable_size.value
    assert best.reason.sel(model="gpt_oss_120b", isl=1_000_000, hardware="cerebras_wse3") == \
        NoAnswer.isl_beyond_context.value
    ok = best.reason == ""
    assert best.concurrency.where(ok).notnull().sum() == ok.sum()
    assert best.concurrency.where(~ok).isnull().all()
