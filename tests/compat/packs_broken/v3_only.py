"""A ComfyUI V3 pack: nodes come only from comfy_entrypoint(), which Loom does not call."""


async def comfy_entrypoint():
    raise AssertionError("Loom must not call comfy_entrypoint")
