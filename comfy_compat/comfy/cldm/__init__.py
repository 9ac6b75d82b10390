"""ComfyUI's `comfy.cldm` package: `cldm.ControlNet`, the ControlNet network (Loom's engine.models.controlnet)."""
