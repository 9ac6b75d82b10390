"""Manual cast, the default on the CPU: an fp16 checkpoint stays in fp16 in memory (half the bytes, the file's
own memory-mapped pages, no second copy) while every layer computes in fp32, so the image equals the one from
weights upcast to fp32 at load (--no-manual-cast, --force-fp32), which stays available."""

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from engine.memory import ModelManager
from engine.memory_dtypes import DtypePolicy
from engine.memory_tiers import LayerStreamer
from tests.fixtures.checkpoints import make_tiny_checkpoint
from tests.fixtures.lora_files import lora_tensors, save_lora
from tests.fixtures.steering_models import SD15_LORA, sd15_lora_shapes
from tests.fixtures.workflow_runner import Loom, workflow

SD15 = "v1-5-pruned-emaonly.safetensors"


@pytest.fixture(scope="module")
def fp16_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("fp16_models")
    (root / "checkpoints").mkdir()
    path = make_tiny_checkpoint("sd15", root / "checkpoints" / SD15)
    save_file({k: v.half() if v.is_floating_point() else v for k, v in load_file(str(path)).items()}, str(path))
    (root / "loras").mkdir()
    save_lora(lora_tensors(sd15_lora_shapes(), seed=3), root / "loras" / SD15_LORA)
    return root


@pytest.fixture(scope="module")
def runs(tmp_path_factory, fp16_models):
    """The txt2img workflow run by default and with weights upcast at load (--no-manual-cast)."""
    base = tmp_path_factory.mktemp("runs")
    looms = {"default": Loom(base / "default", fp16_models), "upcast": Loom(base / "upcast", fp16_models,
                                                                             manual_cast=False)}
    return {name: (loom, loom.image(loom.run(workflow("sd15_txt2img")))) for name, loom in looms.items()}


@pytest.fixture(scope="module")
def lora_runs(runs):
    """sd15_lora (strength 0.8 on the UNet and CLIP) on the same two installations."""
    return {name: loom.image(loom.run(workflow("sd15_lora"))) for name, (loom, _) in runs.items()}


def _slots(loom):
    return {slot.kind: slot for slot in loom.manager._slots.values()}


def _load_event(loom, kind):
    return next(e.data for e in loom.events.events if e.type == "model_load" and e.data["kind"] == kind)


def test_default_cpu_run_gives_the_upcast_image(runs):
    (_, image), (_, expected) = runs["default"], runs["upcast"]
    assert np.abs(image - expected).max() <= 1.0  # within 1/255 per channel


@pytest.mark.parametrize("kind", ["unet", "clip", "vae"])
def test_default_keeps_fp16_weights_and_computes_in_fp32(runs, kind):
    default, upcast = runs["default"][0], runs["upcast"][0]
    floating = [t for t in _slots(default)[kind].module.parameters() if t.is_floating_point()]
    assert {t.dtype for t in floating} == {torch.float16}
    assert _load_event(default, kind)["dtype"] == "float32"
    assert {t.dtype for t in _slots(upcast)[kind].module.parameters()} == {torch.float32}
    assert _load_event(default, kind)["bytes"] < _load_event(upcast, kind)["bytes"]


def test_default_holds_half_the_parameter_bytes_of_the_upcast(runs):
    def parameter_bytes(loom):
        return sum(p.nbytes for slot in _slots(loom).values() for p in slot.module.parameters())
    assert parameter_bytes(runs["default"][0]) * 2 == parameter_bytes(runs["upcast"][0])


def test_lora_on_fp16_weights_gives_the_image_of_lora_on_upcast_weights(runs, lora_runs):
    """Patched weights are rounded back to fp16 (as ComfyUI stores them), a change far below the LoRA's own."""
    difference = np.abs(lora_runs["default"] - lora_runs["upcast"])
    assert difference.max() <= 1.0 and difference.mean() <= 0.05
    assert np.abs(lora_runs["upcast"] - runs["upcast"][1]).mean() > 20 * max(difference.mean(), 0.05)


def test_fp16_weights_are_the_memory_mapped_file_not_a_copy(fp16_models):
    """The UNet's parameters are views of the safetensors file's mapping: loading made no second copy."""
    manager = ModelManager(device="cpu", ram_budget=1 << 32)
    loom_unet = _placed_unet(manager, fp16_models)
    mapped = _file_mappings(fp16_models / "checkpoints" / SD15)
    assert mapped, "the checkpoint file is not memory-mapped"
    assert all(any(lo <= p.data_ptr() < hi for lo, hi in mapped) for p in loom_unet.parameters())


