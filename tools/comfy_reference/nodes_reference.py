"""Runs ComfyUI's own non-model nodes (image, mask, latent, compositing, morphology, post-processing,
rebatch, strings) on small fixed inputs and writes what they return, as the oracle of
tests/nodes/test_node_parity.py:

    /work/ref/comfy_venv/bin/python tools/comfy_reference/nodes_reference.py /path/to/ComfyUI tests/nodes/data

Writes comfy_node_cases.json (each case: node, inputs, expected outputs) and comfy_node_arrays.npz (the
tensors they name; an output node's ui data stands in for its outputs). A value is spelled {"t": key} for a tensor, {"latent": {...}} for a LATENT dict,
{"list": [...]} for a list, {"node": name, "inputs": {...}} for the first output of another node (a
LATENT_OPERATION), {"esrgan": seed} for the tiny upscale model of tests/fixtures/esrgan.py, or plain JSON.
Image files for LoadImage/LoadImageMask are written to <out>/images. "tiled" holds ComfyUI's tiled upscaling (comfy.utils.tiled_scale) of that model with small tiles.
"""

import asyncio
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]


class Arrays:
    """Named float32 arrays, written once at the end."""

    def __init__(self):
        self.values: dict[str, np.ndarray] = {}

    def put(self, key: str, tensor: torch.Tensor) -> dict:
        self.values[key] = tensor.detach().cpu().float().numpy().copy()
        return {"t": key}

    def get(self, key: str) -> torch.Tensor:
        return torch.from_numpy(self.values[key].copy())


def make_inputs(arrays: Arrays) -> None:
    """The fixed inputs every case draws from (seeded, small)."""
    g = torch.Generator().manual_seed(20240605)
    arrays.put("image_a", torch.rand(2, 8, 10, 3, generator=g))
    arrays.put("image_b", torch.rand(1, 6, 7, 3, generator=g))
    arrays.put("image_c", torch.rand(2, 8, 10, 3, generator=g))
    arrays.put("image_rgba", torch.rand(2, 8, 10, 4, generator=g))
    arrays.put("image_binary", torch.randint(0, 2, (1, 6, 7, 3), generator=g).float())
    arrays.put("image_big", torch.rand(1, 12, 12, 3, generator=g))
    arrays.put("mask_a", torch.rand(2, 8, 10, generator=g))
    arrays.put("mask_b", torch.rand(1, 4, 5, generator=g))
    arrays.put("mask_c", torch.rand(2, 8, 10, generator=g))
    arrays.put("mask_round", torch.randint(0, 2, (1, 8, 10), generator=g).float())
    arrays.put("latent_a", torch.randn(2, 4, 6, 5, generator=g))
    arrays.put("latent_b", torch.randn(1, 4, 4, 4, generator=g))
    arrays.put("latent_c", torch.randn(1, 4, 6, 5, generator=g))
    arrays.put("latent_d", torch.randn(1, 4, 6, 5, generator=g))
    arrays.put("latent_big", torch.randn(1, 4, 16, 16, generator=g))
    arrays.put("latent_mask", torch.rand(2, 1, 48, 40, generator=g))
    arrays.put("image_upscale", torch.rand(2, 12, 10, 3, generator=g))
    arrays.put("image_tiles", torch.rand(1, 3, 21, 18, generator=g))
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, 24), torch.linspace(-1, 1, 20), indexing="ij")
    disc = ((xs * xs + ys * ys) < 0.5).float()
    arrays.put("image_smooth", torch.stack([disc, (xs + 1) / 2 * disc, 1 - disc], dim=-1)[None])


T = {name: {"t": name} for name in ("image_a", "image_b", "image_c", "image_rgba", "image_binary", "image_big",
                                     "mask_a", "mask_b", "mask_c", "mask_round", "latent_a", "latent_b",
                                     "latent_c", "latent_d", "latent_big", "latent_mask", "image_smooth")}


def lat(name: str, **extra) -> dict:
    return {"latent": {"samples": T[name], **extra}}


