"""A web-only node pack for the ComfyUI-editor tests: its extension script adds a visible badge."""

NODE_CLASS_MAPPINGS: dict = {}
WEB_DIRECTORY = "./web"
