"""SAMPLER nodes with settings: a registered sampler with its knobs set (ComfyUI's Sampler* nodes), and the
two samplers ComfyUI defines beside its nodes (LCM with upscaling, the "alternative" Euler CFG++)."""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
import torch
from pydantic import Field

from engine.graph.native import Node, Out, Socket, Widget, node
from engine.sampling.common import capture_uncond, to_d, x0_at_step
from engine.sampling.sampler_object import Sampler, ksampler
from engine.sampling.samplers_sa_solver import tau_interval
from engine.sampling.samplers_sde import er_sde_noise_scaler
from nodes.latents import resize_latent
from nodes.sigma_nodes import unrounded_float

SAMPLERS_CATEGORY = "sampling/custom_sampling/samplers"
NoiseDevice = Literal["gpu", "cpu"]


Eta = unrounded_float(0.01, 0.0, 100.0)


def _device_variant(name: str, noise_device: str) -> str:
    """The SDE sampler whose Brownian tree lives on the CPU ("cpu") or on the latent's device ("gpu")."""
    return name if noise_device == "cpu" else f"{name}_gpu"


@node(category=SAMPLERS_CATEGORY, outputs=[Out("SAMPLER")])
class SamplerEulerAncestral(Node):
    """euler_ancestral with its noise amount (eta) and scale (s_noise)."""

    eta: Eta = 1.0
    s_noise: Eta = 1.0

    def run(self, ctx):
        return (ksampler("euler_ancestral", {"eta": self.eta, "s_noise": self.s_noise}),)


@node(category=SAMPLERS_CATEGORY, outputs=[Out("SAMPLER")])
class SamplerEulerAncestralCFGPP(Node):
    """euler_ancestral_cfg_pp with eta and s_noise."""

    eta: unrounded_float(0.01, 0.0, 1.0) = 1.0
    s_noise: unrounded_float(0.01, 0.0, 10.0) = 1.0

    def run(self, ctx):
        return (ksampler("euler_ancestral_cfg_pp", {"eta": self.eta, "s_noise": self.s_noise}),)


@node(category=SAMPLERS_CATEGORY, outputs=[Out("SAMPLER")])
class SamplerLMS(Node):
    """lms with its order."""

    order: Annotated[int, Field(ge=1, le=100)] = 4

    def run(self, ctx):
        return (ksampler("lms", {"order": self.order}),)


@node(category=SAMPLERS_CATEGORY, outputs=[Out("SAMPLER")])
class SamplerDPMPP_2M_SDE(Node):
    """dpmpp_2m_sde with its second-order form, eta, s_noise and noise device."""

    solver_type: Literal["midpoint", "heun"]
    eta: Eta = 1.0
    s_noise: Eta = 1.0
    noise_device: NoiseDevice

    def run(self, ctx):
        options = {"eta": self.eta, "s_noise": self.s_noise, "solver_type": self.solver_type}
        return (ksampler(_device_variant("dpmpp_2m_sde", self.noise_device), options),)


@node(category=SAMPLERS_CATEGORY, outputs=[Out("SAMPLER")])
class SamplerDPMPP_3M_SDE(Node):
    """dpmpp_3m_sde with eta, s_noise and noise device."""

    eta: Eta = 1.0
    s_noise: Eta = 1.0
    noise_device: NoiseDevice

    def run(self, ctx):
        options = {"eta": self.eta, "s_noise": self.s_noise}
        return (ksampler(_device_variant("dpmpp_3m_sde", self.noise_device), options),)


@node(category=SAMPLERS_CATEGORY, outputs=[Out("SAMPLER")])
class SamplerDPMPP_SDE(Node):
    """dpmpp_sde with eta, s_noise, its midpoint ratio r and noise device."""

    eta: Eta = 1.0
    s_noise: Eta = 1.0
    r: Eta = 0.5
    noise_device: NoiseDevice

    def run(self, ctx):
        options = {"eta": self.eta, "s_noise": self.s_noise, "r": self.r}
        return (ksampler(_device_variant("dpmpp_sde", self.noise_device), options),)


@node(category=SAMPLERS_CATEGORY, outputs=[Out("SAMPLER")])
class SamplerDPMPP_2S_Ancestral(Node):
    """dpmpp_2s_ancestral with eta and s_noise."""

    eta: Eta = 1.0
    s_noise: Eta = 1.0

    def run(self, ctx):
        return (ksampler("dpmpp_2s_ancestral", {"eta": self.eta, "s_noise": self.s_noise}),)


@node(category=SAMPLERS_CATEGORY, outputs=[Out("SAMPLER")])
class SamplerDPMAdaptative(Node):
    """dpm_adaptive with its order, tolerances and PID step-size controller."""

    order: Annotated[int, Field(ge=2, le=3)] = 3
    rtol: Eta = 0.05
    atol: Eta = 0.0078
    h_init: Eta = 0.05
    pcoeff: Eta = 0.0
    icoeff: Eta = 1.0
    dcoeff: Eta = 0.0
    accept_safety: Eta = 0.81
    eta: Eta = 0.0
    s_noise: Eta = 1.0

    def run(self, ctx):
        return (ksampler("dpm_adaptive", self.model_dump()),)


def reverse_time_sde_scaler(eta: float):
    """The reverse-time SDE's noise scale lambda^(eta + 1) for ER-SDE."""
    return lambda x: x ** (eta + 1)


