"""The socket types of ComfyUI's V3 node schema (`io.Image`, `io.Model`, `io.Custom(...)`, ...) and their
`Input`/`Output` declarations, which turn into the same option dicts a V1 `INPUT_TYPES()` carries.

Each type is a class with an `io_type` name and nested `Input`/`Output` classes; `comfytype` binds the
nested classes to their type (each type gets its own copies, so binding never leaks between types).
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Literal


def pruned(values: dict[str, Any]) -> dict[str, Any]:
    """`values` without the entries that were left unset (None)."""
    return {key: value for key, value in values.items() if value is not None}


class TypeName(str):
    """A socket type name that treats "*" as matching anything and "A,B" as matching A or B under `!=`
    (the way link types are compared)."""

    def __ne__(self, other: object) -> bool:
        if self == "*" or other == "*":
            return False
        if not isinstance(other, str):
            return True
        mine, theirs = frozenset(self.split(",")), frozenset(other.split(","))
        return not (mine <= theirs or theirs <= mine)

    __hash__ = str.__hash__


class FolderType(str, Enum):
    input = "input"
    output = "output"
    temp = "temp"


class UploadType(str, Enum):
    image = "image_upload"
    audio = "audio_upload"
    video = "video_upload"
    model = "file_upload"


class NumberDisplay(str, Enum):
    number = "number"
    slider = "slider"


class RemoteOptions:
    """A combo whose entries come from a URL of the server."""

    def __init__(self, route: str, refresh_button: bool, control_after_refresh: Literal["first", "last"] = "first",
                 timeout: int | None = None, max_retries: int | None = None, refresh: int | None = None):
        self.route, self.refresh_button, self.control_after_refresh = route, refresh_button, control_after_refresh
        self.timeout, self.max_retries, self.refresh = timeout, max_retries, refresh

    def as_dict(self) -> dict[str, Any]:
        return pruned({"route": self.route, "refresh_button": self.refresh_button,
                       "control_after_refresh": self.control_after_refresh, "timeout": self.timeout,
                       "max_retries": self.max_retries, "refresh": self.refresh})


class _Socket:
    """What inputs and outputs share: the type they belong to (set by `comfytype`)."""

    Parent: Any = None

    @property
    def io_type(self) -> Any:
        return self.Parent.io_type

    @property
    def Type(self) -> Any:
        return self.Parent.Type


class Input(_Socket):
    """An input socket."""

    def __init__(self, id: str, display_name: str | None = None, optional: bool = False, tooltip: str | None = None,
                 lazy: bool | None = None, extra_dict: dict | None = None):
        self.id, self.display_name, self.optional = id, display_name, optional
        self.tooltip, self.lazy = tooltip, lazy
        self.extra_dict = extra_dict if extra_dict is not None else {}

    def as_dict(self) -> dict[str, Any]:
        return pruned({"display_name": self.display_name, "optional": self.optional, "tooltip": self.tooltip,
                       "lazy": self.lazy}) | pruned(self.extra_dict)

    def get_io_type(self) -> Any:
        return TypeName(self.io_type)


class WidgetInput(Input):
    """An input that can be a widget on the node (a literal value) as well as a socket."""

    def __init__(self, id: str, display_name: str | None = None, optional: bool = False, tooltip: str | None = None,
                 lazy: bool | None = None, default: Any = None, socketless: bool | None = None,
                 widget_type: str | None = None, force_input: bool | None = None, extra_dict: dict | None = None):
        super().__init__(id, display_name, optional, tooltip, lazy, extra_dict)
        self.default, self.socketless, self.widget_type, self.force_input = default, socketless, widget_type, force_input

    def as_dict(self) -> dict[str, Any]:
        return super().as_dict() | pruned({"default": self.default, "socketless": self.socketless,
                                           "widgetType": self.widget_type, "forceInput": self.force_input})

    def get_io_type(self) -> Any:
        return self.widget_type if self.widget_type is not None else super().get_io_type()


class Output(_Socket):
    """An output slot; `id` defaults to one derived from its index and type."""

    def __init__(self, id: str | None = None, display_name: str | None = None, tooltip: str | None = None,
                 is_output_list: bool = False):
        self.id, self.display_name, self.tooltip, self.is_output_list = id, display_name, tooltip, is_output_list

    def as_dict(self) -> dict[str, Any]:
        return pruned({"display_name": self.display_name, "tooltip": self.tooltip,
                       "is_output_list": self.is_output_list})

    def get_io_type(self) -> Any:
        return self.io_type


class ComfyType:
    """A socket type: `io_type` is its name; `Type` the Python values it carries (for hints)."""

    Type: Any = Any
    io_type: Any = None


class ComfyTypeI(ComfyType):
    """A type with only an input declaration."""

    class Input(Input):
        pass


class ComfyTypeIO(ComfyTypeI):
    """A type with an input and an output declaration."""

    class Output(Output):
        pass


def _own_copy(klass: type) -> type:
    return type(klass.__name__, (klass,), {"__qualname__": klass.__qualname__, "__module__": klass.__module__})


def comfytype(io_type: str, **_: Any):
    """Class decorator making a socket type named `io_type` (plain classes become ComfyTypeIO types)."""

    def bind(cls: type) -> type:
        if not issubclass(cls, ComfyType):
            body = {k: v for k, v in vars(cls).items() if k not in ("__dict__", "__weakref__")}
            cls = type(cls.__name__, (cls, ComfyTypeIO), body)
        for side in ("Input", "Output"):
            nested = getattr(cls, side, None)
            if nested is not None:
                nested = _own_copy(nested)
                nested.Parent = cls
                setattr(cls, side, nested)
        cls.io_type = TypeName(io_type)
        return cls

    return bind


def Custom(io_type: str) -> type[ComfyTypeIO]:
    """A socket type for a name no built-in type has (a pack's own type)."""

    @comfytype(io_type=io_type)
    class CustomType(ComfyTypeIO):
        pass

    return CustomType


class MultiType:
    """An input accepting several types; given an `Input` as `id`, that input's widget and options are used."""

    Type = Any

    class Input(Input):
        def __init__(self, id: Any, types: list, display_name: str | None = None, optional: bool = False,
                     tooltip: str | None = None, lazy: bool | None = None, extra_dict: dict | None = None):
            self.input_override = None
            if isinstance(id, Input):
                base = id
                self.input_override = type(base).__new__(type(base))
                self.input_override.__dict__.update(base.__dict__)
                optional = True if base.optional is True else optional
                tooltip = base.tooltip if base.tooltip is not None else tooltip
                display_name = base.display_name if base.display_name is not None else display_name
                lazy = base.lazy if base.lazy is not None else lazy
                id = base.id
                if isinstance(self.input_override, WidgetInput):
                    self.input_override.widget_type = self.input_override.get_io_type()
            super().__init__(id, display_name, optional, tooltip, lazy, extra_dict)
            self._io_types = types

        @property
        def io_types(self) -> list:
            return [t if isinstance(t, type) else type(t) for t in self._io_types]

        def get_io_type(self) -> Any:
            names = [t.io_type for t in self.io_types]
            if self.input_override is not None:
                names.insert(0, self.input_override.get_io_type())
            return ",".join(dict.fromkeys(names))

        def as_dict(self) -> dict[str, Any]:
            own = super().as_dict()
            return self.input_override.as_dict() | own if self.input_override is not None else own


def _plain(name: str, io_type: str) -> type[ComfyTypeIO]:
    """A socket type with the default input and output declarations."""
    return comfytype(io_type)(type(name, (ComfyTypeIO,), {"__module__": __name__, "__qualname__": name}))


# The types whose declarations take only the common options.
Image = _plain("Image", "IMAGE")
WanCameraEmbedding = _plain("WanCameraEmbedding", "WAN_CAMERA_EMBEDDING")
Mask = _plain("Mask", "MASK")
Latent = _plain("Latent", "LATENT")
Conditioning = _plain("Conditioning", "CONDITIONING")
Sampler = _plain("Sampler", "SAMPLER")
Sigmas = _plain("Sigmas", "SIGMAS")
Noise = _plain("Noise", "NOISE")
Guider = _plain("Guider", "GUIDER")
Clip = _plain("Clip", "CLIP")
ControlNet = _plain("ControlNet", "CONTROL_NET")
Vae = _plain("Vae", "VAE")
Model = _plain("Model", "MODEL")
ClipVision = _plain("ClipVision", "CLIP_VISION")
ClipVisionOutput = _plain("ClipVisionOutput", "CLIP_VISION_OUTPUT")
StyleModel = _plain("StyleModel", "STYLE_MODEL")
Gligen = _plain("Gligen", "GLIGEN")
UpscaleModel = _plain("UpscaleModel", "UPSCALE_MODEL")
Audio = _plain("Audio", "AUDIO")
Video = _plain("Video", "VIDEO")
SVG = _plain("SVG", "SVG")
LoraModel = _plain("LoraModel", "LORA_MODEL")
LossMap = _plain("LossMap", "LOSS_MAP")
Voxel = _plain("Voxel", "VOXEL")
Mesh = _plain("Mesh", "MESH")
Hooks = _plain("Hooks", "HOOKS")
HookKeyframes = _plain("HookKeyframes", "HOOK_KEYFRAMES")
TimestepsRange = _plain("TimestepsRange", "TIMESTEPS_RANGE")
LatentOperation = _plain("LatentOperation", "LATENT_OPERATION")
FlowControl = _plain("FlowControl", "FLOW_CONTROL")
Accumulation = _plain("Accumulation", "ACCUMULATION")
Load3DCamera = _plain("Load3DCamera", "LOAD3D_CAMERA")
Load3D = _plain("Load3D", "LOAD_3D")
Load3DAnimation = _plain("Load3DAnimation", "LOAD_3D_ANIMATION")
Photomaker = _plain("Photomaker", "PHOTOMAKER")
Point = _plain("Point", "POINT")
FaceAnalysis = _plain("FaceAnalysis", "FACE_ANALYSIS")
BBOX = _plain("BBOX", "BBOX")
SEGS = _plain("SEGS", "SEGS")
AnyType = _plain("AnyType", "*")
MODEL_PATCH = _plain("MODEL_PATCH", "MODEL_PATCH")
AudioEncoder = _plain("AudioEncoder", "AUDIO_ENCODER")
AudioEncoderOutput = _plain("AudioEncoderOutput", "AUDIO_ENCODER_OUTPUT")
