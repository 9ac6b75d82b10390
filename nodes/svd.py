"""Stable Video Diffusion nodes (ComfyUI names): load an SVD checkpoint, condition on an image, ramp CFG
over frames, and the one-node SVDImageToVideo that expands into those plus KSampler and VAEDecode.

Frames are the latent batch. Each conditioning entry carries fps, motion bucket, augmentation level and
the conditioning frame's latent; `svd_extra_conds` turns them into the UNet's label vector, the latent
concatenated to every frame, and the frame count.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import torch
import torch.nn.functional as F
from pydantic import Field

from engine.graph.expansion import GraphBuilder
from engine.graph.native import Combo, Node, NodeOutput, Out, Socket, Widget, node
from engine.memory import ModelManager, file_key
from engine.models.blocks import timestep_embedding
from engine.models.checkpoint import open_checkpoint
from engine.models.detect import CheckpointConfig
from engine.models.video_unet import VideoUNet
from engine.models.video_vae import VideoAutoencoder
from engine.sampling import SAMPLERS, SCHEDULERS
from engine.sampling.cfg_patches import video_linear_cfg
from engine.values.model import VAEModel, detect_checkpoint_file
from engine.values.model_patcher import ModelPatcher
from nodes.clip_vision_nodes import clip_vision_model, encode_images
from nodes.model_files import file_version, folders_of, model_files, model_manager
from nodes.vae_nodes import vae_encode

MAX_SIZE = 16384
MAX_SEED = 0xFFFFFFFFFFFFFFFF
AUGMENTATION_SEED = 0  # the conditioning image's augmentation noise is seeded: same inputs, same video


def svd_extra_conds(options: dict, latent_shape: torch.Size) -> dict:
    """UNet keyword arguments for one SVD conditioning entry (ComfyUI's SVD_img2vid.extra_conds):
    y = sinusoidal embeddings of [fps - 1, motion_bucket_id, augmentation_level] (256 wide each),
    the conditioning latent (resized to the latent grid) concatenated to every frame, the frame count."""
    numbers = [options.get("fps", 6) - 1, options.get("motion_bucket_id", 127),
               options.get("augmentation_level", 0.0)]
    y = timestep_embedding(torch.tensor(numbers, dtype=torch.float32), 256).reshape(1, -1)
    concat = options.get("concat_latent_image")
    if concat is None:
        concat = torch.zeros(1, *latent_shape[1:])
    if concat.shape[-2:] != latent_shape[-2:]:
        concat = F.interpolate(concat.float(), size=tuple(latent_shape[-2:]), mode="bilinear")
    frames = latent_shape[0]
    return {"y": y, "concat": concat.float(), "num_video_frames": torch.full((1,), frames),
            "image_only_indicator": torch.zeros(1)}


def svd_models(manager: ModelManager, path: Path, config: CheckpointConfig):
    """(MODEL, CLIP_VISION, VAE) of an SVD checkpoint; nothing is read until a node uses them."""
    unet = manager.handle(
        file_key(path, "video_unet"), name=f"{path.name} (video unet)", kind="unet",
        build=lambda: VideoUNet(config.unet),
        state_dict=lambda: open_checkpoint(path).with_prefix(config.unet_prefix))
    vae = manager.handle(
        file_key(path, "video_vae"), name=f"{path.name} (video vae)", kind="vae",
        build=lambda: VideoAutoencoder(config.vae),
        state_dict=lambda: open_checkpoint(path).with_prefix(config.vae_prefix))
    vision = clip_vision_model(manager, path, config.text_encoders[0].prefix + "visual.")
    model = ModelPatcher(unet, config, {"extra_conds": svd_extra_conds})
    return model, vision, VAEModel(vae, config.vae)


@node(category="loaders/video_models", display_name="Image Only Checkpoint Loader (img2vid model)",
      outputs=[Out("MODEL"), Out("CLIP_VISION"), Out("VAE")])
class ImageOnlyCheckpointLoader(Node):
    """Load an image-to-video checkpoint (svd.safetensors, svd_xt.safetensors): video UNet, image encoder
    and temporal VAE."""

    ckpt_name: Annotated[str, model_files("checkpoints", "A file in models/checkpoints.")]

    def run(self, ctx):
        path = folders_of(ctx).find("checkpoints", self.ckpt_name)
        config = detect_checkpoint_file(path)
        if config.family != "svd":
            raise ValueError(f"ImageOnlyCheckpointLoader: ckpt_name {self.ckpt_name!r} is a {config.family} "
                             "checkpoint; expected an image-to-video model (SVD). Use Load Checkpoint for it.")
        return svd_models(model_manager(ctx), path, config)

    @classmethod
    def is_changed(cls, ckpt_name: str) -> str:
        return file_version("checkpoints", ckpt_name)


def fit_image(images: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """IMAGE [B,H,W,C] -> [B,height,width,C]: centre-cropped to the target aspect, then bilinear."""
    h, w = images.shape[1:3]
    if w * height > h * width:
        keep = round(h * width / height)
        images = images[:, :, (w - keep) // 2:(w - keep) // 2 + keep]
    elif w * height < h * width:
        keep = round(w * height / width)
        images = images[:, (h - keep) // 2:(h - keep) // 2 + keep]
    pixels = F.interpolate(images.movedim(-1, 1).float(), size=(height, width), mode="bilinear")
    return pixels.movedim(1, -1)


@node(name="SVD_img2vid_Conditioning", category="conditioning/video_models", display_name="SVD_img2vid_Conditioning",
      outputs=[Out("CONDITIONING", name="positive"), Out("CONDITIONING", name="negative"),
               Out("LATENT", name="latent")])
class SVDImg2VidConditioning(Node):
    """Condition SVD on an image: its CLIP image embedding and VAE latent, fps, motion bucket and
    augmentation (noise added to the conditioning frame); plus an empty latent of video_frames frames."""

    clip_vision: Annotated[object, Socket("CLIP_VISION")]
    init_image: Annotated[object, Socket("IMAGE")]
    vae: Annotated[object, Socket("VAE")]
    width: Annotated[int, Widget(step=8)] = Field(1024, ge=16, le=MAX_SIZE)
    height: Annotated[int, Widget(step=8)] = Field(576, ge=16, le=MAX_SIZE)
    video_frames: int = Field(14, ge=1, le=4096)
    motion_bucket_id: int = Field(127, ge=1, le=1023)
    fps: int = Field(6, ge=1, le=1024)
    augmentation_level: Annotated[float, Widget(step=0.01)] = Field(0.0, ge=0.0, le=10.0)

    def run(self, ctx):
        manager = model_manager(ctx)
        pooled = encode_images(manager, self.clip_vision, self.init_image).image_embeds.unsqueeze(0)
        pixels = fit_image(self.init_image[..., :3], self.width, self.height)
        if self.augmentation_level > 0:
            noise = torch.randn(pixels.shape, generator=torch.Generator().manual_seed(AUGMENTATION_SEED))
            pixels = pixels + noise * self.augmentation_level
        latent = vae_encode(manager, self.vae, pixels)
        options = {"motion_bucket_id": self.motion_bucket_id, "fps": self.fps,
                   "augmentation_level": self.augmentation_level}
        positive = [[pooled, {**options, "concat_latent_image": latent}]]
        negative = [[torch.zeros_like(pooled), {**options, "concat_latent_image": torch.zeros_like(latent)}]]
        f = self.vae.downscale
        empty = torch.zeros(self.video_frames, latent.shape[1], self.height // f, self.width // f)
        return (positive, negative, {"samples": empty})


@node(category="sampling/video_models", display_name="VideoLinearCFGGuidance", outputs=[Out("MODEL")])
class VideoLinearCFGGuidance(Node):
    """Guidance that ramps over the frames: the first frame gets min_cfg, the last the sampler's cfg."""

    model: Annotated[object, Socket("MODEL")]
    min_cfg: Annotated[float, Widget(step=0.5, round=0.01)] = Field(1.0, ge=0.0, le=100.0)

    def run(self, ctx):
        return (self.model.with_options(sampler_cfg_function=video_linear_cfg(self.min_cfg)),)


def _link(ctx, name: str) -> list:
    """The link feeding this node's input `name` (an expansion re-uses it rather than copying the value)."""
    dynprompt = getattr(ctx, "dynprompt", None)
    info = dynprompt.get_node(ctx.node_id) if dynprompt is not None else ctx.prompt.get(ctx.node_id)
    value = (info or {}).get("inputs", {}).get(name)
    if not (isinstance(value, list) and len(value) == 2):
        raise ValueError(f"SVDImageToVideo: input {name!r} must be connected to a node output")
    return value


@node(category="video", display_name="SVD Image to Video", outputs=[Out("IMAGE", tooltip="The video frames.")])
class SVDImageToVideo(Node):
    """Image to video with Stable Video Diffusion in one node (expands into the loader, conditioning,
    CFG ramp, KSampler and VAE decode)."""

    image: Annotated[object, Socket("IMAGE")]
    ckpt_name: Annotated[str, model_files("checkpoints", "An SVD checkpoint in models/checkpoints.")]
    width: Annotated[int, Widget(step=8)] = Field(1024, ge=16, le=MAX_SIZE)
    height: Annotated[int, Widget(step=8)] = Field(576, ge=16, le=MAX_SIZE)
    video_frames: int = Field(14, ge=1, le=4096)
    fps: int = Field(6, ge=1, le=1024)
    motion_bucket_id: int = Field(127, ge=1, le=1023)
    augmentation_level: Annotated[float, Widget(step=0.01)] = Field(0.0, ge=0.0, le=10.0)
    steps: int = Field(20, ge=1, le=10000)
    cfg: Annotated[float, Widget(step=0.1, round=0.01)] = Field(2.5, ge=0.0, le=100.0)
    min_cfg: Annotated[float, Widget(step=0.5, round=0.01)] = Field(1.0, ge=0.0, le=100.0)
    seed: Annotated[int, Widget(control_after_generate=True)] = Field(0, ge=0, le=MAX_SEED)
    sampler_name: Annotated[str, Combo(list(SAMPLERS))] = "euler"
    scheduler: Annotated[str, Combo(list(SCHEDULERS))] = "karras"

    def run(self, ctx):
        graph = GraphBuilder()
        loader = graph.node("ImageOnlyCheckpointLoader", ckpt_name=self.ckpt_name)
        guided = graph.node("VideoLinearCFGGuidance", model=loader.out(0), min_cfg=self.min_cfg)
        cond = graph.node(
            "SVD_img2vid_Conditioning", clip_vision=loader.out(1), init_image=_link(ctx, "image"),
            vae=loader.out(2), width=self.width, height=self.height, video_frames=self.video_frames,
            motion_bucket_id=self.motion_bucket_id, fps=self.fps, augmentation_level=self.augmentation_level)
        sampler = graph.node(
            "KSampler", model=guided.out(0), seed=self.seed, steps=self.steps, cfg=self.cfg,
            sampler_name=self.sampler_name, scheduler=self.scheduler, positive=cond.out(0),
            negative=cond.out(1), latent_image=cond.out(2), denoise=1.0)
        decode = graph.node("VAEDecode", samples=sampler.out(0), vae=loader.out(2))
        return NodeOutput(result=(decode.out(0),), expand=graph.finalize())
