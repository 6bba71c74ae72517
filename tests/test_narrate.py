import pytest

from pruning_lessons.teaching.narrate import gap_verdict, one_image, speedup_verdict


def test_a_speedup_above_the_mac_ratio_is_flagged_not_reported():
    assert speedup_verdict(4.9, 2.85).startswith("MEASUREMENT PROBLEM")
    assert speedup_verdict(2.29, 1.0).startswith("MEASUREMENT PROBLEM")


def test_plausible_speedups_are_reported_with_their_share_of_the_mac_ratio():
    text = speedup_verdict(2.0, 2.5)
    assert "2.00x faster for 2.50x fewer MACs" in text and "80%" in text
    assert "no real speed-up" in speedup_verdict(1.02, 1.0)
    assert "slower than dense" in speedup_verdict(0.47, 1.0)
    assert not speedup_verdict(1.15, 1.0).startswith("MEASUREMENT")


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
