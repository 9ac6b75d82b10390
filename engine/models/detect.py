"""Recognise what a checkpoint file is and infer every model size from its tensor shapes.

The family comes from which key prefixes exist (text encoder layout, label embedding, temporal layers);
sizes come from shapes only, so a 7 GB SDXL file and a 2 MB test file take the same path. Files that
are not full checkpoints (LoRA, ControlNet, VAE, bare or diffusers-layout UNet) get errors that say so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from engine.models.checkpoint import LazyStateDict, open_checkpoint
from engine.models.unet import UNetConfig
from engine.models.vae import VAEConfig

UNET_PREFIX = "model.diffusion_model."
VAE_PREFIX = "first_stage_model."

# (kind, prefix) of every text encoder layout a checkpoint family ships.
_TEXT_LAYOUTS = {
    "sd1": (("clip_l", "cond_stage_model.transformer."),),
    "sd2": (("openclip_h", "cond_stage_model.model."),),
    "sd2_sgm": (("openclip_h", "conditioner.embedders.0.model."),),
    "sdxl": (("clip_l", "conditioner.embedders.0.transformer."), ("openclip_bigg", "conditioner.embedders.1.model.")),
    "sdxl_refiner": (("openclip_bigg", "conditioner.embedders.0.model."),),
    "svd": (("clip_vision_h", "conditioner.embedders.0.open_clip.model."),),
    "sd2_unclip": (("openclip_h", "cond_stage_model.model."), ("clip_vision_h", "embedder.model.")),
}
UNCLIP_VISION_PREFIX = "embedder.model.visual."
SCALING_FACTORS = {"sd1": 0.18215, "sd2": 0.18215, "sd2_unclip": 0.18215, "sdxl": 0.13025, "sdxl_refiner": 0.13025,
                   "svd": 0.18215}
# SD2 768-v heuristic (as ComfyUI): the last output transformer's first norm bias is wider in v models.
_V_PRED_STD_THRESHOLD = 0.09


class UnsupportedCheckpoint(ValueError):
    """The file is not a checkpoint this loader handles; the message says what was found instead."""


@dataclass(frozen=True)
class TextEncoderSpec:
    """One text (or image) encoder in the file: kind in {clip_l, openclip_h, openclip_bigg, clip_vision_h}."""

    kind: str
    prefix: str


@dataclass(frozen=True)
class CheckpointConfig:
    """Everything needed to build a checkpoint's models. `prediction_source` says how the
    prediction type was decided: "metadata", "marker key", "weights heuristic" or "family default"."""

    family: str
    unet: UNetConfig
    vae: VAEConfig
    text_encoders: tuple[TextEncoderSpec, ...]
    prediction_type: str
    prediction_source: str
    scaling_factor: float
    unet_prefix: str = UNET_PREFIX
    vae_prefix: str = VAE_PREFIX

    @property
    def latent_channels(self) -> int:
        return self.vae.embed_dim


Shapes = Mapping[str, "torch.Tensor | Sequence[int]"]


def _shape_map(items: Shapes) -> dict[str, tuple[int, ...]]:
    if isinstance(items, LazyStateDict):
        return items.shapes()
    return {k: tuple(v.shape) if hasattr(v, "shape") else tuple(v) for k, v in items.items()}


def _count(shapes: Mapping[str, tuple], pattern: str) -> int:
    """Distinct integers matched by the single group of `pattern` over all keys."""
    regex = re.compile(pattern)
    return len({m.group(1) for k in shapes if (m := regex.match(k))})


def infer_unet_config(items: Shapes, prefix: str = "", encoder_only: bool = False) -> UNetConfig:
    """UNet sizes from shapes (keys under `prefix`). Heads rule: 1x1-conv proj_in (the SD1 layout) means
    8 heads; linear proj_in (SD2, SDXL and later) means 64-wide heads (see UNetConfig.attention_heads).
    `encoder_only`: the weights hold no decoder half (a ControlNet); the decoder sizes come out as zero-depth placeholders."""
    s = {k[len(prefix) :]: v for k, v in _shape_map(items).items() if k.startswith(prefix)}
    if "input_blocks.0.0.weight" not in s:
        raise UnsupportedCheckpoint("no UNet found (input_blocks.0.0.weight missing)")
    model_channels, in_channels = s["input_blocks.0.0.weight"][:2]

    def depth(block: str) -> int:
        return _count(s, rf"{re.escape(block)}\.1\.transformer_blocks\.(\d+)\.")

    channel_mult, num_res_blocks, depths = [], [], []
    n_input = _count(s, r"input_blocks\.(\d+)\.")
    level_blocks = 0
    for i in range(1, n_input):
        if f"input_blocks.{i}.0.op.weight" in s:
            num_res_blocks.append(level_blocks)
            level_blocks = 0
            continue
        width = s[f"input_blocks.{i}.0.out_layers.3.weight"][0]
        if level_blocks == 0:
            channel_mult.append(width // model_channels)
        level_blocks += 1
        depths.append(depth(f"input_blocks.{i}"))
    num_res_blocks.append(level_blocks)
    n_output = sum(n + 1 for n in num_res_blocks) if encoder_only else _count(s, r"output_blocks\.(\d+)\.")
    attn = sorted(k for k in s if k.endswith("attn2.to_k.weight"))
    proj = [k for k in s if k.endswith(".proj_in.weight")]
    linear = bool(proj) and len(s[proj[0]]) == 2
    return UNetConfig(
        in_channels=in_channels,
        out_channels=in_channels if encoder_only else s["out.2.weight"][0],
        model_channels=model_channels,
        channel_mult=tuple(channel_mult),
        num_res_blocks=tuple(num_res_blocks),
        transformer_depth=tuple(depths),
        transformer_depth_middle=depth("middle_block"),
        transformer_depth_output=tuple(depth(f"output_blocks.{i}") for i in range(n_output)),
        context_dim=s[attn[0]][1] if attn else None,
        num_heads=None if linear else 8,
        num_head_channels=64 if linear else None,
        use_linear_in_transformer=linear,
        adm_in_channels=s["label_emb.0.0.weight"][1] if "label_emb.0.0.weight" in s else None,
    )


def infer_vae_config(items: Shapes, prefix: str = "") -> VAEConfig:
    """AutoencoderKL sizes from shapes (keys under `prefix`)."""
    s = {k[len(prefix) :]: v for k, v in _shape_map(items).items() if k.startswith(prefix)}
    if "encoder.conv_in.weight" not in s or "decoder.conv_in.weight" not in s:
        raise UnsupportedCheckpoint("no AutoencoderKL found (encoder/decoder conv_in missing)")
    ch, in_channels = s["encoder.conv_in.weight"][:2]
    levels = _count(s, r"encoder\.down\.(\d+)\.")
    ch_mult = tuple(s[f"encoder.down.{i}.block.0.conv1.weight"][0] // ch for i in range(levels))
    z_channels = s["decoder.conv_in.weight"][1]
    quant = "quant_conv.weight" in s
    return VAEConfig(
        ch=ch,
        ch_mult=ch_mult,
        num_res_blocks=_count(s, r"encoder\.down\.0\.block\.(\d+)\."),
        z_channels=z_channels,
        embed_dim=s["quant_conv.weight"][0] // 2 if quant else z_channels,
        in_channels=in_channels,
        out_ch=s["decoder.conv_out.weight"][0],
        use_quant_conv=quant,
    )


def _has(shapes: Mapping[str, tuple], prefix: str) -> bool:
    return any(k.startswith(prefix) for k in shapes)


def describe_non_checkpoint(shapes: Mapping[str, tuple]) -> str | None:
    """What a file without a full-checkpoint layout is, as advice for the user; None if it looks full."""
    keys = list(shapes)
    if any(("lora_up" in k or "lora_down" in k or ".lora_A." in k or ".lora_B." in k) for k in keys):
        return "this looks like a LoRA (lora_up/lora_down keys): load it with LoraLoader"
    if any(k.split(".")[-1].startswith(("hada_", "lokr_")) for k in keys):
        return "this looks like a LyCORIS LoRA (hada_/lokr_ keys): load it with LoraLoader"
    if _has(shapes, "control_model.") or any(k.startswith(("zero_convs.", "input_hint_block.")) for k in keys):
        return "this is a ControlNet: load it with ControlNetLoader"
    if "controlnet_cond_embedding.conv_in.weight" in shapes:
        return "this is a diffusers-layout ControlNet: load it with ControlNetLoader"
    if "body.0.block1.weight" in shapes or "adapter.conv_in.weight" in shapes:
        return "this is a T2I-Adapter: load it with ControlNetLoader"
    if _has(shapes, "down_blocks.0.resnets.0.") and "conv_in.weight" in shapes:
        return "a diffusers-layout UNet: load it with UNETLoader (single-file LDM layout expected here)"
    bare_unet = "input_blocks.0.0.weight" in shapes
    if bare_unet or (_has(shapes, UNET_PREFIX) and not _has(shapes, VAE_PREFIX)):
        return "UNet only, no VAE/text encoder: use the separate loaders (UNETLoader, VAELoader, CLIPLoader)"
    vae_keys = ("encoder.conv_in.weight", "decoder.conv_in.weight", f"{VAE_PREFIX}decoder.conv_in.weight")
    if any(k in shapes for k in vae_keys) and not _has(shapes, UNET_PREFIX):
        return "a VAE file: use VAELoader"
    if "emb_params" in shapes or _has(shapes, "string_to_param.") or {"clip_l", "clip_g"} <= set(shapes):
        return "a textual-inversion embedding: put it in models/embeddings and use embedding:name in a prompt"
    text_keys = any("text_model.encoder.layers.0." in k or "transformer.resblocks.0." in k for k in keys)
    if text_keys and not _has(shapes, UNET_PREFIX):
        return "a text encoder only: use CLIPLoader"
    return None


def _family(shapes: Mapping[str, tuple], unet: UNetConfig) -> tuple[str, tuple[TextEncoderSpec, ...]]:
    if any(".time_stack." in k or "time_mixer" in k for k in shapes):
        layout = "svd"
    elif unet.adm_in_channels and _has(shapes, UNCLIP_VISION_PREFIX):
        layout = "sd2_unclip"  # SD2.1 unCLIP: SD2's text encoder, a label input fed by an image embedder
    else:
        # The refiner and sgm-saved SD2 share a text prefix; SDXL-class UNets alone have a label embedding.
        candidates = [
            name
            for name, specs in _TEXT_LAYOUTS.items()
            if all(_has(shapes, p) for _, p in specs) and name.startswith("sdxl") == bool(unet.adm_in_channels)
        ]
        if not candidates:
            found = sorted({".".join(k.split(".")[:3]) for k in shapes})[:12]
            raise UnsupportedCheckpoint(
                "unsupported checkpoint layout: no known text encoder/UNet combination "
                f"(label embedding: {bool(unet.adm_in_channels)}; prefixes found: {', '.join(found)})"
            )
        layout = candidates[0]
    specs = tuple(TextEncoderSpec(kind, prefix) for kind, prefix in _TEXT_LAYOUTS[layout])
    return ("sd2" if layout == "sd2_sgm" else layout), specs


def prediction_of(
    family: str, shapes: Mapping[str, tuple], unet: UNetConfig, metadata: Mapping[str, str], tensors
) -> tuple[str, str]:
    """(prediction type, how it was decided) from metadata, ComfyUI's `v_pred` key or the SD2 heuristic."""
    declared = (metadata.get("modelspec.prediction_type") or metadata.get("prediction_type")
                or metadata.get("modelspec.predict_key") or "").lower()
    if declared:
        return ("v" if declared.startswith("v") else "eps"), "metadata"
    if "v_pred" in shapes:
        return "v", "marker key"
    if family == "svd":
        return "v", "family default"
    if family.startswith("sd2") and unet.in_channels == 4 and tensors is not None:
        last = len(unet.transformer_depth_output) - 1
        key = f"{UNET_PREFIX}output_blocks.{last}.1.transformer_blocks.0.norm1.bias"
        if key in shapes:
            std = torch.std(tensors[key].float(), unbiased=False).item()
            return ("v" if std > _V_PRED_STD_THRESHOLD else "eps"), "weights heuristic"
    return "eps", "family default"


