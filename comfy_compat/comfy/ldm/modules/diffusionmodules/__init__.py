"""ComfyUI's `comfy.ldm.modules.diffusionmodules`: openaimodel (the UNet) and util, over Loom's engine.models."""
