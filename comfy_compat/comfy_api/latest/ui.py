"""ComfyUI's V3 `ui` helpers: what a node returns as `NodeOutput(ui=...)` to show images, masks, text, video
or 3D results under the node. Previews are written to the temp folder as PNGs; saves to the output folder.
"""

from __future__ import annotations

import json
import os
import secrets
from typing import Any

from comfy_compat.comfy_api.latest.io_node import UIOutput
from comfy_compat.comfy_api.latest.io_types import FolderType

_PREVIEW_ALPHABET = "abcdefghijklmnopqrstuvwxyz"


class SavedResult(dict):
    """One file shown in the UI: {"filename", "subfolder", "type"}."""

    def __init__(self, filename: str, subfolder: str, type: FolderType):
        super().__init__(filename=filename, subfolder=subfolder, type=FolderType(type).value)

    @property
    def filename(self) -> str:
        return self["filename"]

    @property
    def subfolder(self) -> str:
        return self["subfolder"]

    @property
    def type(self) -> FolderType:
        return FolderType(self["type"])


class SavedImages(UIOutput):
    """Images already on disk, maybe one animation."""

    def __init__(self, results: list[SavedResult], is_animated: bool = False):
        self.results, self.is_animated = results, is_animated

    def as_dict(self) -> dict:
        data: dict[str, Any] = {"images": self.results}
        if self.is_animated:
            data["animated"] = (True,)
        return data


class SavedAudios(UIOutput):
    """Audio files already on disk."""

    def __init__(self, results: list[SavedResult]):
        self.results = results

    def as_dict(self) -> dict:
        return {"audio": self.results}


def _folder_of(folder_type: FolderType) -> str:
    import folder_paths  # the host's folders (installed before packs load)

    return {FolderType.input: folder_paths.get_input_directory, FolderType.output: folder_paths.get_output_directory,
            FolderType.temp: folder_paths.get_temp_directory}[FolderType(folder_type)]()


class ImageSaveHelper:
    """Writing IMAGE batches as PNG files with the workflow in their metadata."""

    @staticmethod
    def to_pil(image: Any) -> Any:
        """One HxWxC float image in [0, 1] as an 8-bit PIL image (values truncated, as ComfyUI does)."""
        import numpy as np
        from PIL import Image as PILImage

        pixels = np.clip(255.0 * image.detach().cpu().float().numpy(), 0, 255).astype(np.uint8)
        return PILImage.fromarray(pixels)

    @staticmethod
    def png_metadata(node: Any) -> Any:
        """PngInfo with the prompt and extra_pnginfo the node's hidden values carry (None without them)."""
        hidden = getattr(node, "hidden", None) if node is not None else None
        if hidden is None or (not hidden.prompt and not hidden.extra_pnginfo):
            return None
        from PIL.PngImagePlugin import PngInfo

        info = PngInfo()
        if hidden.prompt:
            info.add_text("prompt", json.dumps(hidden.prompt))
        for key, value in (hidden.extra_pnginfo or {}).items():
            info.add_text(key, json.dumps(value))
        return info

    @staticmethod
    def save_images(images: Any, filename_prefix: str, folder_type: FolderType, cls: Any = None,
                    compress_level: int = 4) -> list[SavedResult]:
        """Each image of the batch as `<prefix>_<counter:05>_.png`; returns what the UI shows."""
        import folder_paths

        height, width = int(images[0].shape[0]), int(images[0].shape[1])
        folder, name, counter, subfolder, _ = folder_paths.get_save_image_path(
            filename_prefix, _folder_of(folder_type), width, height)
        metadata = ImageSaveHelper.png_metadata(cls)
        results = []
        for batch_number, image in enumerate(images):
            file = f"{name.replace('%batch_num%', str(batch_number))}_{counter:05}_.png"
            ImageSaveHelper.to_pil(image).save(os.path.join(folder, file), pnginfo=metadata,
                                               compress_level=compress_level)
            results.append(SavedResult(file, subfolder, folder_type))
            counter += 1
        return results

    @staticmethod
    def get_save_images_ui(images: Any, filename_prefix: str, cls: Any = None, compress_level: int = 4) -> SavedImages:
        return SavedImages(ImageSaveHelper.save_images(images, filename_prefix, FolderType.output, cls, compress_level))


class PreviewImage(UIOutput):
    """An IMAGE batch written to the temp folder and shown under the node."""

    def __init__(self, image: Any, animated: bool = False, cls: Any = None, **_: Any):
        prefix = "ComfyUI_temp_" + "".join(secrets.choice(_PREVIEW_ALPHABET) for _ in range(5))
        self.values = ImageSaveHelper.save_images(image, prefix, FolderType.temp, cls, compress_level=1)
        self.animated = animated

    def as_dict(self) -> dict:
        return {"images": self.values, "animated": (self.animated,)}


class PreviewMask(PreviewImage):
    """A MASK batch previewed as grey images."""

    def __init__(self, mask: Any, animated: bool = False, cls: Any = None, **kwargs: Any):
        grey = mask.reshape((-1, 1, mask.shape[-2], mask.shape[-1])).movedim(1, -1).expand(-1, -1, -1, 3)
        super().__init__(grey, animated, cls, **kwargs)


class PreviewAudio(UIOutput):
    """Audio preview: Loom has no audio encoder, so building one says so."""

    def __init__(self, audio: dict, cls: Any = None, **_: Any):
        raise NotImplementedError("ui.PreviewAudio: Loom does not encode audio")

    def as_dict(self) -> dict:
        return {}


class PreviewVideo(UIOutput):
    """Video files already on disk."""

    def __init__(self, values: list, **_: Any):
        self.values = values

    def as_dict(self) -> dict:
        return {"images": self.values, "animated": (True,)}


class PreviewUI3D(UIOutput):
    """A 3D model file and its camera."""

    def __init__(self, model_file: Any, camera_info: Any, **_: Any):
        self.model_file, self.camera_info = model_file, camera_info

    def as_dict(self) -> dict:
        return {"result": [self.model_file, self.camera_info]}


class PreviewText(UIOutput):
    """A string shown under the node."""

    def __init__(self, value: str, **_: Any):
        self.value = value

    def as_dict(self) -> dict:
        return {"text": (self.value,)}
