"""Default conditioning (Cond Set Default Combine) fills exactly the area the other conditioning of its side
leaves uncovered, and is left out where that conditioning covers everything."""

import torch

from nodes.conditioning_props import ConditioningSetDefaultCombine, ConditioningSetProperties
from tests.hooks.test_hooked_lora import _conds, _x0


def _masked(cond, mask):
    return ConditioningSetProperties(cond_NEW=cond, strength=1.0, set_cond_area="default", mask=mask).run(None)[0]


def test_default_cond_weighs_the_uncovered_area_like_the_complementary_mask(env):
    model, _, _ = env.checkpoint("sd15")
    left, right = _conds()
    mask = torch.zeros(1, 8, 8)
    mask[..., :3] = 1.0
    (with_default,) = ConditioningSetDefaultCombine(cond=_masked(left, mask), cond_DEFAULT=right).run(None)
    explicit = _masked(left, mask) + _masked(right, 1.0 - mask)

    _, got = _x0(env, model, with_default, left, 2.0)
    _, expected = _x0(env, model, explicit, left, 2.0)
    _, left_only = _x0(env, model, _masked(left, mask), left, 2.0)

    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    assert (got - left_only).abs().max() > 1e-3


def test_default_cond_is_unused_where_the_side_is_fully_covered(env):
    model, _, _ = env.checkpoint("sd15")
    left, right = _conds()
    (with_default,) = ConditioningSetDefaultCombine(cond=left, cond_DEFAULT=right).run(None)
    torch.testing.assert_close(_x0(env, model, with_default, right, 2.0)[1], _x0(env, model, left, right, 2.0)[1],
                               rtol=1e-6, atol=1e-6)
