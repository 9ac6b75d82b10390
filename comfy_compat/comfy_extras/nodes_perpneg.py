"""ComfyUI's `comfy_extras.nodes_perpneg`: Guider_PerpNeg (a GUIDER class packs subclass or build) and the
module's nodes read from Loom's registry. Perp-Neg guidance itself is Loom's PerpNeg nodes' business."""

from __future__ import annotations

from typing import Any

from comfy_compat.comfy.samplers import CFGGuider
from comfy_compat.comfy_extras import node_getter

__getattr__ = node_getter(__name__)


class Guider_PerpNeg(CFGGuider):
    """A GUIDER with positive, negative and empty conditioning and a neg_scale."""

    def set_conds(self, positive: list, negative: list, empty_negative_prompt: list | None = None) -> None:
        super().set_conds(positive, negative)
        self.conds["empty_negative_prompt"] = empty_negative_prompt or []

    def set_cfg(self, cfg: float, neg_scale: float = 1.0) -> None:
        super().set_cfg(cfg)
        self.neg_scale = neg_scale

    def sample(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("Guider_PerpNeg.sample: Loom's Perp-Neg runs through its PerpNegGuider node")
