"""V1 nodes calling comfy.sd, nodes.VAEEncode, latent_preview and a KSAMPLER built from a function."""

import comfy.sample
import comfy.samplers
import comfy.sd
import folder_paths
import latent_preview

import nodes

from .sampler import sample_compat_pack_x0_jump


class ModelPackLoad:
    CATEGORY = "compat"
    RETURN_TYPES = ("MODEL", "CLIP", "VAE")
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"ckpt_name": (folder_paths.get_filename_list("checkpoints"),)}}

    def load(self, ckpt_name):
        path = folder_paths.get_full_path_or_raise("checkpoints", ckpt_name)
        return comfy.sd.load_checkpoint_guess_config(path)[:3]


class ModelPackEncode:
    CATEGORY = "compat"
    RETURN_TYPES = ("LATENT",)
    FUNCTION = "encode"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"vae": ("VAE",), "pixels": ("IMAGE",)}}

    def encode(self, vae, pixels):
        return nodes.VAEEncode().encode(vae, pixels)


class ModelPackPreview:
    """Walks two fake steps through latent_preview's callback (progress with a preview each)."""

    CATEGORY = "compat"
    RETURN_TYPES = ("LATENT",)
    FUNCTION = "preview"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL",), "samples": ("LATENT",)}}

    def preview(self, model, samples):
        callback = latent_preview.prepare_callback(model, 2)
        x0 = samples["samples"]
        for step in range(2):
            callback(step, x0, x0, 2)
        return (samples,)


class ModelPackCustomSample:
    """SamplerCustom the way packs write it: a KSAMPLER from a function, run by comfy.sample.sample_custom."""

    CATEGORY = "compat"
    RETURN_TYPES = ("LATENT",)
    FUNCTION = "sample"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL",), "positive": ("CONDITIONING",), "negative": ("CONDITIONING",),
                             "latent": ("LATENT",), "seed": ("INT", {"default": 0}), "cfg": ("FLOAT", {"default": 1.0})}}

    def sample(self, model, positive, negative, latent, seed, cfg):
        sampler = comfy.samplers.KSAMPLER(sample_compat_pack_x0_jump)
        sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "normal", 1)
        noise = comfy.sample.prepare_noise(latent["samples"], seed)
        samples = comfy.sample.sample_custom(model, noise, cfg, sampler, sigmas, positive, negative,
                                             latent["samples"], seed=seed)
        return ({**latent, "samples": samples},)


NODE_CLASS_MAPPINGS = {"ModelPackLoad": ModelPackLoad, "ModelPackEncode": ModelPackEncode,
                       "ModelPackPreview": ModelPackPreview, "ModelPackCustomSample": ModelPackCustomSample}


class ModelPackLoadClip:
    CATEGORY = "compat"
    RETURN_TYPES = ("CLIP",)
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"clip_name": (folder_paths.get_filename_list("text_encoders"),)}}

    def load(self, clip_name):
        return (comfy.sd.load_clip([folder_paths.get_full_path_or_raise("text_encoders", clip_name)]),)


NODE_CLASS_MAPPINGS["ModelPackLoadClip"] = ModelPackLoadClip
