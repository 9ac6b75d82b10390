"""Scheduler and sigma nodes against the SIGMAS ComfyUI 0.3.64's own nodes returned for the same inputs
(tests/sampling/data, written by tools/comfy_reference/sampling_reference.py); relative tolerance 1e-6."""

import pytest
import torch

from engine.sampling.model_sampling import DiscreteModelSampling
from nodes import sigma_nodes as n
from tests.sampling.comfy_reference import SD15Model, reference

MODEL = SD15Model()
CASES = {
    "BasicScheduler/karras/9/0.7": lambda: n.BasicScheduler(model=MODEL, scheduler="karras", steps=9, denoise=0.7),
    "KarrasScheduler": lambda: n.KarrasScheduler(steps=9),
    "ExponentialScheduler": lambda: n.ExponentialScheduler(steps=9),
    "PolyexponentialScheduler": lambda: n.PolyexponentialScheduler(steps=9, rho=1.7),
    "LaplaceScheduler": lambda: n.LaplaceScheduler(steps=9, mu=0.3, beta=0.6),
    "VPScheduler": lambda: n.VPScheduler(steps=9),
    "BetaSamplingScheduler": lambda: n.BetaSamplingScheduler(model=MODEL, steps=9, alpha=0.5, beta=0.7),
    "SDTurboScheduler/3/0.8": lambda: n.SDTurboScheduler(model=MODEL, steps=3, denoise=0.8),
    "ExtendIntermediateSigmas": lambda: n.ExtendIntermediateSigmas(
        sigmas=torch.tensor([14.6, 7.0, 3.0, 1.0, 0.0]), steps=3, start_at_sigma=-1.0, end_at_sigma=2.0,
        spacing="cosine"),
    "AlignYourStepsScheduler/SD1/7/1.0": lambda: n.AlignYourStepsScheduler(model_type="SD1", steps=7, denoise=1.0),
    "AlignYourStepsScheduler/SDXL/15/0.6": lambda: n.AlignYourStepsScheduler(model_type="SDXL", steps=15,
                                                                             denoise=0.6),
    "AlignYourStepsScheduler/SVD/30/1.0": lambda: n.AlignYourStepsScheduler(model_type="SVD", steps=30, denoise=1.0),
    "GITSScheduler/1.2/10/1.0": lambda: n.GITSScheduler(coeff=1.2, steps=10, denoise=1.0),
    "GITSScheduler/1.5/25/0.5": lambda: n.GITSScheduler(coeff=1.5, steps=25, denoise=0.5),
    "OptimalStepsScheduler/FLUX/12/1.0": lambda: n.OptimalStepsScheduler(model_type="FLUX", steps=12, denoise=1.0),
    "OptimalStepsScheduler/Wan/20/0.5": lambda: n.OptimalStepsScheduler(model_type="Wan", steps=20, denoise=0.5),
    "OptimalStepsScheduler/Chroma/8/1.0": lambda: n.OptimalStepsScheduler(model_type="Chroma", steps=8, denoise=1.0),
}


@pytest.mark.parametrize("case", list(CASES))
def test_scheduler_node_output_equals_comfyuis(case):
    (ours,) = CASES[case]().run(None)
    torch.testing.assert_close(ours, reference()[f"node/{case}"], rtol=1e-6, atol=0)


SIGMAS = torch.tensor([14.6, 7.0, 3.0, 1.0, 0.5, 0.0])


def test_split_sigmas_shares_the_step_sigma():
    high, low = n.SplitSigmas(sigmas=SIGMAS, step=2).run(None)
    assert high.tolist() == pytest.approx([14.6, 7.0, 3.0]) and low.tolist() == pytest.approx([3.0, 1.0, 0.5, 0.0])


def test_split_sigmas_denoise_keeps_the_last_steps_in_low():
    high, low = n.SplitSigmasDenoise(sigmas=SIGMAS, denoise=0.4).run(None)
    assert high.tolist() == pytest.approx([14.6, 7.0, 3.0, 1.0]) and low.tolist() == pytest.approx([1.0, 0.5, 0.0])


def test_flip_sigmas_ascends_from_a_small_positive_sigma():
    (flipped,) = n.FlipSigmas(sigmas=SIGMAS.clone()).run(None)
    assert flipped.tolist() == pytest.approx([0.0001, 0.5, 1.0, 3.0, 7.0, 14.6])


def test_set_first_sigma_leaves_the_input_unchanged():
    (out,) = n.SetFirstSigma(sigmas=SIGMAS, sigma=20.0).run(None)
    assert out[0] == 20.0 and SIGMAS[0] == pytest.approx(14.6)


def test_sampling_percent_to_sigma_reports_actual_ends_when_asked():
    ms = DiscreteModelSampling("eps")
    (start,) = n.SamplingPercentToSigma(model=MODEL, sampling_percent=0.0, return_actual_sigma=False).run(None)
    (actual,) = n.SamplingPercentToSigma(model=MODEL, sampling_percent=0.0, return_actual_sigma=True).run(None)
    (mid,) = n.SamplingPercentToSigma(model=MODEL, sampling_percent=0.5, return_actual_sigma=False).run(None)
    assert start == 999999999.9 and actual == pytest.approx(float(ms.sigma_max))
    assert mid == pytest.approx(ms.percent_to_sigma(0.5))
