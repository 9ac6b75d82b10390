"""ComfyUI's `comfy.conds`: the wrappers ComfyUI puts around conditioning tensors before sampling
(Loom's sampler works on CONDITIONING lists directly; packs build and concatenate these)."""

from __future__ import annotations

from typing import Any

import torch

from comfy_compat.comfy.utils import repeat_to_batch_size


class CONDRegular:
    """A tensor conditioning, repeated to the batch it is used with."""

    def __init__(self, cond: Any):
        self.cond = cond

    def _copy_with(self, cond: Any) -> CONDRegular:
        return self.__class__(cond)

    def process_cond(self, batch_size: int, device: Any, **kwargs: Any) -> CONDRegular:
        return self._copy_with(repeat_to_batch_size(self.cond, batch_size).to(device))

    def can_concat(self, other: CONDRegular) -> bool:
        return self.cond.shape == other.cond.shape

    def concat(self, others: list) -> torch.Tensor:
        return torch.cat([self.cond] + [o.cond for o in others])

    def size(self) -> list:
        return list(self.cond.size())


class CONDNoiseShape(CONDRegular):
    """A tensor shaped like the noise (cropped to an area when one is set)."""

    def process_cond(self, batch_size: int, device: Any, area: Any = None, **kwargs: Any) -> CONDRegular:
        data = self.cond
        if area is not None:  # (sizes..., offsets...) over the spatial dims, which follow batch and channels
            spatial = len(area) // 2
            for dim, (size, offset) in enumerate(zip(area[:spatial], area[spatial:]), start=2):
                data = data.narrow(dim, offset, size)
        return self._copy_with(repeat_to_batch_size(data, batch_size).to(device))


class CONDCrossAttn(CONDRegular):
    """Cross-attention context; contexts of different lengths are padded by repetition to concatenate."""

    def can_concat(self, other: CONDRegular) -> bool:
        a, b = self.cond.shape, other.cond.shape
        return a[0] == b[0] and a[2] == b[2] and max(a[1], b[1]) % min(a[1], b[1]) == 0

    def concat(self, others: list) -> torch.Tensor:
        conds = [self.cond] + [o.cond for o in others]
        length = max(c.shape[1] for c in conds)
        return torch.cat([c.repeat(1, length // c.shape[1], 1) for c in conds])


class CONDConstant(CONDRegular):
    """A value that is the same for the whole batch."""

    def process_cond(self, batch_size: int, device: Any, **kwargs: Any) -> CONDConstant:
        return self._copy_with(self.cond)

    def can_concat(self, other: CONDRegular) -> bool:
        return self.cond == other.cond

    def concat(self, others: list) -> Any:
        return self.cond

    def size(self) -> list:
        return [1]


class CONDList(CONDRegular):
    """A list of tensors, each repeated to the batch."""

    def process_cond(self, batch_size: int, device: Any, **kwargs: Any) -> CONDList:
        return self._copy_with([repeat_to_batch_size(c, batch_size).to(device) for c in self.cond])

    def can_concat(self, other: CONDRegular) -> bool:
        return len(self.cond) == len(other.cond) and all(a.shape == b.shape for a, b in zip(self.cond, other.cond))

    def concat(self, others: list) -> list:
        return [torch.cat([self.cond[i]] + [o.cond[i] for o in others]) for i in range(len(self.cond))]

    def size(self) -> list:
        return list(self.cond[0].size())
