"""CLIP, VAE and CONTROL_NET values answer ComfyUI's methods with Loom's own results: a pack that encodes a
prompt, encodes/decodes an image or applies a ControlNet through these methods gets exactly what Loom's
nodes produce for the same inputs."""

import pytest
import torch

from engine.memory import ModelManager
from engine.sampling.ksampler import sample
from engine.values.control import controls_bound, load_controlnet
from engine.values.denoiser import sampling_model
from engine.values.model import detect_checkpoint_file, text_encoder_model, vae_model
from engine.values.text_encoder import placed_clip
from engine.values.vae import vae_decode, vae_encode
from nodes.controlnet import attach_control
from tests.fixtures.checkpoints import make_tiny_checkpoint
from tests.fixtures.controlnet_files import save_cldm
from tests.fixtures.tiny_model import tiny_model

Q_PROJ = "encoder.layers.0.self_attn.q_proj.weight"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("values")
    return make_tiny_checkpoint("sd15", folder / "sd15.safetensors"), save_cldm("sd15", folder / "cn.safetensors")


@pytest.fixture
def manager():
    return ModelManager("cpu", ram_budget=1 << 32)


@pytest.fixture
def clip(files, manager):
    return text_encoder_model(manager, files[0], detect_checkpoint_file(files[0]), [])


@pytest.fixture
def vae(files, manager):
    config = detect_checkpoint_file(files[0])
    return vae_model(manager, files[0], config.vae_prefix, config.vae)


def loom_encode(clip, text):
    with placed_clip(clip.handle.manager, clip) as encoder:
        return encoder.encode(encoder.tokenize(text))


def test_clip_tokenize_and_encode_equal_the_prompt_node_path(clip):
    cond, pooled = loom_encode(clip, "a (red:1.3) fox")
    tokens = clip.tokenize("a (red:1.3) fox")
    got_cond, got_pooled = clip.encode_from_tokens(tokens, return_pooled=True)
    assert torch.equal(got_cond, cond) and torch.equal(got_pooled, pooled)
    assert torch.equal(clip.encode_from_tokens(tokens), cond)
    assert set(clip.encode_from_tokens(tokens, return_dict=True)) == {"cond", "pooled_output"}
    [[scheduled, options]] = clip.encode_from_tokens_scheduled(tokens, add_dict={"strength": 0.5})
    assert torch.equal(scheduled, cond) and options["strength"] == 0.5 and torch.equal(options["pooled_output"], pooled)


def test_clip_clone_and_clip_layer_change_only_the_clone(clip):
    skipped = clip.clone()
    skipped.clip_layer(-2)
    assert clip.layer_idx is None and skipped.layer_idx == -2
    assert torch.equal(clip.encode("fox"), loom_encode(clip, "fox")[0])
    assert torch.equal(skipped.encode("fox"), loom_encode(clip.with_layer(-2), "fox")[0])
    assert not torch.equal(skipped.encode("fox"), clip.encode("fox"))


def test_clip_add_patches_with_comfyui_names_patch_loom_towers(clip):
    shapes = clip.handle.module_shapes()
    delta = torch.randn(shapes[f"towers.l.{Q_PROJ}"], generator=torch.Generator().manual_seed(2))
    patched = clip.clone()
    added = patched.add_patches({f"clip_l.transformer.text_model.{Q_PROJ}": (delta,),
                                 "clip_x.transformer.text_model.nothing.weight": (delta,)}, 0.5)
    assert added == [f"clip_l.transformer.text_model.{Q_PROJ}"] and clip.handle.patches == ()
    original = clip.handle.manager.load(clip.handle).state_dict()[f"towers.l.{Q_PROJ}"].clone()
    placed = patched.handle.manager.load(patched.handle).state_dict()[f"towers.l.{Q_PROJ}"]
    torch.testing.assert_close(placed, original + 0.5 * delta)
    assert not torch.equal(patched.encode("fox"), clip.encode("fox"))


def test_vae_methods_equal_the_vae_nodes(vae):
    pixels = torch.rand(1, 64, 64, 3, generator=torch.Generator().manual_seed(1))
    latent = vae.encode(pixels)
    assert torch.equal(latent, vae_encode(vae.handle.manager, vae, pixels))
    assert torch.equal(vae.decode(latent), vae_decode(vae.handle.manager, vae, latent))
    torch.testing.assert_close(vae.decode_tiled(latent, 4, 4, 2), vae_decode(vae.handle.manager, vae, latent, 4, 2,
                                                                               force_tiles=True))
    assert (vae.downscale_ratio, vae.upscale_ratio, vae.latent_channels) == (8, 8, 4)
    assert vae.spacial_compression_encode() == 8 and vae.vae_dtype == torch.float32
    assert isinstance(vae.first_stage_model, torch.nn.Module)


def run(model, latent, positive, negative):
    manager = model.handle.manager
    with manager.use(model.handle) as unet:
        view = sampling_model(model, unet)
        with controls_bound(manager, model, view, latent, positive, negative) as (p, n):
            return sample(view, 3, 2, 4.0, "euler", "normal", p, n, latent)["samples"]


def test_controlnet_applied_the_comfyui_way_equals_loom_apply(files, manager):
    model = tiny_model(files[0], manager)
    net = load_controlnet(manager, files[1])
    image = torch.rand(1, 64, 64, 3, generator=torch.Generator().manual_seed(4))
    gen = torch.Generator().manual_seed(5)
    positive, negative = ([[torch.randn(1, 5, 32, generator=gen), {}]] for _ in range(2))
    latent = {"samples": torch.zeros(1, 4, 8, 8)}

    applied = net.copy().set_cond_hint(image.movedim(-1, 1), 0.7, (0.0, 0.8))
    applied.set_previous_controlnet(None)
    pack_way = run(model, latent, [[c, {**o, "control": applied}] for c, o in positive],
                   [[c, {**o, "control": applied}] for c, o in negative])
    loom_way = run(model, latent, *attach_control("ControlNetApplyAdvanced", net, image, 0.7, 0.0, 0.8,
                                                  [positive, negative]))
    assert torch.equal(pack_way, loom_way)
    assert not torch.equal(pack_way, run(model, latent, positive, negative))
    assert net.fn is None and applied.strength == 0.7 and applied.timestep_percent_range == (0.0, 0.8)
