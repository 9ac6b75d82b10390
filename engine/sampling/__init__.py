"""Sampling: noise schedules, samplers, classifier-free guidance and the KSampler entry point (pure torch)."""

from engine.sampling.ksampler import prepare_noise, sample
from engine.sampling.samplers import SAMPLERS
from engine.sampling.schedules import SCHEDULERS

__all__ = ["SAMPLERS", "SCHEDULERS", "prepare_noise", "sample"]
