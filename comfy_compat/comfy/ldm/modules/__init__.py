"""ComfyUI's `comfy.ldm.modules`: attention and the diffusion-model blocks (Loom's engine.models)."""
