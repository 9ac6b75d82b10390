"""The widget socket types of ComfyUI's V3 schema (BOOLEAN, INT, FLOAT, STRING, COMBO, multi-select COMBO,
WEBCAM): inputs that can be literal values on the node, with their options as the canvas reads them."""

from __future__ import annotations

from typing import Any

from comfy_compat.comfy_api.latest.io_types import (
    ComfyTypeI,
    ComfyTypeIO,
    FolderType,
    NumberDisplay,
    Output,
    RemoteOptions,
    UploadType,
    WidgetInput,
    comfytype,
    pruned,
)


@comfytype(io_type="BOOLEAN")
class Boolean(ComfyTypeIO):
    Type = bool

    class Input(WidgetInput):
        def __init__(self, id: str, display_name: str | None = None, optional: bool = False,
                     tooltip: str | None = None, lazy: bool | None = None, default: bool | None = None,
                     label_on: str | None = None, label_off: str | None = None, socketless: bool | None = None,
                     force_input: bool | None = None):
            super().__init__(id, display_name, optional, tooltip, lazy, default, socketless, None, force_input)
            self.label_on, self.label_off = label_on, label_off

        def as_dict(self) -> dict[str, Any]:
            return super().as_dict() | pruned({"label_on": self.label_on, "label_off": self.label_off})


class _NumberInput(WidgetInput):
    """INT and FLOAT widgets: bounds, step and how the canvas shows them."""

    def __init__(self, id: str, display_name: str | None = None, optional: bool = False, tooltip: str | None = None,
                 lazy: bool | None = None, default: Any = None, min: Any = None, max: Any = None, step: Any = None,
                 display_mode: NumberDisplay | None = None, socketless: bool | None = None,
                 force_input: bool | None = None):
        super().__init__(id, display_name, optional, tooltip, lazy, default, socketless, None, force_input)
        self.min, self.max, self.step, self.display_mode = min, max, step, display_mode

    def as_dict(self) -> dict[str, Any]:
        display = self.display_mode.value if isinstance(self.display_mode, NumberDisplay) else self.display_mode
        return super().as_dict() | pruned({"min": self.min, "max": self.max, "step": self.step}) | self._extra() | (
            pruned({"display": display}))

    def _extra(self) -> dict[str, Any]:
        return {}


@comfytype(io_type="INT")
class Int(ComfyTypeIO):
    Type = int

    class Input(_NumberInput):
        def __init__(self, id: str, display_name: str | None = None, optional: bool = False,
                     tooltip: str | None = None, lazy: bool | None = None, default: int | None = None,
                     min: int | None = None, max: int | None = None, step: int | None = None,
                     control_after_generate: bool | None = None, display_mode: NumberDisplay | None = None,
                     socketless: bool | None = None, force_input: bool | None = None):
            super().__init__(id, display_name, optional, tooltip, lazy, default, min, max, step, display_mode,
                             socketless, force_input)
            self.control_after_generate = control_after_generate

        def _extra(self) -> dict[str, Any]:
            return pruned({"control_after_generate": self.control_after_generate})


@comfytype(io_type="FLOAT")
class Float(ComfyTypeIO):
    Type = float

    class Input(_NumberInput):
        def __init__(self, id: str, display_name: str | None = None, optional: bool = False,
                     tooltip: str | None = None, lazy: bool | None = None, default: float | None = None,
                     min: float | None = None, max: float | None = None, step: float | None = None,
                     round: float | None = None, display_mode: NumberDisplay | None = None,
                     socketless: bool | None = None, force_input: bool | None = None):
            super().__init__(id, display_name, optional, tooltip, lazy, default, min, max, step, display_mode,
                             socketless, force_input)
            self.round = round

        def _extra(self) -> dict[str, Any]:
            return pruned({"round": self.round})


@comfytype(io_type="STRING")
class String(ComfyTypeIO):
    Type = str

    class Input(WidgetInput):
        def __init__(self, id: str, display_name: str | None = None, optional: bool = False,
                     tooltip: str | None = None, lazy: bool | None = None, multiline: bool = False,
                     placeholder: str | None = None, default: str | None = None, dynamic_prompts: bool | None = None,
                     socketless: bool | None = None, force_input: bool | None = None):
            super().__init__(id, display_name, optional, tooltip, lazy, default, socketless, None, force_input)
            self.multiline, self.placeholder, self.dynamic_prompts = multiline, placeholder, dynamic_prompts

        def as_dict(self) -> dict[str, Any]:
            return super().as_dict() | pruned({"multiline": self.multiline, "placeholder": self.placeholder,
                                               "dynamicPrompts": self.dynamic_prompts})


@comfytype(io_type="COMBO")
class Combo(ComfyTypeIO):
    Type = str

    class Input(WidgetInput):
        def __init__(self, id: str, options: list | None = None, display_name: str | None = None,
                     optional: bool = False, tooltip: str | None = None, lazy: bool | None = None,
                     default: Any = None, control_after_generate: bool | None = None,
                     upload: UploadType | None = None, image_folder: FolderType | None = None,
                     remote: RemoteOptions | None = None, socketless: bool | None = None):
            super().__init__(id, display_name, optional, tooltip, lazy, default, socketless)
            self.multiselect = False
            self.options, self.control_after_generate = options, control_after_generate
            self.upload, self.image_folder, self.remote = upload, image_folder, remote

        def as_dict(self) -> dict[str, Any]:
            return super().as_dict() | pruned({
                "multiselect": self.multiselect,
                "options": self.options,
                "control_after_generate": self.control_after_generate,
                **({self.upload.value: True} if self.upload is not None else {}),
                "image_folder": self.image_folder.value if self.image_folder else None,
                "remote": self.remote.as_dict() if self.remote else None,
            })

    class Output(Output):
        """A combo output: its type is the option list (so it connects to combo inputs with those options)."""

        def __init__(self, id: str | None = None, display_name: str | None = None, options: list | None = None,
                     tooltip: str | None = None, is_output_list: bool = False):
            super().__init__(id, display_name, tooltip, is_output_list)
            self.options = options if options is not None else []

        @property
        def io_type(self) -> Any:
            return self.options


@comfytype(io_type="COMBO")
class MultiCombo(ComfyTypeI):
    Type = list

    class Input(Combo.Input):
        def __init__(self, id: str, options: list, display_name: str | None = None, optional: bool = False,
                     tooltip: str | None = None, lazy: bool | None = None, default: list | None = None,
                     placeholder: str | None = None, chip: bool | None = None,
                     control_after_generate: bool | None = None, socketless: bool | None = None):
            super().__init__(id, options, display_name, optional, tooltip, lazy, default, control_after_generate,
                             socketless=socketless)
            self.multiselect = True
            self.placeholder, self.chip = placeholder, chip

        def as_dict(self) -> dict[str, Any]:
            return super().as_dict() | pruned({"multi_select": self.multiselect, "placeholder": self.placeholder,
                                               "chip": self.chip})


@comfytype(io_type="WEBCAM")
class Webcam(ComfyTypeIO):
    Type = str

    class Input(WidgetInput):
        def __init__(self, id: str, display_name: str | None = None, optional: bool = False,
                     tooltip: str | None = None, lazy: bool | None = None, default: str | None = None,
                     socketless: bool | None = None):
            super().__init__(id, display_name, optional, tooltip, lazy, default, socketless)
