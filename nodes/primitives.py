"""Primitive value nodes: a literal int, float, string or boolean that other nodes can share.

Names match ComfyUI's (PrimitiveInt, PrimitiveFloat, ...) so saved workflows keep working.
"""

import sys
from typing import Annotated

from pydantic import Field

from engine.graph.native import Node, Out, Widget, node

BIG = sys.maxsize


@node(category="utils/primitive", display_name="Int", outputs=[Out("INT")])
class PrimitiveInt(Node):
    """An integer, with the canvas' randomize/increment control."""

    value: Annotated[int, Widget(control_after_generate=True), Field(ge=-BIG, le=BIG)]

    def run(self, ctx):
        return (self.value,)


@node(category="utils/primitive", display_name="Float", outputs=[Out("FLOAT")])
class PrimitiveFloat(Node):
    """A floating-point number."""

    value: Annotated[float, Field(ge=-BIG, le=BIG)]

    def run(self, ctx):
        return (self.value,)


@node(category="utils/primitive", display_name="String", outputs=[Out("STRING")])
class PrimitiveString(Node):
    """A one-line string."""

    value: str

    def run(self, ctx):
        return (self.value,)


@node(category="utils/primitive", display_name="String (Multiline)", outputs=[Out("STRING")])
class PrimitiveStringMultiline(Node):
    """A multi-line string (a text box on the canvas)."""

    value: Annotated[str, Widget(multiline=True)]

    def run(self, ctx):
        return (self.value,)


@node(category="utils/primitive", display_name="Boolean", outputs=[Out("BOOLEAN")])
class PrimitiveBoolean(Node):
    """True or false."""

    value: bool

    def run(self, ctx):
        return (self.value,)
