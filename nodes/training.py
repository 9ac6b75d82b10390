"""Training nodes (ComfyUI's nodes_train): train a LoRA on a MODEL from latents and their conditioning,
plot its loss, save it as a LoRA file that LoraLoaderModelOnly (Loom or ComfyUI) loads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Annotated, Literal

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from pydantic import Field
from safetensors.torch import load_file, save_file

from engine.graph.native import Combo, Node, NodeOutput, Out, Socket, Widget, node
from engine.models.lora.apply import LoRAFile
from engine.models.lora.formats import build_adapters
from engine.training.lora_adapters import ALGORITHMS as TRAINABLE
from engine.training.lora_adapters import AdaptedUNet, LoraAdapters
from engine.training.lora_training import DTYPES, LOSSES, OPTIMIZERS, TrainSettings, train_lora
from engine.values.denoiser import UNetCall, sampling_model
from nodes.image_io import _metadata, save_png_batch
from nodes.lora import apply_lora_file
from nodes.model_files import folders_of, model_manager
from nodes.model_saving import output_path

NO_LORA = "[None]"
ALGORITHMS = ["LoRA", "LoHa", "LoKr", "OFT"]
DType = Literal["bf16", "fp32"]


def _existing(ctx, name: str) -> tuple[dict, int]:
    """The tensors and trained steps of the LoRA to continue ("<name>_<steps>_steps_..." file names)."""
    if name == NO_LORA:
        return {}, 0
    counted = name.split("_steps_")[0].split("_")[-1] if "_steps_" in name else ""
    return load_file(str(folders_of(ctx).find("loras", name))), int(counted) if counted.isdigit() else 0


@node(category="training", display_name="Train LoRA", experimental=True, outputs=[
    Out("MODEL", "model_with_lora"), Out("LORA_MODEL", "lora"), Out("LOSS_MAP", "loss"), Out("INT", "steps")])
class TrainLoraNode(Node):
    """Train a LoRA on the MODEL so that it denoises `latents` under `positive` (one entry, or one per latent)."""

    model: Annotated[object, Socket("MODEL", tooltip="Base model the adapter is fitted to (left unchanged).")]
    latents: Annotated[object, Socket("LATENT", tooltip="Training examples, already encoded.")]
    positive: Annotated[object, Socket("CONDITIONING", tooltip="Prompt conditioning: one entry for all latents, or one per latent.")]
    batch_size: Annotated[int, Widget(step=1), Field(ge=1, le=10000)] = 1
    grad_accumulation_steps: Annotated[int, Widget(step=1), Field(ge=1, le=1024)] = 1
    steps: Annotated[int, Field(ge=1, le=100000)] = 16
    learning_rate: Annotated[float, Widget(step=0.000001), Field(ge=0.0000001, le=1.0)] = 0.0005
    rank: Annotated[int, Field(ge=1, le=128)] = 8
    optimizer: Annotated[str, Combo(list(OPTIMIZERS))] = "AdamW"
    loss_function: Annotated[str, Combo(list(LOSSES))] = "MSE"
    seed: Annotated[int, Field(ge=0, le=0xFFFFFFFFFFFFFFFF)] = 0
    training_dtype: Annotated[str, Combo(list(DTYPES))] = "bf16"
    lora_dtype: Annotated[str, Combo(list(DTYPES))] = "bf16"
    algorithm: Annotated[str, Combo(ALGORITHMS)] = "LoRA"
    gradient_checkpointing: bool = True
    existing_lora: Annotated[str, Combo(lambda folders: (folders.list("loras") if folders else []) + [NO_LORA],
                                        model_folder="loras")] = NO_LORA

    def run(self, ctx):
        with torch.inference_mode(False), torch.enable_grad():
            return self.train(ctx)

    def train(self, ctx):
        """The run, where autograd records (tensors made under inference mode are cloned out of it first)."""
        if self.algorithm not in TRAINABLE:
            raise ValueError(f"TrainLoraNode: algorithm {self.algorithm!r} is not supported by Loom yet; "
                             f"use one of {list(TRAINABLE)}")
        latents = self.latents["samples"].clone()
        positive = [[c.clone(), {k: v.clone() if torch.is_tensor(v) else v for k, v in options.items()}]
                    for c, options in self.positive]
        if len(positive) == 1 and latents.shape[0] > 1:
            positive = positive * latents.shape[0]
        elif len(positive) != latents.shape[0]:
            raise ValueError(f"TrainLoraNode: positive has {len(positive)} conditioning entries for "
                             f"{latents.shape[0]} latents; give one, or one per latent")
        existing, done = _existing(ctx, self.existing_lora)
        settings = TrainSettings(self.batch_size, self.grad_accumulation_steps, self.steps, self.learning_rate,
                                 self.optimizer, self.loss_function, self.seed, DTYPES[self.training_dtype])
        lora_dtype = DTYPES[self.lora_dtype]
        with model_manager(ctx).use(self.model.handle) as unet:
            adapters = LoraAdapters(unet, self.rank, lora_dtype, self.seed, existing, self.algorithm)
            placed = sampling_model(self.model, unet)
            adapted = UNetCall(AdaptedUNet(unet, adapters, self.gradient_checkpointing),
                               placed.diffusion_model.replaced)
            trainable = replace(placed, diffusion_model=adapted)
            adapters.to(placed.device or latents.device)
            losses = train_lora(trainable, adapters, latents, positive, settings, ctx.progress)
        lora = adapters.state_dict(lora_dtype)
        trained = LoRAFile("LORA_MODEL", *build_adapters(dict(lora)))
        model, _ = apply_lora_file("TrainLoraNode", trained, self.model, None, 1.0, 0.0)
        return (model, lora, {"loss": losses}, self.steps + done)


@node(category="loaders", display_name="Save LoRA Weights", experimental=True, outputs=[], output_node=True)
class SaveLoRANode(Node):
    """Save a trained LORA_MODEL as a .safetensors LoRA file under the output folder."""

    lora: Annotated[object, Socket("LORA_MODEL", tooltip="Adapter weights from Train LoRA.")]
    prefix: Annotated[str, Widget(tooltip="File name start, relative to the output folder.")] = \
        "loras/ComfyUI_trained_lora"
    steps: Annotated[int | None, Widget(force_input=True, tooltip="Training step count written into the file "
                                                                 "name (optional).")] = None

    def run(self, ctx):
        if not isinstance(self.lora, Mapping):
            raise TypeError(f"SaveLoRANode: lora must be a LORA_MODEL (a dict of tensors), got "
                            f"{type(self.lora).__name__}")
        folder, name, counter = output_path(ctx, "SaveLoRANode", self.prefix)
        trained = "" if self.steps is None else f"_{self.steps}_steps"
        save_file({k: v.contiguous() for k, v in self.lora.items()},
                  str(folder / f"{name}{trained}_{counter:05}_.safetensors"))
        return ()


def loss_graph(losses: list[float], width: int = 800, height: int = 480, margin: int = 40) -> Image.Image:
    """A white chart of the losses: the plot area sits right of a `margin`-wide strip for the value labels
    and above a `margin`-high strip for the step label; step i is at x = i / len(losses) of the width."""
    low, high = min(losses), max(losses)
    span = (high - low) or 1.0

    def at(step: int, loss: float) -> tuple[int, int]:
        return margin + int(step / len(losses) * width), height - int((loss - low) / span * height)

    chart = Image.new("RGB", (margin + width, height + margin), "white")
    pen = ImageDraw.Draw(chart)
    if len(losses) > 1:
        pen.line([at(step, loss) for step, loss in enumerate(losses)], fill="blue", width=2)
    for axis in ([(margin, 0), (margin, height)], [(margin, height), (margin + width, height)]):
        pen.line(axis, fill="black", width=2)
    font = ImageFont.load_default()
    labels = {(5, height // 2): "Loss", (width // 2, height + 10): "Steps",
              (margin - 30, 0): f"{high:.2f}", (margin - 30, height - 10): f"{low:.2f}"}
    for corner, text in labels.items():
        pen.text(corner, text, font=font, fill="black")
    return chart


@node(category="training", display_name="Plot Loss Graph", experimental=True, outputs=[], output_node=True)
class LossGraphNode(Node):
    """Draw the training loss per step as a line chart and show it as a temporary preview image."""

    loss: Annotated[object, Socket("LOSS_MAP", default={})]
    filename_prefix: str = "loss_graph"

    def run(self, ctx):
        losses = list((self.loss or {}).get("loss", []))
        if not losses:
            raise ValueError("LossGraphNode: loss holds no values (connect TrainLoraNode's loss output)")
        pixels = torch.from_numpy(np.asarray(loss_graph(losses), dtype=np.float32) / 255.0)
        saved = save_png_batch(pixels[None], folders_of(ctx), "temp", self.filename_prefix, _metadata(ctx))
        return NodeOutput(result=(), ui={"images": saved})