def cases() -> list[tuple[str, str, dict]]:
    """(case id, node, inputs)."""
    a, b, c, rgba = T["image_a"], T["image_b"], T["image_c"], T["image_rgba"]
    out = [
        ("crop", "ImageCrop", {"image": a, "width": 5, "height": 4, "x": 2, "y": 3}),
        ("crop_past_edge", "ImageCrop", {"image": a, "width": 50, "height": 4, "x": 20, "y": 3}),
        ("flip_x", "ImageFlip", {"image": a, "flip_method": "x-axis: vertically"}),
        ("flip_y", "ImageFlip", {"image": a, "flip_method": "y-axis: horizontally"}),
        ("from_batch", "ImageFromBatch", {"image": a, "batch_index": 1, "length": 3}),
        ("repeat", "RepeatImageBatch", {"image": b, "amount": 3}),
        ("add_noise", "ImageAddNoise", {"image": a, "seed": 7, "strength": 0.3}),
        ("size", "GetImageSize", {"image": a}),
        ("max_dim_bilinear", "ImageScaleToMaxDimension", {"image": a, "upscale_method": "bilinear", "largest_size": 13}),
        ("max_dim_area", "ImageScaleToMaxDimension", {"image": b, "upscale_method": "area", "largest_size": 5}),
        ("stitch_right", "ImageStitch", {"image1": a, "direction": "right", "match_image_size": True,
                                         "spacing_width": 0, "spacing_color": "white", "image2": b}),
        ("stitch_down_padded", "ImageStitch", {"image1": a, "direction": "down", "match_image_size": False,
                                               "spacing_width": 3, "spacing_color": "red", "image2": b}),
        ("stitch_left_rgba", "ImageStitch", {"image1": rgba, "direction": "left", "match_image_size": False,
                                             "spacing_width": 2, "spacing_color": "black", "image2": c}),
        ("resize_pad_white", "ResizeAndPadImage", {"image": a, "target_width": 16, "target_height": 16,
                                                   "padding_color": "white", "interpolation": "bilinear"}),
        ("resize_pad_lanczos", "ResizeAndPadImage", {"image": b, "target_width": 9, "target_height": 20,
                                                     "padding_color": "black", "interpolation": "lanczos"}),
        ("empty", "EmptyImage", {"width": 5, "height": 3, "batch_size": 2, "color": 0x123456}),
        ("pad_outpaint", "ImagePadForOutpaint", {"image": a, "left": 8, "top": 0, "right": 3, "bottom": 2,
                                                 "feathering": 3}),
        ("batch_resize", "ImageBatch", {"image1": a, "image2": b}),
        ("invert", "ImageInvert", {"image": a}),
        ("scale_to_total", "ImageScaleToTotalPixels", {"image": b, "upscale_method": "bilinear", "megapixels": 0.01}),
    ]
    for rotation in ("none", "90 degrees", "180 degrees", "270 degrees"):
        out.append((f"rotate_{rotation.split()[0]}", "ImageRotate", {"image": a, "rotation": rotation}))
    for method, crop, size in (("bicubic", "center", (9, 7)), ("lanczos", "disabled", (12, 0)),
                               ("area", "center", (4, 6)), ("nearest-exact", "disabled", (0, 5)),
                               ("bilinear", "center", (10, 8))):
        out.append((f"scale_{method}_{crop}", "ImageScale", {"image": a, "upscale_method": method, "width": size[0],
                                                              "height": size[1], "crop": crop}))
    out.append(("scale_by_bilinear", "ImageScaleBy", {"image": a, "upscale_method": "bilinear", "scale_by": 1.5}))
    out.append(("scale_by_lanczos", "ImageScaleBy", {"image": a, "upscale_method": "lanczos", "scale_by": 0.6}))
    out.append(("upscale_model", "ImageUpscaleWithModel", {"upscale_model": {"esrgan": 3},
                                                            "image": {"t": "image_upscale"}}))
    out += mask_cases() + compositing_cases() + filter_cases() + latent_cases() + batch_cases() + string_cases()
    return out


