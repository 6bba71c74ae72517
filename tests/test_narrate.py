import pytest

from pruning_lessons.teaching.narrate import (
    gap_verdict,
    one_image,
    rank_among,
    speedup_verdict,
    stale_bn_verdict,
)


def test_a_speedup_above_the_mac_ratio_asks_to_remeasure_and_explain_not_wrong():
    for speedup, macs in ((4.9, 2.85), (2.29, 1.0)):
        text = speedup_verdict(speedup, macs)
        assert text.startswith("RE-MEASURE AND EXPLAIN")
        assert "cache" in text and "memory traffic" in text
        assert "cannot" not in text  # superlinear speed-ups happen: never called impossible


def test_plausible_speedups_are_reported_with_their_share_of_the_mac_ratio():
    text = speedup_verdict(2.0, 2.5)
    assert "2.00x faster for 2.50x fewer MACs" in text and "80%" in text
    assert "no real speed-up" in speedup_verdict(1.02, 1.0)
    assert "slower than dense" in speedup_verdict(0.47, 1.0)
    assert not speedup_verdict(1.15, 1.0).startswith("RE-MEASURE")


def test_speedup_verdict_rejects_non_positive_numbers():
    with pytest.raises(ValueError, match="positive"):
        speedup_verdict(0.0, 1.0)


def test_gaps_count_only_beyond_the_spread():
    assert "within the spread" in gap_verdict("a", 0.972, 0.003, "b", 0.970, 0.004)
    beyond = gap_verdict("iterative", 0.957, 0.003, "one-shot", 0.972, 0.002)
    assert beyond.startswith("one-shot beats iterative by 1.5 points")


def test_one_image_is_stated_in_points():
    assert "360 images" in one_image(360) and "0.28 points" in one_image(360)
    with pytest.raises(ValueError):
        one_image(0)


def test_stale_batchnorm_is_said_as_measured():
    # the pipeline study's numbers (benchmarks/results/pipeline.json, CNN, 50 % of channels)
    text = stale_bn_verdict(0.356, 0.745, 0.987, 10)
    assert text.startswith("stale statistics 35.6% (well below dense")
    assert "recalibration alone adds 38.9 points" in text and "24.2 points" in text
    assert "near chance" not in text
    assert "(near chance" in stale_bn_verdict(0.12, 0.5, 0.98, 10)
    assert "does not help" in stale_bn_verdict(0.5, 0.45, 0.98, 10)
    with pytest.raises(ValueError, match="classes"):
        stale_bn_verdict(0.1, 0.2, 0.9, 1)
    with pytest.raises(ValueError, match="stale"):
        stale_bn_verdict(35.6, 0.2, 0.9, 10)


def test_rank_among_says_below_among_or_above():
    criteria = {"L1": 0.8296, "BN": 0.875, "FPGM": 0.8222, "Taylor": 0.8407}
    assert rank_among("random", 0.8176, criteria).startswith("random (81.8%) is below all 4")
    assert "lands among the 4" in rank_among("random", 0.83, criteria)
    assert "above 2 of them" in rank_among("random", 0.83, criteria)
    assert "above all 4" in rank_among("random", 0.9, criteria)
    with pytest.raises(ValueError):
        rank_among("random", 0.5, {})
