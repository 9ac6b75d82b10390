"""ComfyUI's experimental V3 dynamic sockets: an input that stands for several inputs (`AutogrowDynamic`, up to
`max` copies of a template input), and `MatchType` sockets whose type follows a template. /object_info
lists what they expand to, as ComfyUI does."""

from __future__ import annotations

import copy
from typing import Any

from comfy_compat.comfy_api.latest.io_types import (
    ComfyTypeI,
    ComfyTypeIO,
    Input,
    Output,
    WidgetInput,
    comfytype,
    pruned,
)


class DynamicInput(Input):
    """An input declaration that expands into the inputs `get_dynamic()` returns."""

    def get_dynamic(self) -> list[Input]:
        raise NotImplementedError


class DynamicOutput(Output):
    """An output declaration that expands into the outputs `get_dynamic()` returns."""

    def get_dynamic(self) -> list[Output]:
        raise NotImplementedError


def expanded(inputs: list[Input] | None) -> list[Input]:
    """The inputs a schema declares, dynamic ones replaced by what they expand to."""
    return [one for item in inputs or () for one in (item.get_dynamic() if isinstance(item, DynamicInput) else [item])]


@comfytype(io_type="COMFY_AUTOGROW_V3")
class AutogrowDynamic(ComfyTypeI):
    Type = list

    class Input(DynamicInput):
        """`min` required copies of `template_input`, then optional ones up to `max`."""

        def __init__(self, id: str, template_input: Input, min: int = 1, max: int | None = None,
                     display_name: str | None = None, optional: bool = False, tooltip: str | None = None,
                     lazy: bool | None = None, extra_dict: dict | None = None):
            super().__init__(id, display_name, optional, tooltip, lazy, extra_dict)
            if min < 1 or (max is not None and max < 1):
                raise ValueError(f"{id}: autogrow min and max must be at least 1")
            self.template_input, self.min, self.max = template_input, min, max

        def get_dynamic(self) -> list[Input]:
            copies = []
            for number in range(1, max(self.min, self.max or self.min) + 1):
                item = copy.copy(self.template_input)
                item.id = f"{item.id}{number}_${self.id}_ag$"
                if item.display_name is not None:
                    item.display_name = f"{item.display_name}{number}"
                item.optional = number > self.min or self.optional or item.optional
                if isinstance(item, WidgetInput):
                    item.force_input = True
                copies.append(item)
            return copies


@comfytype(io_type="COMFY_MATCHTYPE_V3")
class MatchType(ComfyTypeIO):
    """Sockets whose type is chosen among `allowed_types` and shared by every socket of one template."""

    class Template:
        def __init__(self, template_id: str, allowed_types: Any):
            self.template_id = template_id
            self.allowed_types = allowed_types if isinstance(allowed_types, list) else [allowed_types]

        def as_dict(self) -> dict[str, Any]:
            return {"template_id": self.template_id,
                    "allowed_types": "".join(t.io_type for t in self.allowed_types)}

    class Input(DynamicInput):
        def __init__(self, id: str, template: MatchType.Template, display_name: str | None = None,
                     optional: bool = False, tooltip: str | None = None, lazy: bool | None = None,
                     extra_dict: dict | None = None):
            super().__init__(id, display_name, optional, tooltip, lazy, extra_dict)
            self.template = template

        def get_dynamic(self) -> list[Input]:
            return [self]

        def as_dict(self) -> dict[str, Any]:
            return super().as_dict() | pruned({"template": self.template.as_dict()})

    class Output(DynamicOutput):
        def __init__(self, id: str, template: MatchType.Template, display_name: str | None = None,
                     tooltip: str | None = None, is_output_list: bool = False):
            super().__init__(id, display_name, tooltip, is_output_list)
            self.template = template

        def get_dynamic(self) -> list[Output]:
            return [self]

        def as_dict(self) -> dict[str, Any]:
            return super().as_dict() | pruned({"template": self.template.as_dict()})