def mask_cases() -> list:
    a, m, mb, mr = T["image_a"], T["mask_a"], T["mask_b"], T["mask_round"]
    out = [
        ("to_mask_green", "ImageToMask", {"image": a, "channel": "green"}),
        ("color_to_mask", "ImageColorToMask", {"image": T["image_binary"], "color": 0xFF00FF}),
        ("mask_to_image", "MaskToImage", {"mask": m}),
        ("solid", "SolidMask", {"value": 0.3, "width": 4, "height": 3}),
        ("invert_mask", "InvertMask", {"mask": m}),
        ("crop_mask", "CropMask", {"mask": m, "x": 1, "y": 2, "width": 4, "height": 30}),
        ("feather", "FeatherMask", {"mask": m, "left": 2, "top": 1, "right": 3, "bottom": 2}),
        ("grow", "GrowMask", {"mask": mr, "expand": 2, "tapered_corners": True}),
        ("shrink_square", "GrowMask", {"mask": mr, "expand": -1, "tapered_corners": False}),
        ("threshold", "ThresholdMask", {"mask": m, "value": 0.4}),
        ("composite_image", "ImageCompositeMasked", {"destination": a, "source": T["image_b"], "x": 3, "y": 4,
                                                     "resize_source": False}),
        ("composite_image_masked", "ImageCompositeMasked", {"destination": a, "source": T["image_b"], "x": 1,
                                                            "y": 0, "resize_source": False, "mask": mb}),
        ("composite_image_resized", "ImageCompositeMasked", {"destination": a, "source": T["image_b"], "x": 0,
                                                             "y": 0, "resize_source": True, "mask": mb}),
        ("composite_image_alpha", "ImageCompositeMasked", {"destination": a, "source": T["image_rgba"], "x": 2,
                                                           "y": 2, "resize_source": False}),
        ("composite_latent", "LatentCompositeMasked", {"destination": lat("latent_a"), "source": lat("latent_b"),
                                                       "x": 8, "y": 16, "resize_source": False, "mask": mb}),
    ]
    for operation in ("multiply", "add", "subtract", "and", "or", "xor"):
        out.append((f"mask_{operation}", "MaskComposite", {"destination": m, "source": mb, "x": 2, "y": 1,
                                                           "operation": operation}))
    return out


def compositing_cases() -> list:
    modes = ("ADD", "CLEAR", "DARKEN", "DST", "DST_ATOP", "DST_IN", "DST_OUT", "DST_OVER", "LIGHTEN", "MULTIPLY",
             "OVERLAY", "SCREEN", "SRC", "SRC_ATOP", "SRC_IN", "SRC_OUT", "SRC_OVER", "XOR")
    out = [(f"porter_duff_{mode}", "PorterDuffImageComposite",
            {"source": T["image_a"], "source_alpha": T["mask_a"], "destination": T["image_c"],
             "destination_alpha": T["mask_c"], "mode": mode}) for mode in modes]
    out.append(("porter_duff_resized", "PorterDuffImageComposite",
                {"source": T["image_b"], "source_alpha": T["mask_b"], "destination": T["image_a"],
                 "destination_alpha": T["mask_b"], "mode": "SRC_OVER"}))
    out.append(("split_alpha", "SplitImageWithAlpha", {"image": T["image_rgba"]}))
    out.append(("split_no_alpha", "SplitImageWithAlpha", {"image": T["image_a"]}))
    out.append(("join_alpha", "JoinImageWithAlpha", {"image": T["image_a"], "alpha": T["mask_b"]}))
    return out


