"""A pack using the ComfyUI behaviours popular packs lean on: display-only nodes (no FUNCTION), nodes
returning fewer outputs than they declare, VideoComponents built positionally, and an on-prompt handler."""

from server import PromptServer

from .nodes import NODE_CLASS_MAPPINGS


def _rename_prefix(json_data):
    """Rewrites every GapsShow value "rewrite me" (as packs that fill in prompts before they run do)."""
    for node in json_data.get("prompt", {}).values():
        if node.get("class_type") == "GapsShow" and node["inputs"].get("value") == "rewrite me":
            node["inputs"]["value"] = "rewritten by the pack"
    return json_data


def _broken_handler(json_data):
    """Raises on the prompts it is meant to touch; ComfyUI logs it and goes on with the body unchanged."""
    if any(node.get("class_type") == "GapsShow" for node in json_data.get("prompt", {}).values()):
        raise RuntimeError("a broken on-prompt handler")
    return json_data


PromptServer.instance.add_on_prompt_handler(_broken_handler)
PromptServer.instance.add_on_prompt_handler(_rename_prefix)

__all__ = ["NODE_CLASS_MAPPINGS"]
