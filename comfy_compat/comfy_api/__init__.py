"""ComfyUI's `comfy_api` package: the V3 node API (`latest`) and its versioned aliases (`v0_0_1`, `v0_0_2`)."""
