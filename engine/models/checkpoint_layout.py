"""The key layout real single-file checkpoints use, for writing them: the inverse of what detect.py reads.

A checkpoint saved from Loom's modules (merged, patched) must load in ComfyUI, A1111 and Loom alike, so
it uses the original LDM / SGM prefixes: `model.diffusion_model.` for the UNet, `first_stage_model.` for
the VAE and the family's text-encoder prefixes (CLIP-L in the transformers layout, OpenCLIP towers in
OpenCLIP's), plus ComfyUI's `v_pred` marker and modelspec metadata.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from engine.models.clip_keys import VISION_HF, hf_visual_to_open_clip
from engine.models.detect import UNET_PREFIX, VAE_PREFIX
from engine.models.text_encoders import checkpoint_state_dict

# family -> text tower name -> (checkpoint prefix, stored in OpenCLIP's layout)
TEXT_PREFIXES: dict[str, dict[str, tuple[str, bool]]] = {
    "sd1": {"l": ("cond_stage_model.transformer.", False)},
    "sd2": {"h": ("cond_stage_model.model.", True)},
    "sdxl": {"l": ("conditioner.embedders.0.transformer.", False), "g": ("conditioner.embedders.1.model.", True)},
    "sdxl_refiner": {"g": ("conditioner.embedders.0.model.", True)},
}
# the standalone-file suffix ComfyUI's CLIPSave gives each tower (`<prefix>_clip_l_00001_.safetensors`)
TOWER_FILE_NAMES = {"l": "clip_l", "g": "clip_g", "h": "clip_h"}
SVD_VISION_PREFIX = "conditioner.embedders.0.open_clip.model.visual."
SVD_SIGMA_MAX, SVD_SIGMA_MIN = 700.0, 0.002  # the EDM sigma range of SVD's model sampling
ARCHITECTURES = {"sdxl": "stable-diffusion-xl-v1-base", "sdxl_refiner": "stable-diffusion-xl-v1-refiner",
                 "svd": "stable-video-diffusion-img2vid-v1"}


def text_family(tower_names: set[str]) -> str:
    """The family a set of text towers belongs to (CLIP-L alone: SD1; OpenCLIP-H: SD2; both L and bigG: SDXL)."""
    for family, towers in TEXT_PREFIXES.items():
        if set(towers) == tower_names:
            return family
    raise ValueError(f"no checkpoint layout for text towers {sorted(tower_names)}")


def _cpu(sd: Mapping[str, torch.Tensor], prefix: str = "") -> dict[str, torch.Tensor]:
    """Tensors on the CPU, each with its own contiguous storage (safetensors refuses shared storage)."""
    return {prefix + k: v.detach().to("cpu", copy=True).contiguous() for k, v in sd.items()}


def unet_tensors(unet: nn.Module) -> dict[str, torch.Tensor]:
    return _cpu(unet.state_dict(), UNET_PREFIX)


def vae_tensors(vae: nn.Module, prefix: str = VAE_PREFIX) -> dict[str, torch.Tensor]:
    return _cpu(vae.state_dict(), prefix)


def text_tower_tensors(tower: nn.Module, open_clip_layout: bool, prefix: str = "") -> dict[str, torch.Tensor]:
    """One text tower's tensors named as files name them (no position ids: loaders rebuild them)."""
    sd = checkpoint_state_dict(tower, open_clip_layout)
    return _cpu({k: v for k, v in sd.items() if not k.endswith("position_ids")}, prefix)


def text_tensors(towers: Mapping[str, nn.Module]) -> dict[str, torch.Tensor]:
    """Every text tower of a CLIP under its family's checkpoint prefix."""
    layout = TEXT_PREFIXES[text_family(set(towers))]
    out: dict[str, torch.Tensor] = {}
    for name, tower in towers.items():
        prefix, open_clip_layout = layout[name]
        out |= text_tower_tensors(tower, open_clip_layout, prefix)
    return out


def vision_tensors(vision: nn.Module, prefix: str) -> dict[str, torch.Tensor]:
    """A transformers CLIP image encoder's tensors in OpenCLIP's `visual.` layout (as svd.safetensors holds
    its image embedder) under `prefix`."""
    sd = {k: v for k, v in vision.state_dict().items() if not k.endswith("position_ids")}
    if not any(k.startswith(VISION_HF) for k in sd):  # transformers 5.x may drop the `vision_model.` level
        sd = {k if k == "visual_projection.weight" else VISION_HF + k: v for k, v in sd.items()}
    return _cpu(hf_visual_to_open_clip(sd), prefix)


def prediction_markers(family: str, prediction_type: str) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """(metadata, extra tensors) declaring the architecture and prediction type as ComfyUI writes them
    (SVD: its EDM sigma range instead of a v_pred marker)."""
    metadata: dict[str, str] = {}
    if family in ARCHITECTURES:
        metadata |= {"modelspec.architecture": ARCHITECTURES[family], "modelspec.sai_model_spec": "1.0.0",
                     "modelspec.implementation": "sgm"}
    extra = {}
    if family == "svd":
        extra = {"edm_vpred.sigma_max": torch.tensor(SVD_SIGMA_MAX), "edm_vpred.sigma_min": torch.tensor(SVD_SIGMA_MIN)}
    elif prediction_type == "v":
        metadata["modelspec.predict_key"] = "v"
        extra["v_pred"] = torch.tensor([])
    else:
        metadata["modelspec.predict_key"] = "epsilon"
    return metadata, extra