@node(category=SAMPLERS_CATEGORY, outputs=[Out("SAMPLER")])
class SamplerER_SDE(Node):
    """er_sde as ER-SDE, a reverse-time SDE of strength eta, or the ODE (no noise)."""

    solver_type: Literal["ER-SDE", "Reverse-time SDE", "ODE"]
    max_stage: Annotated[int, Field(ge=1, le=3)] = 3
    eta: Annotated[float, Widget(step=0.01, round=False, tooltip=(
        "How much fresh noise each reverse-time SDE step adds; 0 makes the solver a plain ODE. "
        "Ignored by the ER-SDE solver type.")), Field(ge=0.0, le=100.0)] = 1.0
    s_noise: Eta = 1.0

    def run(self, ctx):
        eta, s_noise = self.eta, self.s_noise
        if self.solver_type == "ODE" or (self.solver_type == "Reverse-time SDE" and eta == 0):
            eta, s_noise = 0, 0
        scaler = er_sde_noise_scaler if self.solver_type == "ER-SDE" else reverse_time_sde_scaler(eta)
        return (ksampler("er_sde", {"s_noise": s_noise, "noise_scaler": scaler, "max_stage": self.max_stage}),)


@node(category=SAMPLERS_CATEGORY, outputs=[Out("SAMPLER")])
class SamplerSASolver(Node):
    """sa_solver with its stochastic interval (in percent of the model's schedule), orders and PECE mode."""

    model: Annotated[object, Socket("MODEL")]
    eta: unrounded_float(0.01, 0.0, 10.0) = 1.0
    sde_start_percent: Annotated[float, Widget(step=0.001), Field(ge=0.0, le=1.0)] = 0.2
    sde_end_percent: Annotated[float, Widget(step=0.001), Field(ge=0.0, le=1.0)] = 0.8
    s_noise: Eta = 1.0
    predictor_order: Annotated[int, Field(ge=1, le=6)] = 3
    corrector_order: Annotated[int, Field(ge=0, le=6)] = 4
    use_pece: bool
    simple_order_2: bool

    def run(self, ctx):
        ms = self.model.get_model_object("model_sampling")
        tau = tau_interval(ms.percent_to_sigma(self.sde_start_percent), ms.percent_to_sigma(self.sde_end_percent),
                           eta=self.eta)
        return (ksampler("sa_solver", {"tau_func": tau, "s_noise": self.s_noise,
                                       "predictor_order": self.predictor_order,
                                       "corrector_order": self.corrector_order, "use_pece": self.use_pece,
                                       "simple_order_2": self.simple_order_2}),)


@torch.no_grad()
def lcm_upscale(model, x, sigmas, extra_args=None, callback=None, disable=None, total_upscale=2.0,
                upscale_method="bislerp", upscale_steps=None):
    """LCM whose x0 estimate is enlarged a little after each of the first steps, up to total_upscale."""
    extra_args = extra_args or {}
    upscale_steps = max(len(sigmas) // 2 + 1, 2) if upscale_steps is None else min(upscale_steps + 1,
                                                                                  len(sigmas) + 1)
    scales = np.linspace(1.0, total_upscale, upscale_steps)[1:]
    height, width = x.shape[-2:]
    for i in range(len(sigmas) - 1):
        x = x0_at_step(model, x, sigmas, i, extra_args, callback)
        if i < len(scales):
            x = resize_latent(x, round(width * scales[i]), round(height * scales[i]), upscale_method)
        if sigmas[i + 1] > 0:
            x = x + sigmas[i + 1] * torch.randn_like(x)
    return x


@node(category=SAMPLERS_CATEGORY, outputs=[Out("SAMPLER")])
class SamplerLCMUpscale(Node):
    """LCM sampling that upscales the latent by scale_ratio over its first scale_steps steps."""

    scale_ratio: Annotated[float, Widget(step=0.01), Field(ge=0.1, le=20.0)] = 1.0
    scale_steps: Annotated[int, Widget(step=1), Field(ge=-1, le=1000)] = -1
    upscale_method: Literal["bislerp", "nearest-exact", "bilinear", "area", "bicubic"]

    def run(self, ctx):
        steps = None if self.scale_steps < 0 else self.scale_steps
        return (Sampler(lcm_upscale, {"total_upscale": self.scale_ratio, "upscale_steps": steps,
                                      "upscale_method": self.upscale_method}),)


@torch.no_grad()
def euler_cfg_pp_alternative(model, x, sigmas, extra_args=None, callback=None, disable=None):
    """Euler along the derivative of the guided x0 taken from x moved by (unconditional - guided) x0."""
    extra_args, seen = capture_uncond(extra_args or {})
    for i in range(len(sigmas) - 1):
        denoised = x0_at_step(model, x, sigmas, i, extra_args, callback)
        d = to_d(x - denoised + seen["uncond"], sigmas[i], denoised)
        x = x + d * (sigmas[i + 1] - sigmas[i])
    return x


@node(category="_for_testing", display_name="SamplerEulerCFG++", outputs=[Out("SAMPLER")])
class SamplerEulerCFGpp(Node):
    """Euler CFG++: euler_cfg_pp ("regular") or ComfyUI's earlier formulation ("alternative")."""

    version: Literal["regular", "alternative"]

    def run(self, ctx):
        if self.version == "alternative":
            return (Sampler(euler_cfg_pp_alternative),)
        return (ksampler("euler_cfg_pp"),)
