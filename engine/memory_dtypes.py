"""Which dtype model weights are held in, and which dtype they compute in.

A CPU has no fast half-precision arithmetic, yet a half-precision checkpoint upcast to fp32 at load takes
twice its memory. So by default (manual cast) where the device lacks fast half precision, fp16/bf16 weights
stay in the checkpoint's own dtype and each layer computes in fp32 (engine.memory_tiers.LayerStreamer casts
a layer's weights for the length of its forward). fp16 -> fp32 is exact, so the image is the one weights
upcast at load give. Weights are never narrowed here: an fp32 tensor stays fp32 unless a precision is forced.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

HALF = (torch.float16, torch.bfloat16)
PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def has_fast_half(device: torch.device) -> bool:
    """Whether `device` computes fp16/bf16 at least as fast as fp32 (a GPU); a CPU does not."""
    return device.type != "cpu"


@dataclass(frozen=True)
class DtypePolicy:
    """The dtypes one model manager uses: `precision` "auto" or forced ("fp32", "fp16", "bf16"), and
    `manual_cast` (keep half-precision weights in storage, compute in `compute(kind)`)."""

    device: torch.device
    precision: str = "auto"
    manual_cast: bool = False

    @classmethod
    def create(cls, device: torch.device, precision: str = "auto", manual_cast: bool | None = None) -> DtypePolicy:
        """`manual_cast` None means the default: on where the device lacks fast half precision and no precision
        is forced (a forced precision, e.g. --force-fp32, holds every weight in it: the upcast of old)."""
        if precision not in ("auto", *PRECISIONS):
            raise ValueError(f"precision must be auto, fp32, fp16 or bf16, got {precision!r}")
        if manual_cast is None:
            manual_cast = precision == "auto" and not has_fast_half(device)
        return cls(device, precision, manual_cast)

    def compute(self, kind: str) -> torch.dtype:
        """fp32 on CPU, fp16 on GPU (VAE: bf16 where supported, else fp32), unless precision is forced."""
        if self.precision != "auto":
            return PRECISIONS[self.precision]
        if not has_fast_half(self.device):
            return torch.float32
        if kind == "vae":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
        return torch.float16

    def storage(self, stored: torch.dtype, kind: str) -> torch.dtype:
        """The dtype a floating tensor stored as `stored` is held in: its own where manual cast keeps a
        half-precision tensor that computes in a wider dtype, else the compute dtype."""
        compute = self.compute(kind)
        narrower = stored in HALF and compute.itemsize > stored.itemsize
        return stored if self.manual_cast and narrower else compute


def tensor_specs(state_dict: Mapping[str, torch.Tensor]) -> dict[str, tuple[torch.Size, torch.dtype]]:
    """key -> (shape, dtype), from the source's `shapes()` / `dtypes()` listings where it has them
    (engine.models.checkpoint.LazyStateDict: no tensor is read), else from the tensors."""
    shapes = state_dict.shapes() if hasattr(state_dict, "shapes") else None
    dtypes = state_dict.dtypes() if hasattr(state_dict, "dtypes") else None
    if shapes is None or dtypes is None:
        tensors = dict(state_dict.items())
        shapes = shapes or {k: v.shape for k, v in tensors.items()}
        dtypes = dtypes or {k: v.dtype for k, v in tensors.items()}
    return {k: (torch.Size(shape), dtypes[k]) for k, shape in shapes.items()}


def held_bytes(state_dict: Mapping[str, torch.Tensor], policy: DtypePolicy, kind: str) -> int:
    """Bytes the weights take once held as `policy` says (what placing them will add to a tier)."""
    def held(dtype: torch.dtype) -> torch.dtype:
        return policy.storage(dtype, kind) if dtype.is_floating_point else dtype
    return sum(shape.numel() * held(dtype).itemsize for shape, dtype in tensor_specs(state_dict).values())
