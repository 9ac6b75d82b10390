"""HypernetworkLoader patches every attention of the matching width: strength 0 samples exactly like the
bare model, strength 1 changes the result, and the loaded MODEL leaves the input MODEL unpatched."""

import torch

from tests.merging.conftest import PAIRS, captured, sample_prompt


def _write_hypernetwork(path, width: int) -> None:
    gen = torch.Generator().manual_seed(3)

    def mlp():
        return {"linear.0.weight": torch.randn(2 * width, width, generator=gen) * 0.2,
                "linear.0.bias": torch.zeros(2 * width),
                "linear.1.weight": torch.randn(width, 2 * width, generator=gen) * 0.2,
                "linear.1.bias": torch.zeros(width)}

    torch.save({"activation_func": "relu", width: [mlp(), mlp()]}, path)


def test_hypernetwork_strength_steers_sampling_and_zero_is_a_no_op(loom):
    folder = loom.folders.folders_for("hypernetworks")[0]
    folder.mkdir(parents=True, exist_ok=True)
    _write_hypernetwork(folder / "style.pt", 32)
    loader = {"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": PAIRS["sd15"][0]}}}
    bare = captured(loom.run(loader | sample_prompt(["1", 0], ["1", 1])))[0]
    hyper = {"2": {"class_type": "HypernetworkLoader", "inputs": {"model": ["1", 0], "hypernetwork_name": "style.pt",
                                                                  "strength": 0.0}}}
    assert torch.equal(captured(loom.run(loader | hyper | sample_prompt(["2", 0], ["1", 1])))[0], bare)
    hyper["2"]["inputs"]["strength"] = 1.0
    both = loader | hyper | sample_prompt(["2", 0], ["1", 1])
    both["30"] = {"class_type": "KSampler", "inputs": dict(both["23"]["inputs"], model=["1", 0])}
    both["31"] = {"class_type": "CaptureLatent", "inputs": {"samples": ["30", 0]}}
    result = loom.run(both)
    assert not torch.equal(captured(result)[0], bare)
    assert torch.equal(result.outputs["31"]["latent"][0]["samples"], bare)
