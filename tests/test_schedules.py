import pytest
from torch import nn
from torch.ao.pruning import CubicSL, WeightNormSparsifier

from pruning_lessons.weights.schedules import cubic_sparsity, sparsity_schedule


@pytest.mark.parametrize(
    "initial, final, start, frequency, steps",
    [(0.0, 0.9, 0, 1, 10), (0.1, 0.95, 5, 2, 8), (0.0, 0.98, 3, 10, 4)],
)
def test_cubic_levels_equal_torch_cubicsl(initial, final, start, frequency, steps):
    model = nn.Sequential(nn.Linear(8, 8))
    sparsifier = WeightNormSparsifier(sparsity_level=final)
    sparsifier.prepare(model, [{"tensor_fqn": "0.weight"}])
    scheduler = CubicSL(sparsifier, init_sl=initial, init_t=start, delta_t=frequency, total_t=steps)
    for t in range(1, start + frequency * steps + 5):
        sparsifier.step()
        scheduler.step()
        theirs = scheduler.get_last_sl()[0]
        ours = cubic_sparsity(
            t, final, initial=initial, start=start, frequency=frequency, steps=steps
        )
        assert ours == pytest.approx(theirs, abs=1e-12), t


def test_schedules():
    assert sparsity_schedule("one-shot", 0.9) == [0.9]
    iterative = sparsity_schedule("iterative", 0.9, steps=2)
    assert iterative == pytest.approx([1 - 0.1**0.5, 0.9])
    cubic = sparsity_schedule("cubic", 0.9, steps=4)
    assert cubic[-1] == pytest.approx(0.9) and cubic == sorted(cubic)
    gains = [b - a for a, b in zip([0.0, *cubic], cubic, strict=False)]
    assert gains == sorted(gains, reverse=True)  # fast first, slow at the end
    remaining = [1 - s for s in sparsity_schedule("iterative", 0.96, steps=4)]
    ratios = [b / a for a, b in zip([1.0, *remaining], remaining, strict=False)]
    assert ratios == pytest.approx([ratios[0]] * 4)  # same share of what remains each step


@pytest.mark.parametrize(
    "args, words",
    [
        (("weekly", 0.9), "schedule must be one of"),
        (("cubic", 1.0), "final"),
        (("cubic", 0.9, 0), "steps"),
        (("iterative", "0.9"), "final"),
    ],
)
def test_bad_schedule_input(args, words):
    with pytest.raises((ValueError, TypeError), match=words):
        sparsity_schedule(*args)
