"""ComfyUI's `comfy.utils`: ProgressBar (reaching the websocket through the running node's context),
image resizing (common_upscale, lanczos, bislerp), tiled_scale, checkpoint reading and writing, and the
small state-dict and batch helpers packs call. Backed by Loom's engine.graph.context.ProgressBar,
nodes.image_tensors, engine.models.tiling and engine.models.checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from comfy_compat.unet_key_maps import (  # noqa: F401 - ComfyUI's comfy.utils names
    TRANSFORMER_BLOCKS,
    UNET_MAP_ATTENTIONS,
    UNET_MAP_BASIC,
    UNET_MAP_RESNET,
    unet_to_diffusers,
)
from engine.graph import context
from engine.sampling.cfg import repeat_to_batch

PROGRESS_BAR_ENABLED = True
MMAP_TORCH_FILES = False
DISABLE_MMAP = False
_progress_hook: list[Callable | None] = [None]


class ProgressBar(context.ProgressBar):
    """Progress of the node running when it is created: `update(n)`, `update_absolute(value, total, preview)`.

    Each update is a `progress` event (to the websocket, the CLI bar, any sink) and an interrupt check;
    a hook set with set_progress_bar_global_hook is called too.
    """

    def __init__(self, total: float, node_id: str | None = None):
        super().__init__(total)
        self.node_id = node_id if node_id is not None else getattr(self._ctx, "node_id", None)

    def update_absolute(self, value: float, total: float | None = None, preview: Any = None) -> None:
        super().update_absolute(value, total, preview)
        hook = _progress_hook[0]
        if hook is not None:
            hook(self.current, self.total, preview, node_id=self.node_id)


def set_progress_bar_enabled(enabled: bool) -> None:
    global PROGRESS_BAR_ENABLED
    PROGRESS_BAR_ENABLED = enabled


def set_progress_bar_global_hook(function: Callable | None) -> None:
    """Call `function(value, total, preview, node_id=...)` on every ProgressBar update too."""
    _progress_hook[0] = function


def common_upscale(samples: torch.Tensor, width: int, height: int, upscale_method: str, crop: str) -> torch.Tensor:
    """Resize channels-first samples [B,C,H,W] to width x height ('nearest-exact', 'bilinear', 'area',
    'bicubic', 'lanczos', 'bislerp'); crop 'center' crops to the target aspect ratio first."""
    from nodes.image_tensors import resize_channels_first

    if upscale_method == "bislerp":
        from engine.image_resize import center_crop_to_aspect

        if crop == "center":
            samples = center_crop_to_aspect(samples, width, height)
        return bislerp(samples, width, height)
    return resize_channels_first(samples, width, height, upscale_method, crop)


def lanczos(samples: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """Lanczos resampling of [B,C,H,W] samples in [0, 1] (through Pillow, per image)."""
    from nodes.image_tensors import resize_channels_first

    return resize_channels_first(samples, width, height, "lanczos")


def bislerp(samples: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """Bilinear resize of [B,C,H,W] latents where each blend is a slerp of the channel vectors (keeps their
    norm, which plain bilinear shrinks between dissimilar neighbours): LatentUpscale's own implementation."""
    from nodes.latents import bislerp as latent_bislerp

    return latent_bislerp(samples, width, height)


