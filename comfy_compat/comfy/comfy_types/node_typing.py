"""ComfyUI's `comfy.comfy_types.node_typing`: the IO type names and the typing aids V1 node packs import.

Packs subclass `ComfyNodeABC`, annotate `INPUT_TYPES` with `InputTypeDict` and use `IO.ANY`, `IO.IMAGE`, ...
as socket types. Nothing here runs a node; the V1 adapter in engine/graph reads such classes as usual.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from enum import Enum
from typing import Any, Literal, TypedDict


class StrEnum(str, Enum):
    """A str-valued enum whose str() is its value (an IO member is usable wherever a type name is)."""

    def __str__(self) -> str:
        return str(self.value)


class IO(StrEnum):
    """Socket type names. Comparing with `!=` treats "*" as matching everything and comma lists
    ("FLOAT,INT") as matching any of their members, which is how link types are checked."""

    STRING = "STRING"
    IMAGE = "IMAGE"
    MASK = "MASK"
    LATENT = "LATENT"
    BOOLEAN = "BOOLEAN"
    INT = "INT"
    FLOAT = "FLOAT"
    COMBO = "COMBO"
    CONDITIONING = "CONDITIONING"
    SAMPLER = "SAMPLER"
    SIGMAS = "SIGMAS"
    GUIDER = "GUIDER"
    NOISE = "NOISE"
    CLIP = "CLIP"
    CONTROL_NET = "CONTROL_NET"
    VAE = "VAE"
    MODEL = "MODEL"
    LORA_MODEL = "LORA_MODEL"
    LOSS_MAP = "LOSS_MAP"
    CLIP_VISION = "CLIP_VISION"
    CLIP_VISION_OUTPUT = "CLIP_VISION_OUTPUT"
    STYLE_MODEL = "STYLE_MODEL"
    GLIGEN = "GLIGEN"
    UPSCALE_MODEL = "UPSCALE_MODEL"
    AUDIO = "AUDIO"
    WEBCAM = "WEBCAM"
    POINT = "POINT"
    FACE_ANALYSIS = "FACE_ANALYSIS"
    BBOX = "BBOX"
    SEGS = "SEGS"
    VIDEO = "VIDEO"
    ANY = "*"
    NUMBER = "FLOAT,INT"
    PRIMITIVE = "STRING,FLOAT,INT,BOOLEAN"

    def __ne__(self, other: object) -> bool:
        if self.value == "*" or other == "*":
            return False
        if not isinstance(other, str):
            return True
        mine, theirs = frozenset(self.value.split(",")), frozenset(other.split(","))
        return not (mine <= theirs or theirs <= mine)

    __hash__ = str.__hash__


class RemoteInputOptions(TypedDict, total=False):
    """Options of a combo whose entries a URL provides."""

    route: str
    refresh_button: bool
    control_after_refresh: Literal["first", "last"]
    timeout: int
    max_retries: int
    refresh: int


class MultiSelectOptions(TypedDict, total=False):
    """Options of a combo that accepts several entries."""

    placeholder: str
    chip: bool


class InputTypeOptions(TypedDict, total=False):
    """The option dict of one input (second element of its tuple)."""

    default: Any
    defaultInput: bool
    forceInput: bool
    lazy: bool
    rawLink: bool
    tooltip: str
    min: float
    max: float
    step: float
    round: float
    display: str
    control_after_generate: bool
    multiline: bool
    placeholder: str
    dynamicPrompts: bool
    label_on: str
    label_off: str
    image_upload: bool
    image_folder: Literal["input", "output", "temp"]
    remote: RemoteInputOptions
    multi_select: MultiSelectOptions


class HiddenInputTypeDict(TypedDict, total=False):
    """Hidden inputs the host fills in."""

    unique_id: Literal["UNIQUE_ID"]
    prompt: Literal["PROMPT"]
    extra_pnginfo: Literal["EXTRA_PNGINFO"]
    dynprompt: Literal["DYNPROMPT"]


class InputTypeDict(TypedDict, total=False):
    """What `INPUT_TYPES()` returns."""

    required: dict[str, tuple[Any, InputTypeOptions]]
    optional: dict[str, tuple[Any, InputTypeOptions]]
    hidden: HiddenInputTypeDict


class ComfyNodeABC(ABC):
    """Base class naming the attributes a V1 node declares (INPUT_TYPES, RETURN_TYPES, FUNCTION, ...)."""

    DESCRIPTION: str
    CATEGORY: str
    EXPERIMENTAL: bool
    DEPRECATED: bool
    API_NODE: bool | None
    RETURN_TYPES: tuple
    RETURN_NAMES: tuple[str, ...]
    OUTPUT_TOOLTIPS: tuple[str, ...]
    FUNCTION: str
    OUTPUT_NODE: bool
    INPUT_IS_LIST: bool
    OUTPUT_IS_LIST: tuple[bool, ...]

    @classmethod
    @abstractmethod
    def INPUT_TYPES(cls) -> InputTypeDict:
        """The node's inputs by section."""


class CheckLazyMixin:
    """A `check_lazy_status` that asks for every input still unevaluated (None)."""

    def check_lazy_status(self, **kwargs: Any) -> list[str]:
        return [name for name, value in kwargs.items() if value is None]


class FileLocator(TypedDict):
    """Where a file a node wrote lives, as the UI addresses it."""

    filename: str
    subfolder: str
    type: Literal["input", "output", "temp"]