@pytest.mark.parametrize("flags, held", [((), torch.float16), (("--no-manual-cast",), torch.float32),
                                         (("--force-fp32",), torch.float32), (("--fp32-unet",), torch.float32)])
def test_launch_flags_choose_storage_or_upcast(fp16_models, flags, held):
    from launch.cli import build_parser
    from launch.comfy_flags import apply_comfyui_flags
    from launch.compute_flags import manager_from_args

    args = build_parser().parse_args(["--cpu", *flags])
    apply_comfyui_flags(args)
    unet = _placed_unet(manager_from_args(args), fp16_models)
    assert {p.dtype for p in unet.parameters()} == {held}


def _placed_unet(manager, models):
    from engine.values.model import detect_checkpoint_file, unet_handle

    path = models / "checkpoints" / SD15
    return manager.load(unet_handle(manager, path, detect_checkpoint_file(path)))


def _file_mappings(path) -> list[tuple[int, int]]:
    """Address ranges where this process maps `path` (Linux /proc/self/maps)."""
    ranges = []
    for line in Path("/proc/self/maps").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 6 and parts[5] == str(path.resolve()):
            lo, hi = parts[0].split("-")
            ranges.append((int(lo, 16), int(hi, 16)))
    return ranges


class _Echo(nn.Module):
    """Returns its own weight: under manual cast, the copy that lives in the reused scratch buffer."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(4, 4))

    def forward(self, x):
        return self.weight


class _FailsOnce(nn.Linear):
    failed = False

    def forward(self, x):
        if not self.failed:
            self.failed = True
            raise RuntimeError("interrupted mid-layer")
        return super().forward(x)


def _half_streamed(module: nn.Module) -> tuple[nn.Module, nn.Module]:
    """(the fp32 reference, the same weights held in fp16 computing in fp32 through a LayerStreamer)."""
    reference = module.eval().requires_grad_(False)
    reference = reference.half().float()  # the values fp16 storage can hold
    half = copy.deepcopy(reference).half()
    LayerStreamer(half, torch.device("cpu"), torch.device("cpu"), 1 << 40, compute_dtype=torch.float32)
    return reference, half


def test_a_layer_returning_its_weight_is_not_overwritten_by_the_next_cast():
    torch.manual_seed(0)
    reference, half = _half_streamed(nn.ModuleList([_Echo(), nn.Linear(4, 4)]))
    x = torch.randn(2, 4)
    echoed = half[0](x)
    half[1](x)  # its cast reuses the scratch buffer the echo's weight copy was written to
    assert torch.equal(echoed, reference[0].weight)


def test_a_layer_that_raised_computes_correctly_next_time():
    torch.manual_seed(0)
    reference, half = _half_streamed(nn.Sequential(nn.Linear(4, 8), _FailsOnce(8, 8), nn.Linear(8, 4)))
    reference[1].failed = True
    x = torch.randn(2, 4)
    with pytest.raises(RuntimeError, match="interrupted"):
        half(x)
    # the streamed model's last layer multiplies its fp32 copy by oneDNN, the plain reference's by MKL: last bits
    torch.testing.assert_close(half(x), reference(x), rtol=1e-6, atol=1e-6)
    assert {p.dtype for p in half.parameters()} == {torch.float16}


@pytest.mark.parametrize("device, precision, manual_cast, stored, held", [
    ("cpu", "auto", None, torch.float16, torch.float16),  # the default on a CPU: storage dtype
    ("cpu", "auto", None, torch.bfloat16, torch.bfloat16),
    ("cpu", "auto", None, torch.float32, torch.float32),  # fp32 is never narrowed
    ("cpu", "auto", False, torch.float16, torch.float32),  # --no-manual-cast
    ("cpu", "fp32", None, torch.float16, torch.float32),  # --force-fp32
    ("cpu", "bf16", None, torch.float32, torch.bfloat16),  # a forced precision converts at load
    ("cuda", "auto", None, torch.float16, torch.float16),  # fast half: computes in it, no manual cast
    ("cuda", "auto", None, torch.float32, torch.float16),
])
def test_weights_are_held_in_the_dtype_the_policy_gives(device, precision, manual_cast, stored, held):
    policy = DtypePolicy.create(torch.device(device), precision, manual_cast)
    assert policy.storage(stored, "unet") == held
    assert policy.manual_cast == (device == "cpu" and precision == "auto" and manual_cast is not False)
