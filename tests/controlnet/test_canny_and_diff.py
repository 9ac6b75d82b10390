"""The Canny node's edges, and diff ControlNets rebuilt from the base model they were made from."""

import torch

from engine.graph.context import ExecutionContext, Services
from nodes.controlnet import ControlNetLoader, DiffControlNetLoader
from nodes.image_filters import Canny
from nodes.loaders import CheckpointLoaderSimple
from tests.fixtures.checkpoints import tiny_unet_state_dict
from tests.fixtures.controlnet_files import tiny_controlnet_state_dict
from tests.fixtures.steering_models import SD15_CANNY


def _edges(image, low, high):
    (out,) = Canny(image=image, low_threshold=low, high_threshold=high).run(None)
    assert out.shape == image.shape
    return out[0, :, :, 0]


def test_canny_draws_one_thin_line_along_a_step_edge():
    image = torch.zeros(1, 32, 32, 3)
    image[:, :, 16:] = 1.0
    edges = _edges(image, 0.1, 0.2)
    columns = edges.sum(dim=0)
    assert set(edges.unique().tolist()) == {0.0, 1.0}
    assert columns.nonzero().numel() == 1 and columns.max() == 32
    assert abs(int(columns.argmax()) - 15.5) <= 1


def test_canny_thresholds_and_hysteresis():
    fading = torch.linspace(1.0, 0.2, 32).reshape(1, 32, 1, 1)  # contrast of a vertical step, row by row
    image = torch.zeros(1, 32, 32, 3)
    image[:, :, 16:] = fading
    # thresholds are in unnormalised Sobel units, as in ComfyUI's node (kornia): a step of 1/8 is 8x fainter
    image = image / 8
    edges = _edges(image, 0.05, 0.2)
    assert (edges[2:30].sum(dim=1) == 1).all()  # the faint lower part is kept: it continues a strong edge
    assert _edges(image * 0.5, 0.05, 0.2).sum() == 0  # the same faint part alone does not start an edge
    assert _edges(image, 0.6, 0.9).sum() == 0  # nothing reaches a high threshold above every gradient


def test_diff_controlnet_equals_the_full_one_once_added_to_its_base(loom, models_dir):
    full = tiny_controlnet_state_dict("sd15")
    base = tiny_unet_state_dict("sd15")
    diff = {"control_model." + k: v - base[k] if k in base else v for k, v in full.items()}
    diff["difference"] = torch.tensor([])
    torch.save(diff, models_dir / "controlnet" / "diff_control_sd15_canny.pth")

    ctx = ExecutionContext("1", "p", {}, Services(folders=loom.folders, models=loom.manager))
    model, _, _ = CheckpointLoaderSimple(ckpt_name="v1-5-pruned-emaonly.safetensors").run(ctx)
    (rebuilt,) = DiffControlNetLoader(model=model, control_net_name="diff_control_sd15_canny.pth").run(ctx)
    (plain,) = ControlNetLoader(control_net_name=SD15_CANNY).run(ctx)
    rebuilt_weights = {k: v.clone() for k, v in loom.manager.load(rebuilt.handle).state_dict().items()}
    plain_weights = loom.manager.load(plain.handle).state_dict()
    for key, value in plain_weights.items():
        torch.testing.assert_close(rebuilt_weights[key], value, rtol=0, atol=1e-6)
