"""Regional and batched calls through the stand-alone diffusers inpainter (random-weight tiny SD inpainting)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers.models.attention_processor import Attention, AttnProcessor2_0
from PIL import Image

from alien_filters.core.call_groups import InpaintCall, own_call
from alien_filters.core.contracts import InpaintJob
from alien_filters.core.settings import InpaintSettings
from alien_filters.stages.batched_inpaint import paste_call, run_batch
from alien_filters.stages.inpaint_diffusers import DiffusersInpainter
from alien_filters.stages.regional_attention import TEXT_TOKENS, RegionalAttnProcessor, RegionWeights
from tests.support.builders_diffusion import write_tiny_inpaint_checkpoint
from tests.support.torch_threads import one_torch_thread  # noqa: F401 (autouse fixture)

pytestmark = pytest.mark.filterwarnings("ignore")
SETTINGS = InpaintSettings(denoising_strength=0.75, steps=4, cfg_scale=7.0, mask_feather=3)
SHAPE = (96, 128)


@pytest.fixture(scope="module")
def inpainter(tmp_path_factory: pytest.TempPathFactory) -> DiffusersInpainter:
    return DiffusersInpainter(write_tiny_inpaint_checkpoint(tmp_path_factory.mktemp("sd")))


@pytest.fixture(scope="module")
def room() -> Image.Image:
    return Image.fromarray(np.random.default_rng(7).integers(0, 256, (*SHAPE, 3), dtype=np.uint8))


def _job(index: int, rect: tuple[int, int, int, int], prompt: str, seed: int, pad: int = 8) -> InpaintJob:
    y0, y1, x0, x1 = rect
    mask = np.zeros(SHAPE, dtype=bool)
    mask[y0:y1, x0:x1] = True
    box = (max(0, x0 - pad), max(0, y0 - pad), min(SHAPE[1], x1 + pad), min(SHAPE[0], y1 + pad))
    return InpaintJob(index=index, rule=f"r{index}", classes=("bed",), mask=mask, prompt=prompt,
                      negative_prompt="blurry", settings=SETTINGS, seed=seed, box=box)


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def test_one_region_equals_todays_call(inpainter: DiffusersInpainter, room: Image.Image):
    job = _job(0, (10, 40, 10, 50), "an alien bed", seed=1)
    today = inpainter.inpaint(room, job)
    call = own_call(job, room.size, inpainter.model_size())
    [generated] = run_batch(inpainter.pipeline, [room], [call], "cpu")
    assert np.abs(_pixels(paste_call(room, generated, call)) - _pixels(today)).max() <= 1


def test_regions_with_one_prompt_equal_one_region(inpainter: DiffusersInpainter, room: Image.Image):
    job = _job(0, (10, 40, 10, 50), "an alien bed", seed=1)
    left, right = job.mask.copy(), job.mask.copy()
    left[:, 30:], right[:, :30] = False, False
    halves = (InpaintJob(**{**vars(job), "mask": left}), InpaintJob(**{**vars(job), "index": 1, "mask": right}))
    whole = own_call(job, room.size, inpainter.model_size())
    [one] = run_batch(inpainter.pipeline, [room], [whole], "cpu")
    [two] = run_batch(inpainter.pipeline, [room], [InpaintCall(halves, whole.box, whole.size)], "cpu")
    assert np.abs(_pixels(one) - _pixels(two)).max() <= 1


def test_each_region_attends_only_to_its_own_prompt():
    torch.manual_seed(0)
    attn = Attention(query_dim=16, cross_attention_dim=12, heads=2, dim_head=8)
    hidden = torch.randn(2, 4 * 6, 16)  # two items (guidance halves), a 4x6 feature map
    texts = torch.randn(2, 2 * TEXT_TOKENS, 12)
    masks = torch.zeros(1, 2, 4, 6)
    masks[0, 0, :, :2], masks[0, 1, :, 4:] = 1.0, 1.0  # region 0 left, region 1 right, the middle is neither
    out = RegionalAttnProcessor(AttnProcessor2_0(), RegionWeights(masks, torch.ones(1, 2)))(attn, hidden, texts)
    plain = [AttnProcessor2_0()(attn, hidden, texts[:, r * TEXT_TOKENS:(r + 1) * TEXT_TOKENS]) for r in (0, 1)]
    grid = out.view(2, 4, 6, 16)
    plain_grid = [p.view(2, 4, 6, 16) for p in plain]
    torch.testing.assert_close(grid[:, :, :2], plain_grid[0][:, :, :2], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grid[:, :, 4:], plain_grid[1][:, :, 4:], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grid[:, :, 2:4], (plain_grid[0][:, :, 2:4] + plain_grid[1][:, :, 2:4]) / 2,
                               rtol=1e-5, atol=1e-6)  # the shared context: the regions' mean
    # self-attention is the UNet's own
    torch.testing.assert_close(RegionalAttnProcessor(AttnProcessor2_0(), RegionWeights(masks, torch.ones(1, 2)))(
        attn := Attention(query_dim=16, heads=2, dim_head=8), hidden), AttnProcessor2_0()(attn, hidden))


def test_region_weights_follow_the_unets_levels():
    masks = torch.zeros(1, 2, 7, 9)
    masks[0, 0, :, :4] = 1.0
    weights = RegionWeights(masks, torch.tensor([[1.0, 1.0]]))
    for tokens in (63, 4 * 5, 2 * 3, 1):
        w = weights.for_tokens(tokens)
        assert w.shape == (1, 2, tokens) and torch.allclose(w.sum(dim=1), torch.ones(1, tokens))
    with pytest.raises(ValueError, match="pixels"):
        weights.for_tokens(50)


def test_a_batch_equals_its_calls_one_by_one(inpainter: DiffusersInpainter, room: Image.Image):
    a = _job(0, (10, 40, 10, 50), "an alien bed", seed=1)
    b = _job(1, (50, 80, 70, 110), "a lamp of bones", seed=2)
    c = InpaintJob(**{**vars(_job(2, (12, 40, 60, 100), "a window", seed=3)), "mask": a.mask & False})
    c_mask = np.zeros(SHAPE, dtype=bool)
    c_mask[50:80, 10:50] = True
    regional = InpaintCall((b, InpaintJob(**{**vars(c), "mask": c_mask})), (2, 42, 118, 88), (64, 24))
    calls = [own_call(a, room.size, inpainter.model_size()), own_call(b, room.size, inpainter.model_size())]
    assert calls[0].size == calls[1].size
    pipe = inpainter.pipeline
    alone = [run_batch(pipe, [room], [call], "cpu")[0] for call in calls]
    together = run_batch(pipe, [room] * len(calls), calls, "cpu")
    for one, batched in zip(alone, together, strict=True):
        assert np.abs(_pixels(one) - _pixels(batched)).max() <= 2
    # a regional call (2 regions) batched with a one-region call of the same size: padding slots weigh nothing
    lone = own_call(_job(3, (8, 30, 4, 124), "a rug", seed=4, pad=0), room.size, inpainter.model_size())
    lone = InpaintCall(lone.jobs, (2, 2, 118, 48), (64, 24))
    mixed = run_batch(pipe, [room] * 2, [regional, lone], "cpu")
    for call, batched in zip((regional, lone), mixed, strict=True):
        assert np.abs(_pixels(run_batch(pipe, [room], [call], "cpu")[0]) - _pixels(batched)).max() <= 2


def test_images_inpainted_together_equal_each_alone(inpainter: DiffusersInpainter, room: Image.Image):
    other = Image.fromarray(np.random.default_rng(8).integers(0, 256, (*SHAPE, 3), dtype=np.uint8))
    side = inpainter.model_size()
    a = _job(0, (10, 40, 10, 50), "an alien bed", seed=1)
    b = _job(1, (50, 80, 70, 110), "a lamp of bones", seed=2)
    c = _job(0, (50, 80, 70, 110), "a window onto the lake", seed=5)
    calls = [[own_call(a, room.size, side), own_call(b, room.size, side)], [own_call(c, other.size, side)]]
    seen: list[list[int]] = []
    together = inpainter.inpaint_images([room, other], calls, 4,
                                        lambda batch: seen.append([number for number, _ in batch]))
    assert seen == [[0, 0, 1]]  # one pipeline batch for both images
    alone = [inpainter.inpaint_images([image], [own], 4, lambda _: None)[0]
             for image, own in zip([room, other], calls, strict=True)]
    for (image, infotexts), (image_alone, infotexts_alone) in zip(together, alone, strict=True):
        assert np.abs(_pixels(image) - _pixels(image_alone)).max() <= 2
        assert infotexts == infotexts_alone
    assert not np.array_equal(_pixels(together[1][0]), _pixels(other))


def test_calls_keep_every_pixel_outside_their_masks(inpainter: DiffusersInpainter, room: Image.Image):
    a = _job(0, (10, 40, 10, 50), "an alien bed", seed=1)
    b = _job(1, (30, 60, 40, 90), "a lamp of bones", seed=2)
    b = InpaintJob(**{**vars(b), "mask": b.mask & ~a.mask})
    call = InpaintCall((a, b), (2, 2, 98, 68), (64, 48))
    seen: list[int] = []
    [(result, infotexts)] = inpainter.inpaint_images([room], [[call]], 4, lambda batch: seen.append(len(batch)))
    outside = ~(a.mask | b.mask)
    assert np.array_equal(_pixels(result)[outside], _pixels(room)[outside])
    assert not np.array_equal(_pixels(result)[a.mask], _pixels(room)[a.mask])
    assert seen == [1] and set(infotexts) == {0, 1}
    assert "Seed: 1" in infotexts[1] and "Size: 64x48" in infotexts[1]  # the call's seed and size
    assert infotexts[0].endswith("Alien Filters call: r0+r1")


def test_a_weaker_region_is_held_at_its_noised_image_until_its_own_start(inpainter: DiffusersInpainter,
                                                                         room: Image.Image):
    from diffusers import DDIMScheduler

    from alien_filters.stages.batched_inpaint import call_crop, region_masks
    from alien_filters.stages.staggered_start import StaggeredStarts

    strong = InpaintJob(**{**vars(_job(0, (8, 88, 8, 64), "a bed", seed=1)),
                           "settings": SETTINGS.merged({"denoising_strength": 1.0})})
    weak = InpaintJob(**{**vars(_job(1, (8, 88, 64, 120), "a lamp", seed=2)),
                         "settings": SETTINGS.merged({"denoising_strength": 0.5})})
    call = InpaintCall((strong, weak), (0, 0, 128, 96), (64, 48))
    assert (call.strength, call.steps_run) == (1.0, 4)  # the weak job alone runs 2 of 4 steps
    pipe = inpainter.pipeline
    saved = pipe.scheduler
    pipe.scheduler = DDIMScheduler.from_config(saved.config)
    try:
        pipe.scheduler.set_timesteps(4)
        masks = region_masks(call, int(pipe.vae_scale_factor))
        hold = StaggeredStarts(pipe, [call], [call_crop(room, call)[0]], [masks])
        assert hold.active
        latents = torch.randn(1, 4, 24, 32)
        inside, outside = torch.from_numpy(masks[1] == 1.0), torch.from_numpy(masks[1] == 0.0)
        for step in range(3):
            out = hold(pipe, step, pipe.scheduler.timesteps[step], {"latents": latents.clone()})["latents"]
            held = pipe.scheduler.add_noise(hold.latents, hold.noise, pipe.scheduler.timesteps[step + 1].reshape(1))
            torch.testing.assert_close(out[..., outside], latents[..., outside])
            if step < 2:  # held at its noised image until step 2, its own first step
                torch.testing.assert_close(out[..., inside], held[..., inside])
            else:
                torch.testing.assert_close(out[..., inside], latents[..., inside])
        same = InpaintCall((strong, InpaintJob(**{**vars(weak), "settings": strong.settings})), call.box, call.size)
        assert not StaggeredStarts(pipe, [same], [call_crop(room, same)[0]], [region_masks(same, 2)]).active
    finally:
        pipe.scheduler = saved
    [generated] = run_batch(pipe, [room], [call], "cpu")
    assert generated.size == call.size
