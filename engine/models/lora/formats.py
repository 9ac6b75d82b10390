"""The weight change each adapter format encodes, as the formula its trainer defines it.

LoRA / LoCon (kohya, PEFT, old diffusers): scale * up @ down, with an optional tucker `mid` for convs;
LoHa (LyCORIS hada_*): scale * (w1a @ w1b) * (w2a @ w2b), tucker cores optional; LoKr (lokr_*):
scale * kron(w1, w2), either factor given whole or as a product; scale = alpha / rank (1 without alpha);
full differences (LyCORIS "full": `diff`, optional bias `diff_b`) are added as they are.
DoRA (`dora_scale`, PEFT's `lora_magnitude_vector`) renormalises the changed weight to a learned magnitude.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

Tensors = dict[str, torch.Tensor]


def _f32(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    return t.to(device=device, dtype=torch.float32)


def _tucker(core: torch.Tensor, wa: torch.Tensor, wb: torch.Tensor) -> torch.Tensor:
    """LyCORIS' tucker rebuild: core [r, r, kh, kw] with wa [r, out], wb [r, in] -> [out, in, kh, kw]."""
    return torch.einsum("i j ..., i p, j r -> p r ...", core, wa, wb)


@dataclass
class Adapter:
    """One module's change. `parts` hold the format's tensors by role; `shape_of` gives the delta's
    (out, in-and-kernel numel) so a mismatch with the target weight is caught before anything is applied."""

    parts: Tensors
    alpha: float | None = None
    dora_scale: torch.Tensor | None = None
    kind: ClassVar[str] = "lora"

    @property
    def rank(self) -> int | None:
        raise NotImplementedError

    @property
    def scale(self) -> float:
        rank = self.rank
        return self.alpha / rank if self.alpha is not None and rank else 1.0

    def matrix(self, device: torch.device) -> torch.Tensor:
        """The unscaled change, float32, shaped [out, ...]."""
        raise NotImplementedError

    def delta_numel(self) -> tuple[int, int]:
        raise NotImplementedError

    def fits(self, shape: torch.Size | tuple[int, ...]) -> bool:
        out, rest = self.delta_numel()
        return len(shape) >= 1 and out == shape[0] and rest == math.prod(shape[1:])

    def patched(self, weight: torch.Tensor, strength: float) -> torch.Tensor:
        """The new weight (a new tensor; `weight` is left alone) at `strength`."""
        delta = (self.matrix(weight.device) * self.scale).reshape(weight.shape)
        if self.dora_scale is None:
            return weight + strength * delta
        return weight + strength * (_decomposed(weight, delta, _f32(self.dora_scale, weight.device)) - weight)


def _decomposed(weight: torch.Tensor, delta: torch.Tensor, magnitude: torch.Tensor) -> torch.Tensor:
    """DoRA: (weight + delta) rescaled so its norm along the magnitude's axis equals the magnitude."""
    changed = weight + delta
    if magnitude.shape[0] == changed.shape[0]:  # per output row: [out] (PEFT) or [out, 1, ...] (LyCORIS)
        norm = changed.reshape(changed.shape[0], -1).norm(dim=1)
        shape = (changed.shape[0],) + (1,) * (changed.ndim - 1)
    else:  # per input column: [1, in, ...] (kohya / LyCORIS default)
        norm = changed.transpose(0, 1).reshape(changed.shape[1], -1).norm(dim=1)
        shape = (1, changed.shape[1]) + (1,) * (changed.ndim - 2)
    eps = torch.finfo(changed.dtype).eps
    return changed * (magnitude.reshape(shape) / (norm.reshape(shape) + eps))


