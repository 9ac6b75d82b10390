"""A ComfyUI V3 pack whose comfy_entrypoint() fails: the pack is reported failed with that error."""


async def comfy_entrypoint():
    raise RuntimeError("entrypoint exploded")
