"""Shared oracles for the sampling tests: k-diffusion's samplers and a denoiser with a known answer.

k-diffusion is installed without its dependencies and its package __init__ imports torchvision, so its
`sampling.py` is loaded on its own, as module `kd_oracle.sampling` of a stub package whose `utils`
provides the one helper it uses (`append_dims`); `torchdiffeq` (used only by its log-likelihood code)
is stubbed when absent.
"""

import importlib.util
import sys
import types
from pathlib import Path

import pytest
import torch


def _load_k_diffusion_sampling():
    if "kd_oracle.sampling" in sys.modules:
        return sys.modules["kd_oracle.sampling"]
    origin = Path(importlib.util.find_spec("k_diffusion").origin).parent / "sampling.py"
    package = types.ModuleType("kd_oracle")
    package.__path__ = []
    utils = types.ModuleType("kd_oracle.utils")
    utils.append_dims = lambda x, n: x[(...,) + (None,) * (n - x.ndim)]
    sys.modules.update({"kd_oracle": package, "kd_oracle.utils": utils})
    if importlib.util.find_spec("torchdiffeq") is None:
        sys.modules["torchdiffeq"] = types.SimpleNamespace(odeint=None)
    spec = importlib.util.spec_from_file_location("kd_oracle.sampling", origin)
    module = importlib.util.module_from_spec(spec)
    sys.modules["kd_oracle.sampling"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def kd():
    return _load_k_diffusion_sampling()


class GaussianDenoiser:
    """Exact posterior mean for data ~ N(mu, s^2) per element: D(x, sigma) = (s^2 x + sigma^2 mu) / (s^2 + sigma^2).

    Counts its calls and the batch sizes it was given.
    """

    def __init__(self, mu: torch.Tensor, s: float = 0.5):
        self.mu, self.s2 = mu, s * s
        self.batch_sizes = []

    def __call__(self, x, sigma, **extra):
        self.batch_sizes.append(x.shape[0])
        sigma2 = sigma.reshape(-1, *([1] * (x.ndim - 1))) ** 2
        return (self.s2 * x + sigma2 * self.mu) / (self.s2 + sigma2)


@pytest.fixture
def toy():
    gen = torch.Generator().manual_seed(0)
    mu = torch.randn(2, 4, 3, 3, generator=gen, dtype=torch.float64)
    return GaussianDenoiser(mu)
