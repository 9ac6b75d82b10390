"""ComfyUI's `comfy_extras.nodes_stable3d`: Stable Zero123 / SV3D nodes and camera_embeddings, a family
Loom does not load (calling it raises NotImplementedError); the nodes are read from Loom's registry."""

from __future__ import annotations

from typing import Any

from comfy_compat.comfy_extras import node_getter

__getattr__ = node_getter(__name__)


def camera_embeddings(elevation: float, azimuth: float) -> Any:
    raise NotImplementedError("comfy_extras.nodes_stable3d.camera_embeddings: Stable Zero123 is not available in Loom")