class LoRA(Adapter):
    """up [out, r(,1,1)], down [r, in(, kh, kw)], optional mid [r, r, kh, kw] (LoCon tucker)."""

    @property
    def rank(self) -> int:
        return self.parts["down"].shape[0]

    def matrix(self, device: torch.device) -> torch.Tensor:
        up = _f32(self.parts["up"], device).flatten(1)
        down = _f32(self.parts["down"], device).flatten(1)
        if "mid" in self.parts:
            return torch.einsum("o a, a b ..., b i -> o i ...", up, _f32(self.parts["mid"], device), down)
        return up @ down

    def patched(self, weight: torch.Tensor, strength: float) -> torch.Tensor:
        if "mid" in self.parts or self.dora_scale is not None:
            return super().patched(weight, strength)
        up = _f32(self.parts["up"], weight.device).flatten(1)
        down = _f32(self.parts["down"], weight.device).flatten(1)
        flat = weight.reshape(weight.shape[0], -1)
        return torch.addmm(flat, up, down, alpha=strength * self.scale).reshape(weight.shape)  # one fused pass

    def delta_numel(self) -> tuple[int, int]:
        down = self.parts["down"]
        rest = down[0].numel()
        if "mid" in self.parts:
            rest *= self.parts["mid"][0, 0].numel()
        return self.parts["up"].shape[0], rest


class LoHa(Adapter):
    """hada_w1_a [out, r], hada_w1_b [r, in*k*k] (same for w2); with hada_t1/t2 the tucker form."""

    kind = "loha"

    @property
    def rank(self) -> int:
        return self.parts["w1_b"].shape[0]

    def _factor(self, n: int, device: torch.device) -> torch.Tensor:
        wa, wb = _f32(self.parts[f"w{n}_a"], device), _f32(self.parts[f"w{n}_b"], device)
        if f"t{n}" in self.parts:
            return _tucker(_f32(self.parts[f"t{n}"], device), wa, wb)
        return wa @ wb

    def matrix(self, device: torch.device) -> torch.Tensor:
        return self._factor(1, device) * self._factor(2, device)

    def delta_numel(self) -> tuple[int, int]:
        if "t1" in self.parts:
            return self.parts["w1_a"].shape[1], self.parts["w1_b"].shape[1] * self.parts["t1"][0, 0].numel()
        return self.parts["w1_a"].shape[0], self.parts["w1_b"].shape[1]


class LoKr(Adapter):
    """kron(w1, w2): lokr_w1 or lokr_w1_a @ lokr_w1_b; lokr_w2, lokr_w2_a @ lokr_w2_b or tucker with lokr_t2."""

    kind = "lokr"

    @property
    def rank(self) -> int | None:
        for name in ("w1_b", "w2_b"):
            if name in self.parts:
                return self.parts[name].shape[0]
        return None

    def _w1(self, device: torch.device) -> torch.Tensor:
        if "w1" in self.parts:
            return _f32(self.parts["w1"], device)
        return _f32(self.parts["w1_a"], device) @ _f32(self.parts["w1_b"], device)

    def _w2(self, device: torch.device) -> torch.Tensor:
        if "w2" in self.parts:
            return _f32(self.parts["w2"], device)
        wa, wb = _f32(self.parts["w2_a"], device), _f32(self.parts["w2_b"], device)
        if "t2" in self.parts:
            return _tucker(_f32(self.parts["t2"], device), wa, wb)
        return wa @ wb

    def matrix(self, device: torch.device) -> torch.Tensor:
        w1, w2 = self._w1(device), self._w2(device)
        if w2.ndim == 4:
            w1 = w1[:, :, None, None]
        return torch.kron(w1, w2)

    def _shape(self, n: int) -> tuple[int, int]:
        """(rows, columns incl. kernel) of factor n without computing it."""
        p = self.parts
        if f"w{n}" in p:
            return p[f"w{n}"].shape[0], p[f"w{n}"][0].numel()
        if f"t{n}" in p:
            return p[f"w{n}_a"].shape[1], p[f"w{n}_b"].shape[1] * p[f"t{n}"][0, 0].numel()
        return p[f"w{n}_a"].shape[0], p[f"w{n}_b"][0].numel()

    def delta_numel(self) -> tuple[int, int]:
        (o1, i1), (o2, i2) = self._shape(1), self._shape(2)
        return o1 * o2, i1 * i2


