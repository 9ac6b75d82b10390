"""ModelMergeSD1 / SD2 / SDXL: a merge ratio per UNet block, the inputs named by the blocks' key prefixes
("input_blocks.4.") exactly as ComfyUI names them, so saved workflows keep their values."""

from typing import Annotated

from pydantic import Field, create_model

from engine.graph.native import Node, Out, Socket, Widget, node
from nodes.merge_weights import longest_prefix_ratio
from nodes.model_merging import merged


def _blocks(inputs: int, outputs: int, dot: str) -> list[str]:
    return (["time_embed.", "label_emb."] + [f"input_blocks.{i}{dot}" for i in range(inputs)]
            + [f"middle_block.{i}{dot}" for i in range(3)] + [f"output_blocks.{i}{dot}" for i in range(outputs)]
            + ["out."])


# SD1/SD2 prefixes end with a dot; ComfyUI's SDXL ones do not (but for time_embed./label_emb./out.).
BLOCKS = {"SD1": _blocks(12, 12, "."), "SD2": _blocks(12, 12, "."), "SDXL": _blocks(9, 9, "")}


class _BlockMerge(Node):
    def run(self, ctx):
        values = self.model_dump(by_alias=True)
        ratios = {name: values[name] for name in type(self).BLOCK_NAMES}
        return (merged(self.model1, self.model2, longest_prefix_ratio(ratios)),)


def _block_merge_node(family: str) -> type[Node]:
    """The ModelMerge<family> node class: model1, model2, then one ratio per block prefix."""
    ratios = {f"ratio_{i}": (Annotated[float, Widget(step=0.01)], Field(1.0, ge=0.0, le=1.0, alias=name))
              for i, name in enumerate(BLOCKS[family])}
    cls = create_model(
        f"ModelMerge{family}", __base__=_BlockMerge, __module__=__name__,
        __doc__=f"Merge two {family} UNets with a ratio per block: ratio * model1 + (1 - ratio) * model2.",
        model1=(Annotated[object, Socket("MODEL")], ...), model2=(Annotated[object, Socket("MODEL")], ...),
        **ratios)
    cls.BLOCK_NAMES = tuple(BLOCKS[family])
    return node(cls, category="advanced/model_merging/model_specific", display_name=f"ModelMerge{family}",
                outputs=[Out("MODEL")])


ModelMergeSD1 = _block_merge_node("SD1")
ModelMergeSD2 = _block_merge_node("SD2")
ModelMergeSDXL = _block_merge_node("SDXL")