def detect_checkpoint(
    items: Shapes, metadata: Mapping[str, str] | None = None, tensors: Mapping[str, torch.Tensor] | None = None
) -> CheckpointConfig:
    """Family, model sizes and prediction type of a full checkpoint given key -> shape (or tensor).

    `metadata` (safetensors header) and `tensors` (to read one weight for the SD2 v-prediction
    heuristic) are optional. Raises UnsupportedCheckpoint saying what the file is instead.
    """
    shapes = _shape_map(items)
    if isinstance(items, LazyStateDict):
        metadata = items.metadata if metadata is None else metadata
        tensors = items if tensors is None else tensors
    if tensors is None and shapes and all(isinstance(v, torch.Tensor) for v in items.values()):
        tensors = items
    advice = describe_non_checkpoint(shapes)
    if advice:
        raise UnsupportedCheckpoint(advice)
    unet = infer_unet_config(shapes, UNET_PREFIX)
    family, text_encoders = _family(shapes, unet)
    vae = infer_vae_config(shapes, VAE_PREFIX)
    prediction, source = prediction_of(family, shapes, unet, metadata or {}, tensors)
    return CheckpointConfig(
        family=family,
        unet=unet,
        vae=vae,
        text_encoders=text_encoders,
        prediction_type=prediction,
        prediction_source=source,
        scaling_factor=SCALING_FACTORS[family],
    )


def detect_file(path: str | Path) -> tuple[CheckpointConfig, LazyStateDict]:
    """Open a checkpoint lazily and detect it; the error names the file."""
    ckpt = open_checkpoint(path)
    try:
        return detect_checkpoint(ckpt), ckpt
    except UnsupportedCheckpoint as exc:
        raise UnsupportedCheckpoint(f"{Path(path).name}: {exc}") from exc
