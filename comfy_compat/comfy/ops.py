"""ComfyUI's `comfy.ops`: layer classes that skip weight initialisation (the weights are loaded right
after) and, for `manual_cast`, cast their weights to the input's dtype and device in forward."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from comfy_compat.comfy.model_management import cast_to

__all__ = ["CastWeightBiasOp", "cast_bias_weight", "cast_to", "disable_weight_init", "manual_cast", "pick_operations"]


def cast_bias_weight(layer: nn.Module, input: torch.Tensor | None = None, dtype: Any = None, device: Any = None,
                     bias_dtype: Any = None) -> tuple:
    """(weight, bias) of `layer` on the input's device and dtype."""
    if input is not None:
        dtype = dtype if dtype is not None else input.dtype
        device = device if device is not None else input.device
    bias = layer.bias.to(device=device, dtype=bias_dtype or dtype) if getattr(layer, "bias", None) is not None else None
    return layer.weight.to(device=device, dtype=dtype), bias


class CastWeightBiasOp:
    comfy_cast_weights = False
    weight_function: tuple = ()
    bias_function: tuple = ()


def _layer(base: type, cast: bool, forward: Any) -> type:
    def reset_parameters(self) -> None:
        return None

    def forward_method(self, *args: Any, **kwargs: Any) -> Any:
        if self.comfy_cast_weights:
            weight, bias = cast_bias_weight(self, args[0])
            return forward(self, weight, bias, *args, **kwargs)
        return base.forward(self, *args, **kwargs)

    return type(base.__name__, (base, CastWeightBiasOp), {
        "comfy_cast_weights": cast, "reset_parameters": reset_parameters, "forward": forward_method,
        "__doc__": f"torch's {base.__name__} without weight initialisation{', casting weights' if cast else ''}."})


def _operations(cast: bool) -> type:
    layers = {
        "Linear": _layer(nn.Linear, cast, lambda s, w, b, x: F.linear(x, w, b)),
        "Conv1d": _layer(nn.Conv1d, cast, lambda s, w, b, x: s._conv_forward(x, w, b)),
        "Conv2d": _layer(nn.Conv2d, cast, lambda s, w, b, x: s._conv_forward(x, w, b)),
        "Conv3d": _layer(nn.Conv3d, cast, lambda s, w, b, x: s._conv_forward(x, w, b)),
        "GroupNorm": _layer(nn.GroupNorm, cast, lambda s, w, b, x: F.group_norm(x, s.num_groups, w, b, s.eps)),
        "LayerNorm": _layer(nn.LayerNorm, cast,
                            lambda s, w, b, x: F.layer_norm(x, s.normalized_shape, w, b, s.eps)),
        "ConvTranspose2d": _layer(nn.ConvTranspose2d, cast, lambda s, w, b, x, output_size=None: F.conv_transpose2d(
            x, w, b, s.stride, s.padding, s.output_padding, s.groups, s.dilation)),
        "Embedding": _layer(nn.Embedding, cast, lambda s, w, b, x, out_dtype=None: F.embedding(x, w)),
    }
    return type("manual_cast" if cast else "disable_weight_init", (), layers)


disable_weight_init = _operations(cast=False)
manual_cast = _operations(cast=True)


def pick_operations(weight_dtype: Any, compute_dtype: Any, load_device: Any = None, disable_fast_fp8: bool = False,
                    fp8_optimizations: bool = False, scaled_fp8: Any = None, model_config: Any = None) -> type:
    """manual_cast when weights are stored in another dtype than they compute in, else disable_weight_init."""
    if compute_dtype is None or weight_dtype == compute_dtype:
        return disable_weight_init
    return manual_cast
