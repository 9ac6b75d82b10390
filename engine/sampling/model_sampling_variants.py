"""The noise parametrisations ComfyUI's ModelSampling* nodes switch a model to: x0 and img-to-img outputs,
LCM's boundary conditions on a 50-step distilled table, zero-terminal-SNR rescaling, EDM outputs
(sigma_data 0.5) and the continuous-V timestep map. Each is a ModelSampling, so every sampler, scheduler
and conditioning range uses it unchanged.
"""

from __future__ import annotations

import math

import torch

from engine.sampling.model_sampling import DiscreteModelSampling, EDMModelSampling, ModelSampling, _bcast

LCM_STEPS = 50  # timesteps an LCM model was distilled on
LCM_SIGMA_DATA = 0.5
LCM_TIMESTEP_SCALING = 10.0
ZSNR_LAST_ALPHA_BAR = 4.8973451890853435e-08  # ComfyUI's value for the last step's alpha-bar under zsnr


class X0Output:
    """The network predicts x0 itself."""

    def calculate_denoised(self, sigma, model_output: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return model_output


class ImageToImageOutput(X0Output):
    """x0 prediction from the unscaled noisy input."""

    def calculate_input(self, sigma, x: torch.Tensor) -> torch.Tensor:
        return x


class EDMOutput:
    """Karras et al.'s preconditioning: x0 = c_skip * x + c_out * F (c_out positive)."""

    def calculate_denoised(self, sigma, model_output: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        s, sd = _bcast(sigma, model_output), self.sigma_data
        return x * sd**2 / (s**2 + sd**2) + model_output * s * sd / (s**2 + sd**2) ** 0.5


class LCMOutput:
    """Latent consistency models: the eps estimate blended with x by LCM's boundary conditions."""

    def calculate_denoised(self, sigma, model_output: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        s = _bcast(sigma, model_output)
        scaled = _bcast(self.timestep(sigma), model_output) * LCM_TIMESTEP_SCALING
        c_skip = LCM_SIGMA_DATA**2 / (scaled**2 + LCM_SIGMA_DATA**2)
        c_out = scaled / (scaled**2 + LCM_SIGMA_DATA**2) ** 0.5
        return c_out * (x - model_output * s) + c_skip * x


def zero_terminal_snr(sigmas: torch.Tensor) -> torch.Tensor:
    """Rescale a sigma table so the last step has (almost) zero signal (Lin et al. 2023)."""
    root = (1.0 / (sigmas.double() ** 2 + 1)).sqrt()
    first, last = root[0].clone(), root[-1].clone()
    root = (root - last) * first / (first - last)
    alphas_bar = root**2
    alphas_bar[-1] = ZSNR_LAST_ALPHA_BAR
    return ((1 - alphas_bar) / alphas_bar) ** 0.5


class DistilledDiscrete(DiscreteModelSampling):
    """Every 20th sigma of the 1000-step table (50 steps), timesteps mapped back to the original ones."""

    def __init__(self, prediction: str = "eps", zsnr: bool = False):
        super().__init__(prediction)
        full = zero_terminal_snr(self.sigmas).float() if zsnr else self.sigmas
        self.skip = len(full) // LCM_STEPS
        picked = torch.stack([full[len(full) - 1 - i * self.skip] for i in range(LCM_STEPS)]).flip(0)
        self.sigmas, self.log_sigmas = picked, picked.log()

    def timestep(self, sigma: torch.Tensor) -> torch.Tensor:
        return super().timestep(sigma) * self.skip + (self.skip - 1)

    def sigma(self, timestep: torch.Tensor) -> torch.Tensor:
        return super().sigma((torch.as_tensor(timestep).float() - (self.skip - 1)) / self.skip)

    def _percent_sigma(self, fraction: float) -> float:
        """Percentages count over the original 1000 timesteps."""
        return float(self.sigma(torch.tensor(fraction * (self.skip * LCM_STEPS - 1))))


class ContinuousV(EDMModelSampling):
    """Continuous-time v models: timestep = atan(sigma) * 2 / pi."""

    def timestep(self, sigma: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(sigma).float().atan() / math.pi * 2

    def sigma(self, timestep: torch.Tensor) -> torch.Tensor:
        return (torch.as_tensor(timestep).float() * math.pi / 2).tan()


def _with(output: type | None, base: type) -> type:
    return base if output is None else type(f"{output.__name__}{base.__name__}", (output, base), {})


DISCRETE_OUTPUTS = {"eps": ("eps", None), "v_prediction": ("v", None), "lcm": ("eps", LCMOutput),
                    "x0": ("eps", X0Output), "img_to_img": ("eps", ImageToImageOutput)}


def discrete_sampling(sampling: str, zsnr: bool) -> ModelSampling:
    """ModelSamplingDiscrete's choice: eps, v_prediction, lcm, x0 or img_to_img, optionally with zsnr."""
    prediction, output = DISCRETE_OUTPUTS[sampling]
    if sampling == "lcm":
        return _with(output, DistilledDiscrete)(prediction, zsnr)
    model_sampling = _with(output, DiscreteModelSampling)(prediction)
    if zsnr:
        sigmas = zero_terminal_snr(model_sampling.sigmas).float()
        model_sampling.sigmas, model_sampling.log_sigmas = sigmas, sigmas.log()
    return model_sampling


EDM_OUTPUTS = {"eps": ("eps", None, 1.0), "v_prediction": ("v", None, 1.0), "edm": ("v", EDMOutput, 0.5),
               "edm_playground_v2.5": ("v", EDMOutput, 0.5)}


def continuous_edm_sampling(sampling: str, sigma_min: float, sigma_max: float) -> ModelSampling:
    """ModelSamplingContinuousEDM's choice on a log-linear sigma table from sigma_min to sigma_max."""
    prediction, output, sigma_data = EDM_OUTPUTS[sampling]
    return _with(output, EDMModelSampling)(prediction, sigma_min, sigma_max, sigma_data)


def continuous_v_sampling(sigma_min: float, sigma_max: float) -> ModelSampling:
    """v-prediction over a continuous sigma range (ModelSamplingContinuousV's model sampling)."""
    return ContinuousV("v", sigma_min, sigma_max, 1.0)
