"""ComfyUI's old `comfy_extras.chainner_models` package: `model_loading.load_state_dict` (spandrel)."""
