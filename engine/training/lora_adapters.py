"""Trainable weight changes for every layer of a UNet, kept outside the (shared) module.

For each Linear / Conv / norm layer: a LoRA pair for weights of 2 or more dimensions (up: Kaiming-uniform,
down: zeros, so training starts from the unchanged model; change = alpha / rank * up @ down), a full
difference `diff` for 1-D weights and `diff_b` for biases, both starting at zero. The tensors are named
as ComfyUI's trainer saves them ("diffusion_model.<layer>.lora_up.weight", ".lora_down.weight", ".alpha",
".diff", ".diff_b"), so the state dict is a LoRA file Loom's and ComfyUI's loaders read. `weights(unet)`
gives the changed parameters for torch.func.functional_call: the module itself is never modified.
"""

from __future__ import annotations

import math

import torch
from torch import nn

ADAPTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.GroupNorm, nn.LayerNorm)
PREFIX = "diffusion_model."


class LoraAdapters:
    """The trainable tensors of a LoRA (rank `rank`, alpha 1) over `unet`'s layers."""

    def __init__(self, unet: nn.Module, rank: int, dtype: torch.dtype, seed: int, existing: dict | None = None):
        generator = torch.Generator().manual_seed(seed)
        existing = existing or {}
        self.state: dict[str, torch.Tensor] = {}
        self.layers: list[tuple[str, nn.Module]] = [
            (name, m) for name, m in unet.named_modules() if isinstance(m, ADAPTED) and m.weight is not None]
        for name, layer in self.layers:
            key, weight = PREFIX + name, layer.weight
            if weight.ndim >= 2:
                up = torch.empty(weight.shape[0], rank)
                nn.init.kaiming_uniform_(up, a=math.sqrt(5), generator=generator)
                self._add(f"{key}.lora_up.weight", existing, up, dtype)
                self._add(f"{key}.lora_down.weight", existing, torch.zeros(rank, weight[0].numel()), dtype)
                self._add(f"{key}.alpha", existing, torch.tensor(1.0), dtype, trained=False)
            else:
                self._add(f"{key}.diff", existing, torch.zeros(weight.shape), dtype)
            if getattr(layer, "bias", None) is not None:
                self._add(f"{key}.diff_b", existing, torch.zeros(layer.bias.shape), dtype)

    def _add(self, key: str, existing: dict, initial: torch.Tensor, dtype: torch.dtype, trained: bool = True) -> None:
        value = existing.get(key, initial).detach().to(dtype=dtype).clone()
        self.state[key] = value.requires_grad_(trained)

    def parameters(self) -> list[torch.Tensor]:
        return [t for t in self.state.values() if t.requires_grad]

    def to(self, device) -> LoraAdapters:
        for key, value in self.state.items():
            self.state[key] = value.detach().to(device).requires_grad_(value.requires_grad)
        return self

    def weights(self) -> dict[str, torch.Tensor]:
        """{parameter name in the UNet: base parameter + trained change}."""
        changed = {}
        for name, layer in self.layers:
            key, weight = PREFIX + name, layer.weight
            if weight.ndim >= 2:
                up, down = self.state[f"{key}.lora_up.weight"], self.state[f"{key}.lora_down.weight"]
                scale = self.state[f"{key}.alpha"] / up.shape[1]
                delta = (scale * (up @ down)).reshape(weight.shape)
            else:
                delta = self.state[f"{key}.diff"]
            changed[f"{name}.weight"] = weight + delta.to(weight.dtype)
            if getattr(layer, "bias", None) is not None:
                changed[f"{name}.bias"] = layer.bias + self.state[f"{key}.diff_b"].to(layer.bias.dtype)
        return changed

    def state_dict(self, dtype: torch.dtype) -> dict[str, torch.Tensor]:
        """The LoRA as a LORA_MODEL / file: detached tensors in `dtype`."""
        return {key: value.detach().to(dtype).contiguous() for key, value in self.state.items()}


class AdaptedUNet:
    """Calls `unet` with the adapters' changed parameters (the UNet's own stay as they are)."""

    def __init__(self, unet: nn.Module, adapters: LoraAdapters, checkpointing: bool):
        self.unet, self.adapters, self.checkpointing = unet, adapters, checkpointing

    def __getattr__(self, name: str):
        return getattr(self.unet, name)

    def __call__(self, *args, **kwargs):
        def forward(*inputs):
            return torch.func.functional_call(self.unet, self.adapters.weights(), inputs, kwargs)

        if self.checkpointing:
            return torch.utils.checkpoint.checkpoint(forward, *args, use_reentrant=False)
        return forward(*args)
