"""ComfyUI's `comfy.ldm` package: the SD UNet's building blocks, which are Loom's engine.models classes."""
