"""A1111-style hypernetworks: per attention width, two small MLPs that add a learned offset to the keys and
the values of every attention (self and cross) whose key width matches: k += mlp_k(k) * s, v += mlp_v(v) * s.

The file (a pickled dict) holds `{width: [keys_layers, values_layers]}` state dicts plus the options that
shape the MLPs: activation_func, is_layer_norm, use_dropout, activate_output, last_layer_dropout. Dropout is
a training device and is left out (inference semantics).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

ACTIVATIONS = {"linear": nn.Identity, "relu": nn.ReLU, "leakyrelu": nn.LeakyReLU, "elu": nn.ELU,
               "swish": nn.Hardswish, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "softsign": nn.Softsign,
               "mish": nn.Mish}


class UnsupportedHypernetwork(ValueError):
    """The file is not a hypernetwork this loader builds."""


def _mlp(weights: dict, activation: str, layer_norm: bool, activate_output: bool) -> nn.Sequential:
    """The layers named in `weights` (`<name>.weight` / `.bias`, in file order): each linear, then the
    activation (not after the last entry unless activate_output), then the layer norm that follows it."""
    names = [key[: -len(".weight")] for key in weights if key.endswith(".weight")]
    layers: list[nn.Module] = []
    i = 0
    while i < len(names):
        weight, bias = weights[f"{names[i]}.weight"], weights[f"{names[i]}.bias"]
        linear = nn.Linear(weight.shape[1], weight.shape[0])
        linear.load_state_dict({"weight": weight, "bias": bias})
        layers.append(linear)
        if activation != "linear" and (i != len(names) - 1 or activate_output):
            layers.append(ACTIVATIONS[activation]())
        if layer_norm:
            i += 1
            norm_weight, norm_bias = weights[f"{names[i]}.weight"], weights[f"{names[i]}.bias"]
            norm = nn.LayerNorm(norm_weight.shape[0])
            norm.load_state_dict({"weight": norm_weight, "bias": norm_bias})
            layers.append(norm)
        i += 1
    return nn.Sequential(*layers).eval().requires_grad_(False)


def load_hypernetwork(path: str | Path) -> dict[int, nn.ModuleList]:
    """{attention width: ModuleList([keys MLP, values MLP])} from a hypernetwork file."""
    sd = torch.load(path, map_location="cpu", weights_only=True)
    activation = sd.get("activation_func", "linear")
    if activation not in ACTIVATIONS:
        raise UnsupportedHypernetwork(f"{Path(path).name}: activation_func {activation!r} is not one of "
                                      f"{', '.join(ACTIVATIONS)}")
    layer_norm, activate_output = sd.get("is_layer_norm", False), sd.get("activate_output", False)
    networks = {}
    for key, value in sd.items():
        if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
            networks[int(key)] = nn.ModuleList(_mlp(part, activation, layer_norm, activate_output)
                                               for part in value[:2])
    if not networks:
        raise UnsupportedHypernetwork(f"{Path(path).name}: no per-width layers (integer keys) in this file")
    return networks


class HypernetworkPatch:
    """An attn1/attn2 patch (ComfyUI's (q, k, v, extra_options) -> (q, k, v) protocol)."""

    def __init__(self, networks: dict[int, nn.ModuleList], strength: float):
        self.networks, self.strength = networks, strength

    def __call__(self, q, k, v, extra_options):
        network = self.networks.get(k.shape[-1])
        if network is None:
            return q, k, v
        network.to(k.device, k.dtype)
        return q, k + network[0](k) * self.strength, v + network[1](v) * self.strength

    def to(self, device):
        for network in self.networks.values():
            network.to(device)
        return self
