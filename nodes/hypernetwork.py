"""HypernetworkLoader: an A1111-style hypernetwork file from models/hypernetworks as attention patches on
the MODEL (see engine/models/hypernetwork.py)."""

from typing import Annotated

from pydantic import Field

from engine.graph.native import Node, Out, Socket, Widget, node
from engine.models.hypernetwork import HypernetworkPatch, load_hypernetwork
from nodes.model_files import file_version, folders_of, model_files


@node(category="loaders", display_name="HypernetworkLoader", outputs=[Out("MODEL")])
class HypernetworkLoader(Node):
    """Add a hypernetwork's learned key/value offsets to every matching attention, scaled by strength."""

    model: Annotated[object, Socket("MODEL")]
    hypernetwork_name: Annotated[str, model_files("hypernetworks", "A file in models/hypernetworks.")]
    strength: Annotated[float, Widget(step=0.01)] = Field(1.0, ge=-10.0, le=10.0)

    def run(self, ctx):
        networks = load_hypernetwork(folders_of(ctx).find("hypernetworks", self.hypernetwork_name))
        patch = HypernetworkPatch(networks, self.strength)
        model = self.model.clone()
        model.set_model_attn1_patch(patch)
        model.set_model_attn2_patch(patch)
        return (model,)

    @classmethod
    def is_changed(cls, hypernetwork_name: str) -> str:
        return file_version("hypernetworks", hypernetwork_name)
