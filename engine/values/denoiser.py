"""A placed UNet as engine.sampling sees it: the network call, noise parametrisation and latent scaling,
plus SDXL's label-embedding vector (pooled text + image sizes / aesthetic score) built from conditioning.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from engine.memory import weight_dtype
from engine.models.blocks import timestep_embedding
from engine.models.concat_inputs import concat_input
from engine.models.unclip import sdxl_image_pooled, unclip_label
from engine.sampling.model_wrapper import SamplingModel
from engine.values.base_model import DIFFUSION_PREFIX
from engine.values.model_patcher import ModelPatcher

SIZE_EMBED = 256  # each SDXL size / crop / score number is a 256-wide sinusoidal embedding
DEFAULT_SIZE = 768  # ComfyUI's size assumed when the conditioning does not say


class UNetCall:
    """engine.sampling.model_wrapper's `DiffusionModel.apply` protocol over an engine.models UNetModel.

    `replaced` holds the MODEL's object patches on UNet submodules ({dotted path: module}, ComfyUI's
    "diffusion_model.<path>" object patches): they stand in for the originals during each call only, so
    the shared module is never left changed.
    """

    def __init__(self, unet: nn.Module, replaced: dict | None = None):
        self.unet, self.replaced = unet, replaced or {}

    def apply(self, x, timestep, context, y=None, control=None, transformer_options=None, **kw) -> torch.Tensor:
        """`kw`: extra network inputs a model's extra_conds adds (SVD: num_video_frames, image_only_indicator);
        `transformer_options`: the call's ComfyUI options (patches, cond_or_uncond, sigmas)."""
        with swapped(self.unet, self.replaced):
            return self.unet(x, timestep, context, y=y, control=control, transformer_options=transformer_options,
                             **kw)


def _set(root: nn.Module, path: str, value):
    owner, _, name = path.rpartition(".")
    target = root.get_submodule(owner) if owner else root
    old = getattr(target, name)
    setattr(target, name, value)
    return old


@contextmanager
def swapped(root: nn.Module, replaced: dict) -> Iterator[None]:
    """Attributes of `root` at dotted paths set to `replaced`'s values, restored on exit."""
    originals = {path: _set(root, path, value) for path, value in replaced.items()}
    try:
        yield
    finally:
        for path, value in reversed(originals.items()):
            _set(root, path, value)


def sdxl_numbers(options: dict, refiner: bool) -> list[float]:
    """The numbers SDXL embeds after the pooled text: sizes and crops (base) or sizes and score (refiner)."""
    width, height = options.get("width", DEFAULT_SIZE), options.get("height", DEFAULT_SIZE)
    crop_w, crop_h = options.get("crop_w", 0), options.get("crop_h", 0)
    if refiner:
        default_score = 2.5 if options.get("prompt_type") == "negative" else 6.0
        return [height, width, crop_h, crop_w, options.get("aesthetic_score", default_score)]
    return [height, width, crop_h, crop_w, options.get("target_height", height), options.get("target_width", width)]


def sdxl_vector(options: dict, adm_channels: int, refiner: bool, batch: int) -> torch.Tensor:
    """The label-embedding input y [batch, adm_channels] for one conditioning entry."""
    numbers = sdxl_numbers(options, refiner)
    sizes = timestep_embedding(torch.tensor(numbers, dtype=torch.float32), SIZE_EMBED).reshape(1, -1)
    pooled = options.get("pooled_output")
    if options.get("unclip_conditioning"):  # image prompts (Revision) replace the pooled text, as ComfyUI
        pooled = sdxl_image_pooled(options, adm_channels - sizes.shape[1])
    if pooled is None:
        pooled = torch.zeros(1, adm_channels - sizes.shape[1])
    pooled = pooled.float().cpu().reshape(pooled.shape[0], -1)
    vector = torch.cat([pooled, sizes.expand(pooled.shape[0], -1)], dim=1)
    if vector.shape[1] != adm_channels:
        raise ValueError(f"SDXL conditioning gives a {vector.shape[1]}-wide label vector, the UNet expects "
                         f"{adm_channels}: was the prompt encoded with this checkpoint's CLIP?")
    return vector.repeat((batch + vector.shape[0] - 1) // vector.shape[0], 1)[:batch]


def _label_input(model: ModelPatcher):
    adm = model.config.unet.adm_in_channels
    if not adm:
        return None
    if model.config.family == "sd2_unclip":
        return lambda options, latent_shape: {"y": unclip_label(options, adm, latent_shape[0])}
    refiner = model.config.family == "sdxl_refiner"

    def extra(options: dict, latent_shape: torch.Size) -> dict:
        return {"y": sdxl_vector(options, adm, refiner, latent_shape[0])}

    return extra


def _extra_conds(model: ModelPatcher):
    """The label vector (SDXL, unCLIP) and extra input channels (inpainting, InstructPix2Pix) a UNet takes."""
    config = model.config
    parts = [part for part in (
        _label_input(model),
        concat_input(config.unet.in_channels, config.unet.out_channels, config.family,
                     lambda z: z * config.scaling_factor),
    ) if part is not None]
    if not parts:
        return None
    return lambda options, latent_shape: {k: v for part in parts for k, v in part(options, latent_shape).items()}


def sampling_model(model: ModelPatcher, unet: nn.Module) -> SamplingModel:
    """The sampler's view of MODEL with its UNet placed (inside `manager.use(model.handle)`): its
    model_sampling (object patches first), conditioning wiring and ComfyUI model_options."""
    options = model.model_options
    device, dtype = weight_dtype(unet)
    wanted = model.get_model_object("manual_cast_dtype")
    if wanted is not None and wanted != dtype:
        raise ValueError(f"ModelComputeDtype: Loom computes this UNet in {dtype} (its --precision setting); "
                         f"computing it in {wanted} is not supported")
    latent_format = model.get_model_object("latent_format")
    return SamplingModel(
        diffusion_model=UNetCall(model.object_patches.get("diffusion_model", unet), {
            k.removeprefix(DIFFUSION_PREFIX): v for k, v in model.object_patches.items()
            if k.startswith(DIFFUSION_PREFIX)}),
        model_sampling=model.get_model_object("model_sampling"),
        extra_conds=options.get("extra_conds") or _extra_conds(model),
        latent_scale=latent_format.scale,
        latent_shift=latent_format.shift,
        dtype=dtype,
        device=device,
        model_options=options,
        hook_target=model,
    )