def get_tiled_scale_steps(width: int, height: int, tile_x: int, tile_y: int, overlap: int) -> int:
    """How many tiles tiled_scale runs over a width x height input."""
    rows = -(-max(height - overlap, 1) // max(tile_y - overlap, 1))
    cols = -(-max(width - overlap, 1) // max(tile_x - overlap, 1))
    return rows * cols


def tiled_scale(samples: torch.Tensor, function: Callable[[torch.Tensor], torch.Tensor], tile_x: int = 64,
                tile_y: int = 64, overlap: int = 8, upscale_amount: float = 4, out_channels: int = 3,
                output_device: Any = "cpu", pbar: Any = None) -> torch.Tensor:
    """`function` over overlapping tiles of [B,C,H,W] samples, seams cross-faded; the output is
    `upscale_amount` times larger (an integer factor)."""
    from engine.models.tiling import tiled_apply

    scale = round(upscale_amount)
    if abs(scale - upscale_amount) > 1e-6 or scale < 1:
        raise NotImplementedError(f"comfy.utils.tiled_scale: Loom tiles by integer factors, got {upscale_amount}")

    def run(tile: torch.Tensor) -> torch.Tensor:
        out = function(tile)
        if pbar is not None:
            pbar.update(1)
        return out

    outputs = [tiled_apply(run, sample[None], min(tile_x, tile_y), overlap, 1, scale) for sample in samples]
    return torch.cat(outputs).to(output_device)


tiled_scale_multidim = tiled_scale


def repeat_to_batch_size(tensor: torch.Tensor, batch_size: int, dim: int = 0) -> torch.Tensor:
    """`tensor` cut or tiled along `dim` to `batch_size` entries (Loom's engine.sampling.cfg.repeat_to_batch)."""
    return repeat_to_batch(tensor, batch_size, dim)


def resize_to_batch_size(tensor: torch.Tensor, batch_size: int) -> torch.Tensor:
    """`tensor` with `batch_size` entries, picked evenly from its batch."""
    size = tensor.shape[0]
    if size == batch_size:
        return tensor
    index = torch.linspace(0, size - 1, batch_size).round().long() if batch_size > 1 else torch.zeros(1).long()
    return tensor[index]


def reshape_mask(input_mask: torch.Tensor, output_shape: tuple) -> torch.Tensor:
    """A mask [B,H,W] or [B,1,H,W] resized and batched to `output_shape` [B,C,H,W]."""
    mask = input_mask.reshape(-1, 1, *input_mask.shape[-2:]).float()
    mask = torch.nn.functional.interpolate(mask, size=tuple(output_shape[2:]), mode="bilinear")
    mask = mask.expand(-1, output_shape[1], *mask.shape[2:]) if output_shape[1] > 1 else mask
    return repeat_to_batch_size(mask, output_shape[0])


def load_torch_file(ckpt: str, safe_load: bool = False, device: Any = None, return_metadata: bool = False) -> Any:
    """A checkpoint's tensors as a dict (.safetensors memory-mapped; pickles only with weights_only=True),
    with the file's metadata as a second value when `return_metadata`."""
    from engine.models.checkpoint import open_checkpoint

    lazy = open_checkpoint(ckpt)
    tensors = dict(lazy)
    if device is not None:
        tensors = {k: v.to(device) for k, v in tensors.items()}
    return (tensors, dict(lazy.metadata or {})) if return_metadata else tensors


def save_torch_file(sd: Mapping[str, torch.Tensor], ckpt: str, metadata: dict | None = None) -> None:
    """Write tensors as .safetensors (with string metadata)."""
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in sd.items()}, ckpt, metadata=metadata)


def calculate_parameters(sd: Mapping[str, torch.Tensor], prefix: str = "") -> int:
    return sum(v.nelement() for k, v in sd.items() if k.startswith(prefix))


def weight_dtype(sd: Mapping[str, torch.Tensor], prefix: str = "") -> torch.dtype | None:
    """The dtype holding most parameters under `prefix`."""
    counts: dict[torch.dtype, int] = {}
    for key, value in sd.items():
        if key.startswith(prefix):
            counts[value.dtype] = counts.get(value.dtype, 0) + value.nelement()
    return max(counts, key=counts.get) if counts else None


def state_dict_key_replace(state_dict: dict, keys_to_replace: Mapping[str, str]) -> dict:
    for old, new in keys_to_replace.items():
        if old in state_dict:
            state_dict[new] = state_dict.pop(old)
    return state_dict


def state_dict_prefix_replace(state_dict: dict, replace_prefix: Mapping[str, str], filter_keys: bool = False) -> dict:
    out = {} if filter_keys else state_dict
    for old, new in replace_prefix.items():
        for key in [k for k in state_dict if k.startswith(old)]:
            out[new + key[len(old):]] = state_dict.pop(key)
    return out


def get_attr(obj: Any, attr: str) -> Any:
    for name in attr.split("."):
        obj = getattr(obj, name)
    return obj


def set_attr(obj: Any, attr: str, value: Any) -> Any:
    """Set a dotted attribute; returns the previous value."""
    *path, last = attr.split(".")
    for name in path:
        obj = getattr(obj, name)
    previous = getattr(obj, last)
    setattr(obj, last, value)
    return previous


def set_attr_param(obj: Any, attr: str, value: torch.Tensor) -> Any:
    return set_attr(obj, attr, torch.nn.Parameter(value, requires_grad=False))


def copy_to_param(obj: Any, attr: str, value: torch.Tensor) -> None:
    get_attr(obj, attr).data.copy_(value)
