"""Socket type rules and the API-format value conventions (links, wrapped literal lists)."""

from typing import Any

WIDGET_TYPES = frozenset({"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"})
ANY = "*"
# Core socket types whose values are tensors or loaded models: only a link can provide one, never a JSON literal.
# (Custom types stay open: ComfyUI passes a pack's literal through to its node.)
LINK_ONLY_TYPES = frozenset({
    "IMAGE", "MASK", "LATENT", "MODEL", "CLIP", "VAE", "CONDITIONING", "CONTROL_NET", "CLIP_VISION",
    "CLIP_VISION_OUTPUT", "SIGMAS", "NOISE", "SAMPLER", "GUIDER", "UPSCALE_MODEL", "STYLE_MODEL",
})


def _type_set(type_name: str) -> frozenset[str]:
    return frozenset(part.strip() for part in type_name.split(","))


def types_compatible(output_type: Any, input_type: Any) -> bool:
    """True when an output of `output_type` may feed an input of `input_type`.

    `"*"` on either side matches anything; comma lists are unions and every type the output may
    carry must be accepted by the input. Combo inputs accept "COMBO" outputs and list-typed outputs.
    """
    if isinstance(output_type, (list, tuple)):
        output_type = "COMBO"
    if isinstance(input_type, (list, tuple)):
        input_type = "COMBO"
    if output_type == input_type or output_type == ANY or input_type == ANY:
        return True
    if not isinstance(output_type, str) or not isinstance(input_type, str):
        return False
    accepted = _type_set(input_type)
    return ANY in accepted or _type_set(output_type) <= accepted


def is_link(value: Any) -> bool:
    """A link is exactly a 2-element list/tuple `[source_node_id: str, output_index: int]`."""
    return (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], int)
        and not isinstance(value[1], bool)
    )


def unwrap_literal(value: Any) -> Any:
    """Return the literal a prompt input stands for: `{"__value__": [...]}` becomes the list."""
    if isinstance(value, dict) and len(value) == 1 and "__value__" in value:
        return value["__value__"]
    return value