def filter_cases() -> list:
    a = T["image_a"]
    out = [(f"morph_{op}", "Morphology", {"image": a, "operation": op, "kernel_size": 3})
           for op in ("erode", "dilate", "open", "close", "gradient", "bottom_hat", "top_hat")]
    out.append(("morph_even_kernel", "Morphology", {"image": a, "operation": "dilate", "kernel_size": 4}))
    out.append(("rgb_to_yuv", "ImageRGBToYUV", {"image": a}))
    out.append(("yuv_to_rgb", "ImageYUVToRGB", {"Y": a, "U": T["image_c"], "V": T["image_a"]}))
    for mode in ("normal", "multiply", "screen", "overlay", "soft_light", "difference"):
        out.append((f"blend_{mode}", "ImageBlend", {"image1": a, "image2": T["image_c"], "blend_factor": 0.7,
                                                    "blend_mode": mode}))
    out.append(("blend_resized", "ImageBlend", {"image1": a, "image2": T["image_b"], "blend_factor": 0.4,
                                                "blend_mode": "overlay"}))
    out.append(("blur", "ImageBlur", {"image": a, "blur_radius": 2, "sigma": 1.5}))
    out.append(("sharpen", "ImageSharpen", {"image": a, "sharpen_radius": 1, "sigma": 1.0, "alpha": 0.5}))
    out.append(("canny", "Canny", {"image": T["image_smooth"], "low_threshold": 0.2, "high_threshold": 0.5}))
    out.append(("canny_noisy", "Canny", {"image": a, "low_threshold": 0.4, "high_threshold": 0.8}))
    for dither in ("none", "floyd-steinberg", "bayer-4"):
        out.append((f"quantize_{dither}", "ImageQuantize", {"image": T["image_big"], "colors": 4, "dither": dither}))
    return out


def latent_cases() -> list:
    la, lb, lc, ld = lat("latent_a"), lat("latent_b"), lat("latent_c"), lat("latent_d")
    sharpen = {"node": "LatentOperationSharpen", "inputs": {"sharpen_radius": 2, "sigma": 1.0, "alpha": 0.3}}
    tonemap = {"node": "LatentOperationTonemapReinhard", "inputs": {"multiplier": 0.8}}
    masked = lat("latent_a", noise_mask=T["latent_mask"], batch_index=[4, 7])
    return [
        ("latent_add", "LatentAdd", {"samples1": la, "samples2": lb}),
        ("latent_subtract", "LatentSubtract", {"samples1": la, "samples2": lc}),
        ("latent_multiply", "LatentMultiply", {"samples": la, "multiplier": -1.7}),
        ("latent_interpolate", "LatentInterpolate", {"samples1": lc, "samples2": ld, "ratio": 0.3}),
        ("latent_batch", "LatentBatch", {"samples1": la, "samples2": lb}),
        ("seed_fixed", "LatentBatchSeedBehavior", {"samples": masked, "seed_behavior": "fixed"}),
        ("seed_random", "LatentBatchSeedBehavior", {"samples": masked, "seed_behavior": "random"}),
        ("concat_x", "LatentConcat", {"samples1": la, "samples2": lc, "dim": "x"}),
        ("concat_minus_y", "LatentConcat", {"samples1": la, "samples2": lc, "dim": "-y"}),
        ("cut_x", "LatentCut", {"samples": la, "dim": "x", "index": -2, "amount": 3}),
        ("cut_y", "LatentCut", {"samples": la, "dim": "y", "index": 4, "amount": 5}),
        ("op_sharpen", "LatentApplyOperation", {"samples": la, "operation": sharpen}),
        ("op_tonemap", "LatentApplyOperation", {"samples": la, "operation": tonemap}),
        ("latent_crop", "LatentCrop", {"samples": lat("latent_big"), "width": 64, "height": 72, "x": 80, "y": 8}),
        ("latent_rotate", "LatentRotate", {"samples": la, "rotation": "90 degrees"}),
        ("latent_flip", "LatentFlip", {"samples": la, "flip_method": "y-axis: horizontally"}),
        ("latent_from_batch", "LatentFromBatch", {"samples": masked, "batch_index": 1, "length": 2}),
        ("repeat_latent", "RepeatLatentBatch", {"samples": masked, "amount": 2}),
        ("latent_blend", "LatentBlend", {"samples1": la, "samples2": lb, "blend_factor": 0.25}),
        ("latent_composite", "LatentComposite", {"samples_to": lat("latent_big"), "samples_from": lc, "x": 24,
                                                 "y": 16, "feather": 0}),
        ("latent_composite_feather", "LatentComposite", {"samples_to": lat("latent_big"), "samples_from": lc,
                                                         "x": 24, "y": 16, "feather": 16}),
        ("latent_upscale", "LatentUpscale", {"samples": la, "upscale_method": "bilinear", "width": 96,
                                             "height": 0, "crop": "disabled"}),
        ("latent_upscale_crop", "LatentUpscale", {"samples": la, "upscale_method": "nearest-exact", "width": 64,
                                                  "height": 80, "crop": "center"}),
        ("latent_upscale_bislerp", "LatentUpscale", {"samples": la, "upscale_method": "bislerp", "width": 72,
                                                     "height": 64, "crop": "disabled"}),
        ("latent_upscale_by", "LatentUpscaleBy", {"samples": la, "upscale_method": "bicubic", "scale_by": 1.5}),
        ("latent_upscale_by_area", "LatentUpscaleBy", {"samples": la, "upscale_method": "area", "scale_by": 0.5}),
    ]


