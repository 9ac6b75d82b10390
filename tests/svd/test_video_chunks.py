"""Memory bounds that must not change results: temporal blocks in chunks of positions, and decode chunk
sizes chosen from free memory."""

import torch

from engine.models.video_unet import VideoTransformerBlock
from engine.models.video_vae import decode_chunk_frames


def test_temporal_block_in_small_chunks_equals_one_pass():
    torch.manual_seed(0)
    block = VideoTransformerBlock(32, 1, 32, context_dim=16).eval()
    frames, positions = 5, 24
    x = torch.randn(2 * frames, positions, 32)
    context = torch.randn(2, 1, 16)
    with torch.no_grad():
        whole = block(x, context, frames)
        chunked = block(x, context, frames, chunk_bytes=frames * 32 * 8 * 4 * 7)  # 7 positions a chunk
    torch.testing.assert_close(chunked, whole, atol=1e-5, rtol=1e-5)


def test_temporal_block_mixes_frames_but_not_positions():
    torch.manual_seed(1)
    block = VideoTransformerBlock(32, 1, 32, context_dim=None).eval()
    x = torch.randn(4, 6, 32)
    changed = x.clone()
    changed[2, 3] += 1.0  # frame 2, position 3
    with torch.no_grad():
        diff = (block(changed, None, 4) - block(x, None, 4)).abs().sum(-1)
    assert (diff[:, 3] > 0).all()
    assert torch.count_nonzero(diff[:, [0, 1, 2, 4, 5]]) == 0


def test_decode_chunk_follows_free_memory():
    shape = torch.Size([14, 4, 72, 128])  # 14 frames at 576x1024
    assert decode_chunk_frames(shape, 8, None) == 14
    assert decode_chunk_frames(shape, 8, 1) == 1
    small, large = decode_chunk_frames(shape, 8, 8 << 30), decode_chunk_frames(shape, 8, 40 << 30)
    assert 1 <= small < large <= 14