class Full(Adapter):
    """The whole change stored as is: `diff` for the weight, optional `diff_b` for the bias."""

    kind = "full"

    @property
    def rank(self) -> None:
        return None

    def matrix(self, device: torch.device) -> torch.Tensor:
        return _f32(self.parts["diff"], device)

    def delta_numel(self) -> tuple[int, int]:
        return self.parts["diff"].shape[0], self.parts["diff"][0].numel()


# File suffix -> (adapter class, role). Longer suffixes are tried first.
SUFFIXES: dict[str, tuple[type[Adapter] | None, str]] = {
    ".lora_up.weight": (LoRA, "up"), ".lora_down.weight": (LoRA, "down"), ".lora_mid.weight": (LoRA, "mid"),
    "_lora.up.weight": (LoRA, "up"), "_lora.down.weight": (LoRA, "down"),
    ".lora.up.weight": (LoRA, "up"), ".lora.down.weight": (LoRA, "down"),
    ".lora_linear_layer.up.weight": (LoRA, "up"), ".lora_linear_layer.down.weight": (LoRA, "down"),
    ".lora_B.weight": (LoRA, "up"), ".lora_A.weight": (LoRA, "down"),
    ".lora_B.default.weight": (LoRA, "up"), ".lora_A.default.weight": (LoRA, "down"),
    **{f".hada_{name}": (LoHa, name) for name in ("w1_a", "w1_b", "w2_a", "w2_b", "t1", "t2")},
    **{f".lokr_{name}": (LoKr, name) for name in ("w1", "w1_a", "w1_b", "w2", "w2_a", "w2_b", "t2")},
    ".diff": (Full, "diff"), ".diff_b": (None, "diff_b"),  # a bias change may ride along any adapter
    ".alpha": (None, "alpha"), ".dora_scale": (None, "dora"), ".lora_magnitude_vector": (None, "dora"),
    ".lora_magnitude_vector.weight": (None, "dora"), ".lora_magnitude_vector.default.weight": (None, "dora"),
}
_ORDERED = sorted(SUFFIXES, key=len, reverse=True)


def split_key(key: str) -> tuple[str, type[Adapter] | None, str] | None:
    """'<module><suffix>' -> (module, adapter class or None for shared roles, role); None if unknown."""
    for suffix in _ORDERED:
        if key.endswith(suffix):
            kind, role = SUFFIXES[suffix]
            return key[: -len(suffix)], kind, role
    return None


_REQUIRED = {LoRA: ({"up", "down"},), LoHa: ({"w1_a", "w1_b", "w2_a", "w2_b"},),
             Full: ({"diff"},),
             LoKr: ({"w1", "w2"}, {"w1_a", "w1_b", "w2"}, {"w1", "w2_a", "w2_b"}, {"w1_a", "w1_b", "w2_a", "w2_b"})}


def build_adapters(tensors: Tensors) -> tuple[dict[str, Adapter], list[str]]:
    """Group a LoRA file's tensors by module into adapters; also the keys no format claims."""
    grouped: dict[str, dict] = {}
    unknown = []
    for key, value in tensors.items():
        parsed = split_key(key)
        if parsed is None:
            unknown.append(key)
            continue
        module, kind, role = parsed
        entry = grouped.setdefault(module, {"kind": None, "parts": {}, "keys": []})
        entry["keys"].append(key)
        if kind is not None:
            entry["kind"] = kind
        entry["parts"][role] = value
    adapters = {}
    for module, entry in grouped.items():
        kind, parts = entry["kind"], entry["parts"]
        alpha, dora = parts.pop("alpha", None), parts.pop("dora", None)
        if kind is None or not any(need <= parts.keys() for need in _REQUIRED[kind]):
            unknown.extend(entry["keys"])
            continue
        adapters[module] = kind(parts, float(alpha) if alpha is not None else None, dora)
    return adapters, unknown
