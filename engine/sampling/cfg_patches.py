"""The guidance formulas of ComfyUI's CFG-modifying model patches, as model_options hook functions.

Each builder returns the function a patch node sets on MODEL: a `sampler_cfg_function(args)` returns the
guided noise prediction (x - x0) from args["cond"] / args["uncond"] (noise predictions); a
`sampler_post_cfg_function(args)` or `sampler_pre_cfg_function(args)` rewrites the x0 estimates.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from engine.sampling.cfg import calc_cond_batch, prepare_conds
from engine.sampling.guiders import perp_neg

CfgFunction = Callable[[dict], torch.Tensor]


def video_linear_cfg(min_cfg: float) -> CfgFunction:
    """Guidance ramping linearly over the batch (frames) from min_cfg to cfg (VideoLinearCFGGuidance)."""

    def linear(args: dict) -> torch.Tensor:
        cond, uncond = args["cond"], args["uncond"]
        ramp = torch.linspace(min_cfg, args["cond_scale"], cond.shape[0], device=cond.device)
        return uncond + ramp.reshape(-1, *([1] * (cond.ndim - 1))) * (cond - uncond)

    return linear


def video_triangle_cfg(min_cfg: float) -> CfgFunction:
    """Guidance rising from min_cfg at both ends of the batch (frames) to cfg in its middle
    (VideoTriangleCFGGuidance)."""

    def triangle(args: dict) -> torch.Tensor:
        cond, uncond, scale = args["cond"], args["uncond"], args["cond_scale"]
        t = torch.linspace(0, 1, cond.shape[0], device=cond.device)
        t = 2 * (t - torch.floor(t + 0.5)).abs()
        return uncond + (t * (scale - min_cfg) + min_cfg).reshape(cond.shape[0], 1, 1, 1) * (cond - uncond)

    return triangle


def rescale_cfg(multiplier: float) -> CfgFunction:
    """CFG rescaled towards the positive prediction's standard deviation, computed on the v-prediction
    (Lin et al. 2023, "Common Diffusion Noise Schedules and Sample Steps are Flawed", RescaleCFG)."""

    def rescale(args: dict) -> torch.Tensor:
        x_in, scale = args["input"], args["cond_scale"]
        sigma = args["sigma"].reshape(-1, *([1] * (x_in.ndim - 1)))
        x = x_in / (sigma * sigma + 1.0)
        v_cond = (x - (x_in - args["cond"])) * (sigma**2 + 1.0) ** 0.5 / sigma
        v_uncond = (x - (x_in - args["uncond"])) * (sigma**2 + 1.0) ** 0.5 / sigma
        v_cfg = v_uncond + scale * (v_cond - v_uncond)
        rescaled = v_cfg * (torch.std(v_cond, dim=(1, 2, 3), keepdim=True) / torch.std(v_cfg, dim=(1, 2, 3), keepdim=True))
        v_final = multiplier * rescaled + (1.0 - multiplier) * v_cfg
        return x_in - (x - v_final * sigma / (sigma * sigma + 1.0) ** 0.5)

    return rescale


def cfg_norm(strength: float) -> CfgFunction:
    """Post-CFG: scale the guided x0 down where its channel norm exceeds the positive x0's (CFGNorm)."""

    def norm(args: dict) -> torch.Tensor:
        guided = args["denoised"]
        ratio = torch.norm(args["cond_denoised"], dim=1, keepdim=True) / (torch.norm(guided, dim=1, keepdim=True) + 1e-8)
        return guided * ratio.clamp(min=0.0, max=1.0) * strength

    return norm