def batch_cases() -> list:
    masked = lat("latent_a", noise_mask=T["latent_mask"])
    return [
        ("rebatch_images", "RebatchImages", {"images": {"list": [T["image_a"], T["image_c"], T["image_a"]]},
                                             "batch_size": {"list": [4]}}),
        ("rebatch_latents", "RebatchLatents", {"latents": {"list": [masked, lat("latent_c"), lat("latent_b")]},
                                               "batch_size": {"list": [2]}}),
    ]


def string_cases() -> list:
    text = "  Hello World, hello Loom  "
    out = [
        ("concat", "StringConcatenate", {"string_a": "ab", "string_b": "cd", "delimiter": ", "}),
        ("substring", "StringSubstring", {"string": text, "start": 2, "end": -3}),
        ("length", "StringLength", {"string": text}),
        ("replace", "StringReplace", {"string": text, "find": "l", "replace": "L"}),
        ("contains", "StringContains", {"string": text, "substring": "WORLD", "case_sensitive": False}),
        ("compare", "StringCompare", {"string_a": "Hello", "string_b": "he", "mode": "Starts With",
                                      "case_sensitive": False}),
        ("regex_match", "RegexMatch", {"string": text, "regex_pattern": "w.r", "case_insensitive": True,
                                       "multiline": False, "dotall": False}),
        ("regex_bad", "RegexMatch", {"string": text, "regex_pattern": "(", "case_insensitive": True,
                                     "multiline": False, "dotall": False}),
        ("regex_replace", "RegexReplace", {"string": text, "regex_pattern": r"(h)ello", "replace": r"\1i",
                                           "case_insensitive": True, "multiline": False, "dotall": False,
                                           "count": 1}),
    ]
    for index, value in enumerate(("text", 3, 2.5, True, [1, "a", None], {"k": [1.5]})):
        out.append((f"preview_any_{index}", "PreviewAny", {"source": value}))
    for mode in ("UPPERCASE", "lowercase", "Capitalize", "Title Case"):
        out.append((f"case_{mode}", "CaseConverter", {"string": "hello wORLD", "mode": mode}))
    for mode in ("Both", "Left", "Right"):
        out.append((f"trim_{mode}", "StringTrim", {"string": text, "mode": mode}))
    for mode in ("First Match", "All Matches", "First Group", "All Groups"):
        out.append((f"extract_{mode}", "RegexExtract", {"string": text, "regex_pattern": r"(h)(e)llo", "mode": mode,
                                                        "case_insensitive": True, "multiline": False,
                                                        "dotall": False, "group_index": 2}))
    return out


def esrgan(seed: int):
    """The tiny ESRGAN of tests/fixtures/esrgan.py, loaded by spandrel."""
    import importlib.util

    from spandrel import ModelLoader

    spec = importlib.util.spec_from_file_location("esrgan_fixture", REPO / "tests" / "fixtures" / "esrgan.py")
    fixture = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fixture)  # by path: ComfyUI's checkout has a `tests` package of its own
    return ModelLoader().load_from_state_dict(fixture.esrgan_state_dict(seed)).eval()


