"""The sampler shares the positive prompt's GLIGEN with the negative (as ComfyUI does), so both halves of
CFG run the same fusers; a negative with its own GLIGEN, or one limited to an area, is left alone."""

import torch

from engine.sampling.gligen_conds import share_gligen_with_negative

GLIGEN = ("position", object(), [])
OTHER = ("position", object(), [])


def _entry(**options):
    return [torch.zeros(1, 77, 8), options]


def test_negative_borrows_the_positive_gligen():
    conds = {"positive": [_entry(gligen=GLIGEN)], "negative": [_entry(strength=1.0)]}
    shared = share_gligen_with_negative(conds)
    assert shared["negative"][0][1] == {"strength": 1.0, "gligen": GLIGEN}
    assert "gligen" not in conds["negative"][0][1]


def test_negative_with_its_own_gligen_or_an_area_keeps_what_it_has():
    own = {"positive": [_entry(gligen=GLIGEN)], "negative": [_entry(gligen=OTHER)]}
    assert share_gligen_with_negative(own)["negative"][0][1]["gligen"] is OTHER
    area = {"positive": [_entry(gligen=GLIGEN)], "negative": [_entry(area=(8, 8, 0, 0))]}
    assert "gligen" not in share_gligen_with_negative(area)["negative"][0][1]


def test_positives_without_gligen_change_nothing():
    conds = {"positive": [_entry()], "negative": [_entry()]}
    assert share_gligen_with_negative(conds) is conds
