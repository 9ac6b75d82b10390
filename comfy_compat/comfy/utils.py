"""ComfyUI's `comfy.utils`: ProgressBar (Loom's engine.graph.context.ProgressBar), image resizing and
checkpoint reading (Loom's nodes.image_tensors and engine.models.checkpoint, imported lazily: they need torch).
"""

from __future__ import annotations

from typing import Any

from engine.graph import context


class ProgressBar(context.ProgressBar):
    """Progress of the node running when it is created: `update(n)`, `update_absolute(value, total, preview)`.

    Each update is a `progress` event (to the websocket, the CLI bar, any sink) and an interrupt check.
    """

    def __init__(self, total: float, node_id: str | None = None):
        super().__init__(total)
        self.node_id = node_id if node_id is not None else getattr(self._ctx, "node_id", None)


def common_upscale(samples: Any, width: int, height: int, upscale_method: str, crop: str) -> Any:
    """Resize channels-first samples [B,C,H,W] to width x height ('nearest-exact', 'bilinear', 'area',
    'bicubic', 'lanczos'); crop 'center' crops to the target aspect ratio first."""
    from nodes.image_tensors import resize_channels_first

    return resize_channels_first(samples, width, height, upscale_method, crop)


def load_torch_file(ckpt: str, safe_load: bool = False, device: Any = None,
                    return_metadata: bool = False) -> Any:
    """A checkpoint's tensors as a dict (.safetensors memory-mapped; pickles only with weights_only=True),
    with the file's metadata as a second value when `return_metadata`."""
    from engine.models.checkpoint import open_checkpoint

    lazy = open_checkpoint(ckpt)
    tensors = dict(lazy)
    if device is not None:
        tensors = {k: v.to(device) for k, v in tensors.items()}
    return (tensors, dict(lazy.metadata or {})) if return_metadata else tensors