def write_images(folder: Path) -> list[str]:
    """Small image files in the formats LoadImage meets (RGB, RGBA, palette with transparency, grey, a
    two-frame GIF), written deterministically; the test loads the same files. (No 16-bit grey: ComfyUI
    saturates it to white, Loom keeps its range.)"""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(11)
    rgba = (torch.rand(5, 6, 4, generator=g) * 255).to(torch.uint8).numpy()
    Image.fromarray(rgba[..., :3]).save(folder / "rgb.png")
    Image.fromarray(rgba).save(folder / "rgba.png")
    palette = Image.fromarray(rgba[..., :3]).quantize(colors=4)
    palette.info["transparency"] = 1
    palette.save(folder / "palette.png", transparency=1)
    Image.fromarray(rgba[..., 0]).save(folder / "grey.png")
    frames = [Image.fromarray(rgba[..., :3]), Image.fromarray(255 - rgba[..., :3])]
    frames[0].save(folder / "two.gif", save_all=True, append_images=frames[1:])
    return ["rgb.png", "rgba.png", "palette.png", "grey.png", "two.gif"]


def image_file_cases(names: list[str]) -> list:
    out = [(f"load_{name}", "LoadImage", {"image": name}) for name in names]
    for channel in ("alpha", "red"):
        out += [(f"load_mask_{channel}_{name}", "LoadImageMask", {"image": name, "channel": channel})
                for name in ("rgba.png", "palette.png", "grey.png")]
    return out


def decode(value, arrays: Arrays, call):
    """A case's input spelling -> the Python value."""
    if isinstance(value, dict) and "esrgan" in value:
        return esrgan(value["esrgan"])
    if isinstance(value, dict) and "t" in value:
        return arrays.get(value["t"])
    if isinstance(value, dict) and "latent" in value:
        return {k: decode(v, arrays, call) for k, v in value["latent"].items()}
    if isinstance(value, dict) and "list" in value:
        return [decode(v, arrays, call) for v in value["list"]]
    if isinstance(value, dict) and "node" in value:
        return call(value["node"], {k: decode(v, arrays, call) for k, v in value["inputs"].items()})[0]
    return value


