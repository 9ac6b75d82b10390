"""ControlNet nodes: load a ControlNet, attach it with a hint image to CONDITIONING (chaining onto any
ControlNet already there); the sampler runs it each step inside its start/end percent."""

from typing import Annotated

from pydantic import Field

from engine.graph.native import Node, Out, Socket, Widget, node
from engine.models.controlnet import ControlNetConfig, describe_family
from engine.models.detect import UnsupportedCheckpoint
from engine.sampling.cfg import Control
from engine.values.control import ControlNetStep, ControlNetValue, load_controlnet
from nodes.model_files import file_version, folders_of, model_files, model_manager

STRENGTH = Field(1.0, ge=0.0, le=10.0)


def _load(ctx, node_name: str, name: str, base=None) -> ControlNetValue:
    path = folders_of(ctx).find("controlnet", name)
    try:
        return load_controlnet(model_manager(ctx), path, base)
    except (UnsupportedCheckpoint, ValueError) as exc:
        raise ValueError(f"{node_name}: control_net_name {name!r}: {exc}") from exc


def attach_control(node_name: str, net: ControlNetValue, image, strength: float, start: float, end: float,
                   conditionings: list[list], apply_to_uncond: bool = False) -> list[list]:
    """Copies of the CONDITIONING lists with the ControlNet chained onto each entry's control.

    Entries that shared a previous ControlNet share the new one, so positive and negative keep batching.
    """
    if isinstance(net.config, ControlNetConfig):  # T2I-Adapters do not read the prompt
        for conditioning in conditionings:
            for cond, _ in conditioning:
                if cond.shape[-1] != net.config.unet.context_dim:
                    raise ValueError(
                        f"{node_name}: control_net {net.name} is for {describe_family(net.config.unet)} but the "
                        f"conditioning is {cond.shape[-1]} wide: it was encoded for another model family")
    hint = image.movedim(-1, 1)
    made: dict[int, Control] = {}
    result = []
    for conditioning in conditionings:
        entries = []
        for cond, options in conditioning:
            previous = options.get("control")
            if id(previous) not in made:
                step = ControlNetStep(net, hint, strength, apply_to_uncond)
                made[id(previous)] = Control(step, start, end, previous=previous)
            entries.append([cond, {**options, "control": made[id(previous)]}])
        result.append(entries)
    return result


@node(category="loaders", display_name="Load ControlNet Model", outputs=[Out("CONTROL_NET")])
class ControlNetLoader(Node):
    """Load a ControlNet (cldm .pth/.safetensors, with or without control_model., or diffusers layout) or
    an SD1.x/SD2.x T2I-Adapter (original or diffusers layout)."""

    control_net_name: Annotated[str, model_files("controlnet", "A file in models/controlnet.")]

    def run(self, ctx):
        return (_load(ctx, "ControlNetLoader", self.control_net_name),)

    @classmethod
    def is_changed(cls, control_net_name: str) -> str:
        return file_version("controlnet", control_net_name)


@node(category="loaders", display_name="Load ControlNet Model (diff)", outputs=[Out("CONTROL_NET")])
class DiffControlNetLoader(Node):
    """Load a ControlNet stored as a difference to the model it was trained from (that model is needed)."""

    model: Annotated[object, Socket("MODEL")]
    control_net_name: Annotated[str, model_files("controlnet", "A file in models/controlnet.")]

    def run(self, ctx):
        return (_load(ctx, "DiffControlNetLoader", self.control_net_name, self.model),)

    @classmethod
    def is_changed(cls, control_net_name: str) -> str:
        return file_version("controlnet", control_net_name)


@node(category="conditioning/controlnet", display_name="Apply ControlNet (old)", outputs=[Out("CONDITIONING")])
class ControlNetApply(Node):
    """Steer a prompt with a ControlNet and a hint image (the negative prompt gets it too when sampled)."""

    conditioning: Annotated[object, Socket("CONDITIONING")]
    control_net: Annotated[object, Socket("CONTROL_NET")]
    image: Annotated[object, Socket("IMAGE")]
    strength: Annotated[float, Widget(step=0.01)] = STRENGTH

    def run(self, ctx):
        (conditioning,) = attach_control("ControlNetApply", self.control_net, self.image, self.strength, 0.0, 1.0,
                                         [self.conditioning], apply_to_uncond=True)
        return (conditioning,)


@node(category="conditioning/controlnet", display_name="Apply ControlNet",
      outputs=[Out("CONDITIONING", name="positive"), Out("CONDITIONING", name="negative")])
class ControlNetApplyAdvanced(Node):
    """Steer positive and negative prompts with a ControlNet over a part of the schedule; chains onto
    ControlNets already applied to them."""

    positive: Annotated[object, Socket("CONDITIONING")]
    negative: Annotated[object, Socket("CONDITIONING")]
    control_net: Annotated[object, Socket("CONTROL_NET")]
    image: Annotated[object, Socket("IMAGE")]
    strength: Annotated[float, Widget(step=0.01)] = STRENGTH
    start_percent: Annotated[float, Widget(step=0.001)] = Field(0.0, ge=0.0, le=1.0)
    end_percent: Annotated[float, Widget(step=0.001)] = Field(1.0, ge=0.0, le=1.0)
    vae: Annotated[object, Socket("VAE", tooltip="Accepted for ComfyUI workflows; cldm ControlNets work on "
                                                 "pixels.")] = None

    def run(self, ctx):
        positive, negative = attach_control("ControlNetApplyAdvanced", self.control_net, self.image,
                                            self.strength, self.start_percent, self.end_percent,
                                            [self.positive, self.negative])
        return (positive, negative)
