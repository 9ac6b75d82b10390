"""Trainable weight changes for every layer of a UNet, kept outside the (shared) module.

For each Linear / Conv / norm layer, weights of 2 or more dimensions get a "LoRA" pair (up: Kaiming-uniform,
down: zeros; change = alpha / rank * up @ down) or a "LoHa" Hadamard product of two pairs (w1_a, w2_a, w2_b
drawn around 0.1 / 0.1 / 0.01, w1_b zeros; change = alpha / rank * (w1_a @ w1_b) * (w2_a @ w2_b)), so
training starts from the unchanged model; 1-D weights get a full difference `diff`, biases `diff_b`, both
zero. The tensors are named as ComfyUI's trainer saves them ("diffusion_model.<layer>.lora_up.weight",
".lora_down.weight", ".hada_w1_a", ..., ".alpha", ".diff", ".diff_b"), so the state dict is a LoRA file
Loom's and ComfyUI's loaders read. `weights(unet)`
gives the changed parameters for torch.func.functional_call: the module itself is never modified.
"""

from __future__ import annotations

import math

import torch
from torch import nn

ADAPTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.GroupNorm, nn.LayerNorm)
PREFIX = "diffusion_model."
ALGORITHMS = ("LoRA", "LoHa")


class LoraAdapters:
    """The trainable tensors of a LoRA (rank `rank`, alpha 1) over `unet`'s layers."""

    def __init__(self, unet: nn.Module, rank: int, dtype: torch.dtype, seed: int, existing: dict | None = None,
                 algorithm: str = "LoRA"):
        if algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm {algorithm!r} is not supported by Loom yet; use one of {list(ALGORITHMS)}")
        self.algorithm = algorithm
        generator = torch.Generator().manual_seed(seed)
        existing = existing or {}
        self.state: dict[str, torch.Tensor] = {}
        self.layers: list[tuple[str, nn.Module]] = [
            (name, m) for name, m in unet.named_modules() if isinstance(m, ADAPTED) and m.weight is not None]
        for name, layer in self.layers:
            key, weight = PREFIX + name, layer.weight
            if weight.ndim >= 2:
                for suffix, initial in self._factors(weight, rank, generator).items():
                    self._add(f"{key}.{suffix}", existing, initial, dtype)
                self._add(f"{key}.alpha", existing, torch.tensor(1.0), dtype, trained=False)
            else:
                self._add(f"{key}.diff", existing, torch.zeros(weight.shape), dtype)
            if getattr(layer, "bias", None) is not None:
                self._add(f"{key}.diff_b", existing, torch.zeros(layer.bias.shape), dtype)

    def _factors(self, weight: torch.Tensor, rank: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        out_dim, in_dim = weight.shape[0], weight[0].numel()
        if self.algorithm == "LoHa":
            return {"hada_w1_a": torch.randn(out_dim, rank, generator=generator) + 0.1,
                    "hada_w1_b": torch.zeros(rank, in_dim),
                    "hada_w2_a": torch.randn(out_dim, rank, generator=generator) + 0.1,
                    "hada_w2_b": torch.randn(rank, in_dim, generator=generator) + 0.01}
        up = torch.empty(out_dim, rank)
        nn.init.kaiming_uniform_(up, a=math.sqrt(5), generator=generator)
        return {"lora_up.weight": up, "lora_down.weight": torch.zeros(rank, in_dim)}

    def _delta(self, key: str) -> torch.Tensor:
        """A 2-D (or larger) weight's change, flat [out, in]."""
        state, alpha = self.state, self.state[f"{key}.alpha"]
        if self.algorithm == "LoHa":
            w1 = state[f"{key}.hada_w1_a"] @ state[f"{key}.hada_w1_b"]
            w2 = state[f"{key}.hada_w2_a"] @ state[f"{key}.hada_w2_b"]
            return alpha / state[f"{key}.hada_w1_b"].shape[0] * w1 * w2
        up = state[f"{key}.lora_up.weight"]
        return alpha / up.shape[1] * (up @ state[f"{key}.lora_down.weight"])

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
                delta = self._delta(key).reshape(weight.shape)
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