def encode(value, key: str, arrays: Arrays):
    """A node's output -> its spelling, tensors stored under `key`."""
    if isinstance(value, torch.Tensor):
        return arrays.put(key, value)
    if isinstance(value, dict):
        return {"latent": {k: encode(v, f"{key}.{k}", arrays) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        return {"list": [encode(v, f"{key}.{i}", arrays) for i, v in enumerate(value)]}
    return value


def comfy_caller(checkout: str):
    """call(node_name, inputs) -> output tuple, through ComfyUI's own classes."""
    os.chdir(checkout)
    sys.path.insert(0, checkout)
    sys.argv = [sys.argv[0], "--cpu"]
    import comfy.options

    comfy.options.enable_args_parsing()
    import utils.install_util  # noqa: F401 - before `nodes`, whose imports put another `utils` on the path

    import nodes

    asyncio.run(nodes.init_extra_nodes(init_custom_nodes=False, init_api_nodes=False))

    def call(name: str, inputs: dict):
        cls = nodes.NODE_CLASS_MAPPINGS[name]
        if hasattr(cls, "FUNCTION") and hasattr(cls, cls.FUNCTION):
            result = getattr(cls(), cls.FUNCTION)(**inputs)
            if isinstance(result, dict):  # an output node: its ui data stands in for the outputs
                return result.get("result") or (result.get("ui"),)
            return result
        return cls.execute(**inputs).args

    return call


def save_png(call, arrays: Arrays, out_dir: Path) -> None:
    """ComfyUI's SaveImage of image_a[0] (no metadata) as <out>/images/saved_by_comfyui.png: the pixels Loom's
    SaveImage must write byte for byte; and image_a as animated WebP and PNG (animated_by_comfyui.*)."""
    import folder_paths

    folder_paths.set_output_directory(str(out_dir / "images"))
    image = arrays.get("image_a")[:1]
    image[0, 0, :4, 0] = torch.tensor([63.9 / 255, 64.2 / 255, -0.1, 1.2])  # truncation and clipping cases
    arrays.put("image_saved", image)
    call("SaveImage", {"images": image, "filename_prefix": "saved_by_comfyui"})
    written = out_dir / "images" / "saved_by_comfyui_00001_.png"
    written.replace(out_dir / "images" / "saved_by_comfyui.png")
    frames = arrays.get("image_a")
    call("SaveAnimatedWEBP", {"images": frames, "filename_prefix": "anim_webp", "fps": 7.0, "lossless": True,
                              "quality": 80, "method": "default"})
    call("SaveAnimatedPNG", {"images": frames, "filename_prefix": "anim_png", "fps": 7.0, "compress_level": 4})
    for extension in ("webp", "png"):
        (out_dir / "images" / f"anim_{extension}_00001_.{extension}").replace(out_dir / "images" / f"animated_by_comfyui.{extension}")


def save_video(call, arrays: Arrays, out_dir: Path) -> None:
    """ComfyUI's CreateVideo + VIDEO.save_to (what SaveVideo calls) on 3 smooth 16x16 frames at 12 fps,
    without metadata, as <out>/images/video_by_comfyui.mp4, and that file as LoadVideo decodes it."""
    ramp = torch.linspace(0, 1, 16)
    frames = torch.stack([ramp[None, :].expand(16, 16), ramp[:, None].expand(16, 16), torch.full((16, 16), 0.5)], -1)
    frames = torch.stack([frames, frames.flip(0), frames.flip(1)])
    arrays.put("video_frames", frames)
    (video,) = call("CreateVideo", {"images": frames, "fps": 12.0})
    path = out_dir / "images" / "video_by_comfyui.mp4"
    video.save_to(str(path))
    (loaded,) = call("LoadVideo", {"file": path.name})
    images, _, fps = call("GetVideoComponents", {"video": loaded})
    arrays.put("video_decoded", images)
    assert fps == 12.0


def main(checkout: str, out_dir: Path) -> None:
    call = comfy_caller(checkout)
    torch.set_num_threads(1)
    arrays = Arrays()
    make_inputs(arrays)
    written = []
    import folder_paths

    images = out_dir / "images"
    folder_paths.set_input_directory(str(images))
    for case_id, name, inputs in cases() + image_file_cases(write_images(images)):
        outputs = call(name, {k: decode(v, arrays, call) for k, v in inputs.items()})
        written.append({"id": case_id, "node": name, "inputs": inputs,
                        "outputs": [encode(v, f"{case_id}.out{i}", arrays) for i, v in enumerate(outputs)]})
    import comfy.utils

    model = esrgan(5)
    tiles = [{"tile": tile, "overlap": overlap, "seed": 5, "image": {"t": "image_tiles"},
              "output": arrays.put(f"tiled_{tile}_{overlap}", comfy.utils.tiled_scale(
                  arrays.get("image_tiles"), model, tile_x=tile, tile_y=tile, overlap=overlap, upscale_amount=2))}
             for tile, overlap in ((8, 2), (10, 3))]
    out_dir.mkdir(parents=True, exist_ok=True)
    save_png(call, arrays, out_dir)
    save_video(call, arrays, out_dir)
    np.savez_compressed(out_dir / "comfy_node_arrays.npz", **arrays.values)
    header = {"source": "ComfyUI 0.3.64 run by tools/comfy_reference/nodes_reference.py", "cases": written,
              "tiled": tiles}
    (out_dir / "comfy_node_cases.json").write_text(json.dumps(header, indent=1) + "\n")
    print(f"{len(written)} cases, {len(arrays.values)} arrays")


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]).resolve())
