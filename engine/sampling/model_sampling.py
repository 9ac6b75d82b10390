"""How a diffusion model sees noise: its sigma table, sigma<->timestep mapping and prediction type.

Samplers work on x = x0 + sigma * noise and a denoiser returning x0; this module converts between that
view and what a network was trained on (scaled input, a timestep, an eps or v output).
"""

from __future__ import annotations

import math

import torch

PREDICTIONS = ("eps", "v")


def _bcast(sigma: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Reshape a per-sample sigma [B] (or scalar) so it broadcasts over `like` [B, ...]."""
    sigma = torch.as_tensor(sigma, dtype=like.dtype, device=like.device)
    return sigma.reshape(sigma.shape[:1] + (1,) * (like.ndim - sigma.ndim)) if sigma.ndim else sigma


class ModelSampling:
    """Prediction-type maths shared by every sigma parametrisation (subclasses supply the sigma table).

    `sigma_data` is 1 for the SD families and SVD; inputs are scaled by c_in = 1/sqrt(sigma^2 + sigma_data^2).
    """

    sigmas: torch.Tensor
    sigma_data: float = 1.0

    def __init__(self, prediction: str = "eps"):
        if prediction not in PREDICTIONS:
            raise ValueError(f"model sampling: prediction must be one of {PREDICTIONS}, got {prediction!r}")
        self.prediction = prediction

    @property
    def sigma_min(self) -> torch.Tensor:
        return self.sigmas[0]

    @property
    def sigma_max(self) -> torch.Tensor:
        return self.sigmas[-1]

    def calculate_input(self, sigma: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """c_in * x: the network input for a noisy latent at `sigma`."""
        return x / (_bcast(sigma, x) ** 2 + self.sigma_data**2) ** 0.5

    def calculate_denoised(self, sigma: torch.Tensor, model_output: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """x0 from the network output: eps -> x - sigma*eps; v -> c_skip*x + c_out*v (c_out negative)."""
        s = _bcast(sigma, model_output)
        if self.prediction == "eps":
            return x - model_output * s
        sd2 = self.sigma_data**2
        return x * sd2 / (s**2 + sd2) - model_output * s * self.sigma_data / (s**2 + sd2) ** 0.5

    def noise_scaling(self, sigma, noise: torch.Tensor, latent: torch.Tensor, max_denoise: bool = False):
        """The sampler's starting point: latent + sigma*noise (sqrt(1+sigma^2) at full denoise)."""
        s = _bcast(sigma, noise)
        scale = (s**2 + 1.0) ** 0.5 if max_denoise else s
        return noise * scale + latent

    def inverse_noise_scaling(self, sigma, latent: torch.Tensor) -> torch.Tensor:
        """Undo noise_scaling's parametrisation on the sampler output (identity for these models)."""
        return latent

    def timestep(self, sigma: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def sigma(self, timestep: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def percent_to_sigma(self, percent: float) -> float:
        """Sigma at a fraction of the schedule (0 = start, huge sigma; 1 = end, zero)."""
        if percent <= 0.0:
            return 999999999.9
        if percent >= 1.0:
            return 0.0
        return self._percent_sigma(1.0 - percent)


def scaled_linear_betas(timesteps: int = 1000, linear_start: float = 0.00085, linear_end: float = 0.012):
    """The LDM "linear" beta schedule (linear in sqrt(beta)), float64."""
    return torch.linspace(linear_start**0.5, linear_end**0.5, timesteps, dtype=torch.float64) ** 2


class DiscreteModelSampling(ModelSampling):
    """DDPM-trained models (SD1.x, SD2.x, SDXL): 1000 discrete timesteps, sigma_t = sqrt((1-abar)/abar)."""

    def __init__(self, prediction: str = "eps", timesteps: int = 1000,
                 linear_start: float = 0.00085, linear_end: float = 0.012):
        super().__init__(prediction)
        alphas_cumprod = torch.cumprod(1.0 - scaled_linear_betas(timesteps, linear_start, linear_end), dim=0)
        self.alphas_cumprod = alphas_cumprod.float()
        sigmas = ((1 - alphas_cumprod) / alphas_cumprod) ** 0.5
        self.sigmas = sigmas.float()
        self.log_sigmas = sigmas.log().float()

    def timestep(self, sigma: torch.Tensor) -> torch.Tensor:
        """Nearest training timestep in log-sigma (what the UNet is conditioned on)."""
        sigma = torch.as_tensor(sigma)
        log_sigmas = self.log_sigmas.to(sigma.device)
        dists = sigma.float().log().reshape(-1)[None] - log_sigmas[:, None]
        return dists.abs().argmin(dim=0).reshape(sigma.shape).float()

    def sigma(self, timestep: torch.Tensor) -> torch.Tensor:
        """Sigma at a (fractional) timestep, interpolating log-sigma between table entries."""
        t = torch.as_tensor(timestep, dtype=torch.float32).clamp(0, len(self.sigmas) - 1)
        low = t.floor().long()
        high = t.ceil().long()
        w = t - low
        log_sigmas = self.log_sigmas.to(t.device)
        return ((1 - w) * log_sigmas[low] + w * log_sigmas[high]).exp()

    def _percent_sigma(self, fraction: float) -> float:
        return float(self.sigma(torch.tensor(fraction * (len(self.sigmas) - 1))))


class EDMModelSampling(ModelSampling):
    """Continuous EDM parametrisation (SVD: v-prediction, sigma 0.002..700, c_noise = 0.25*log(sigma))."""

    def __init__(self, prediction: str = "v", sigma_min: float = 0.002, sigma_max: float = 700.0,
                 sigma_data: float = 1.0):
        super().__init__(prediction)
        self.sigma_data = sigma_data
        self.sigmas = torch.linspace(math.log(sigma_min), math.log(sigma_max), 1000).exp()
        self.log_sigmas = self.sigmas.log()

    def timestep(self, sigma: torch.Tensor) -> torch.Tensor:
        return 0.25 * torch.as_tensor(sigma).float().log()

    def sigma(self, timestep: torch.Tensor) -> torch.Tensor:
        return (torch.as_tensor(timestep).float() / 0.25).exp()

    def _percent_sigma(self, fraction: float) -> float:
        lo, hi = math.log(float(self.sigma_min)), math.log(float(self.sigma_max))
        return math.exp(lo + (hi - lo) * fraction)


def model_sampling_for(parametrisation: str) -> ModelSampling:
    """Build the sampling for a detected checkpoint: "eps", "v" (SD2-768) or "v_edm" (SVD)."""
    if parametrisation == "v_edm":
        return EDMModelSampling("v")
    return DiscreteModelSampling(parametrisation)
