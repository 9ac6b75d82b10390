"""The values Loom's nodes pass between each other for models: MODEL, CLIP, VAE and CONTROL_NET.

They live in the engine (not in nodes/) because node packs, the ComfyUI compatibility layer and Loom's own
nodes all receive and call the same objects: one object model, shaped like ComfyUI's.
"""