def _projection_scale(positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
    """Per sample, <positive, negative> / |negative|^2 (the least-squares scale of negative onto positive)."""
    p, n = positive.reshape(positive.shape[0], -1), negative.reshape(negative.shape[0], -1)
    alpha = torch.sum(p * n, dim=1, keepdim=True) / (torch.sum(n**2, dim=1, keepdim=True) + 1e-8)
    return alpha.reshape([positive.shape[0]] + [1] * (positive.ndim - 1))


def cfg_zero_star() -> CfgFunction:
    """Post-CFG: guidance around the unconditional prediction scaled by its projection on the positive
    (Fan et al. 2025, CFG-Zero*)."""

    def zero_star(args: dict) -> torch.Tensor:
        x, cond, uncond = args["input"], args["cond_denoised"], args["uncond_denoised"]
        alpha = _projection_scale(x - cond, x - uncond)
        return args["denoised"] + uncond * (alpha - 1.0) + args["cond_scale"] * uncond * (1.0 - alpha)

    return zero_star


def _parallel_orthogonal(v: torch.Tensor, direction: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    unit = torch.nn.functional.normalize(direction, dim=[-1, -2, -3])
    parallel = (v * unit).sum(dim=[-1, -2, -3], keepdim=True) * unit
    return parallel, v - parallel


def adaptive_projected_guidance(eta: float, norm_threshold: float, momentum: float) -> CfgFunction:
    """Pre-CFG: the guidance (cond - uncond) with momentum, clipped in norm, its component along the
    positive x0 scaled by eta (Sadat et al. 2024, APG); the positive is rewritten so CFG yields that."""
    state: dict = {"average": 0, "sigma": None}

    def apg(args: dict) -> list:
        out = args["conds_out"]
        if len(out) == 1:
            return out
        cond, uncond, sigma = out[0], out[1], args["sigma"][0]
        if state["sigma"] is not None and sigma > state["sigma"]:
            state["average"] = 0  # a new run
        state["sigma"] = sigma
        guidance = cond - uncond
        if momentum != 0:
            average = state["average"]
            state["average"] = guidance if not torch.is_tensor(average) else momentum * average + guidance
            guidance = state["average"]
        if norm_threshold > 0:
            norm = guidance.norm(p=2, dim=[-1, -2, -3], keepdim=True)
            guidance = guidance * torch.minimum(torch.ones_like(norm), norm_threshold / norm)
        parallel, orthogonal = _parallel_orthogonal(guidance, cond)
        modified = orthogonal + eta * parallel
        return [(uncond + modified) + (cond - uncond) / args["cond_scale"], uncond, *out[2:]]

    return apg


def mahiro() -> CfgFunction:
    """Post-CFG: blend the guided x0 with cfg x the positive x0, by how similar (in signed square root)
    their mean is to cfg x the negative x0 (ComfyUI's Mahiro guidance)."""

    def mahiro_guidance(args: dict) -> torch.Tensor:
        scale, guided = args["cond_scale"], args["denoised"]
        leap, u_leap = args["cond_denoised"] * scale, args["uncond_denoised"] * scale
        merge = (leap + guided) / 2
        similarity = torch.nn.functional.cosine_similarity(
            torch.sqrt(u_leap.abs()) * u_leap.sign(), torch.sqrt(merge.abs()) * merge.sign()).mean()
        weight = 2 * (similarity + 1)
        return (weight * guided + (4 - weight) * leap) / 4

    return mahiro_guidance


def _tangentially_damped(cond_score: torch.Tensor, uncond_score: torch.Tensor) -> torch.Tensor:
    """uncond_score projected on the first right-singular vector of [uncond; cond] (per sample)."""
    batch = cond_score.shape[0]
    cond_flat = cond_score.reshape(batch, 1, -1).float()
    uncond_flat = uncond_score.reshape(batch, 1, -1).float()
    _, _, vh = torch.linalg.svd(torch.cat((uncond_flat, cond_flat), dim=1).cpu(), full_matrices=False)
    v1 = vh[:, 0:1, :].to(uncond_flat.device)
    return ((uncond_flat @ v1.transpose(-2, -1)) * v1).reshape_as(uncond_score).to(uncond_score.dtype)


def tangential_damping_cfg() -> CfgFunction:
    """Pre-CFG: the negative's noise prediction without its components tangential to the positive's
    (Tangential Damping CFG, arXiv:2503.18137)."""

    def tcfg(args: dict) -> list:
        x, out = args["input"], args["conds_out"]
        if len(out) <= 1 or None in args["conds"][:2]:
            return out
        uncond_td = _tangentially_damped(x - out[0], x - out[1])
        return [out[0], x - uncond_td, *out[2:]]

    return tcfg


def latent_operation_cfg(operation: Callable[..., torch.Tensor]) -> CfgFunction:
    """Pre-CFG: apply a LATENT_OPERATION to the guidance (cond - uncond), or to the positive alone."""

    def apply(args: dict) -> list:
        out = args["conds_out"]
        if len(out) == 2:
            out[0] = operation(latent=(out[0] - out[1])) + out[1]
        else:
            out[0] = operation(latent=out[0])
        return out

    return apply


def perp_neg_cfg(empty_conditioning: list, neg_scale: float) -> CfgFunction:
    """A sampler_cfg_function for Perp-Neg (the PerpNeg node): the empty prompt is evaluated each step."""
    def perp_neg_function(args: dict) -> torch.Tensor:
        x, model = args["input"], args["model"]
        empty = [[c, {**o, "prompt_type": "negative"}] for c, o in empty_conditioning]
        (empty_x0,) = calc_cond_batch(model, [prepare_conds(model, empty, x.shape, x.device)], x, args["sigma"],
                                      args["model_options"])
        return x - perp_neg(x, args["cond_denoised"], args["uncond_denoised"], empty_x0, neg_scale,
                            args["cond_scale"])

    return perp_neg_function
