"""ComfyUI's `comfy.k_diffusion` package: `sampling` (Loom's samplers under k-diffusion's names) and `utils`."""
