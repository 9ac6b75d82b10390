"""The guidance formulas of ComfyUI's CFG-modifying model patches, as model_options hook functions.

Each builder returns the function a patch node sets on MODEL: a `sampler_cfg_function(args)` returns the
guided noise prediction (x - x0) from args["cond"] / args["uncond"] (noise predictions); a
`sampler_post_cfg_function(args)` or `sampler_pre_cfg_function(args)` rewrites the x0 estimates.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

CfgFunction = Callable[[dict], torch.Tensor]


def video_linear_cfg(min_cfg: float) -> CfgFunction:
    """Guidance ramping linearly over the batch (frames) from min_cfg to cfg (VideoLinearCFGGuidance)."""

    def linear(args: dict) -> torch.Tensor:
        cond, uncond = args["cond"], args["uncond"]
        ramp = torch.linspace(min_cfg, args["cond_scale"], cond.shape[0], device=cond.device)
        return uncond + ramp.reshape(-1, *([1] * (cond.ndim - 1))) * (cond - uncond)

    return linear
