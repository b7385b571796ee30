"""Racing candidates: who is dropped, when the race is over, how the noise is judged."""

from __future__ import annotations

import math

import pytest

from dltune.race import MIN_SD, PRIOR_DF, PRIOR_SD, expected_loss, noise_sd, settled, survivors


def test_noise_weighs_the_repeats_spread_against_the_prior() -> None:
    assert noise_sd({"a": [100.0], "b": [90.0]}) == PRIOR_SD  # no repeats: the prior alone
    rates = {"a": [100.0, 110.0, 105.0], "b": [50.0, 55.0], "c": [10.0]}
    logs_a = [math.log(x) for x in rates["a"]]
    logs_b = [math.log(x) for x in rates["b"]]
    ss = sum((x - sum(logs_a) / 3) ** 2 for x in logs_a) + sum((x - sum(logs_b) / 2) ** 2 for x in logs_b)
    assert noise_sd(rates) == pytest.approx(math.sqrt((PRIOR_DF * PRIOR_SD**2 + ss) / (PRIOR_DF + 3)))
    # three pairs that happen to agree within 2-4% do not talk the race into 2% noise
    lucky = {"w32": [4698.0, 4527.0], "w64": [4784.0, 4902.0], "w24": [4684.0, 4861.0]}
    assert 0.04 < noise_sd(lucky) < PRIOR_SD
    # many quiet repeats outweigh the prior; perfect quiet is never trusted
    quiet = {k: [1000.0 * (1 + 0.01 * (-1) ** i) for i in range(10)] for k in "ab"}
    assert noise_sd(quiet) < 0.025
    assert noise_sd({k: [100.0] * 40 for k in "abc"}) == MIN_SD


def test_clearly_slower_candidates_are_dropped_close_ones_stay() -> None:
    rates = {"fast": [1000.0], "close": [960.0], "slow": [700.0]}
    assert survivors(rates, list(rates)) == ["fast", "close"]
    # more repeats with little spread: a 5% gap becomes clear
    rates = {"fast": [1000.0, 1010.0, 995.0, 1005.0], "close": [950.0, 955.0, 948.0, 952.0]}
    assert survivors(rates, list(rates)) == ["fast"]
    assert survivors({"a": [0.0]}, ["a"]) == []  # nothing measured that can be compared


def test_settled_when_one_is_left_or_the_rest_is_provably_equivalent() -> None:
    assert settled({"a": [1.0]}, ["a"])
    noisy = {"a": [1000.0, 1100.0, 900.0], "b": [990.0, 1080.0, 910.0]}
    assert not settled(noisy, ["a", "b"])  # could still differ by more than 4%
    quiet = {k: [1000.0 + d, 1000.0 - d, 1000.0] for k, d in (("a", 1.0), ("b", 2.0))}
    quiet |= {"c": [1000.0] * 6}
    assert settled(quiet, ["a", "b", "c"])


def test_the_expected_loss_of_choosing_the_leader_shrinks_with_the_gap_and_with_repeats() -> None:
    assert expected_loss({"a": [1000.0]}, ["a"]) == 0.0  # nothing to lose against
    even = expected_loss({"a": [1000.0], "b": [1000.0]}, ["a", "b"])
    # equal means, prior noise: the gap's standard error is 0.06 x sqrt(2), the loss that times 1/sqrt(2 pi)
    assert even == pytest.approx(PRIOR_SD * math.sqrt(2) / math.sqrt(2 * math.pi))
    assert expected_loss({"a": [1000.0], "b": [900.0]}, ["a", "b"]) < even / 2  # a 10% gap costs little
    quiet = {"a": [1000.0, 1010.0, 990.0, 1000.0], "b": [1000.0, 990.0, 1010.0, 1000.0]}
    assert expected_loss(quiet, ["a", "b"]) < 0.01  # repeats that agree: either choice costs under 1%
    # a third candidate adds its own chance of being better
    assert expected_loss({"a": [1000.0], "b": [1000.0], "c": [1000.0]}, ["a", "b", "c"]) == pytest.approx(
        2 * even
    )


def test_after_one_round_only_gaps_beyond_a_slow_spell_and_the_prior_noise_are_out_of_reach() -> None:
    from dltune.race import SLOW_SPELL, out_of_reach

    reach = SLOW_SPELL + 2 * PRIOR_SD * math.sqrt(2)
    rates = {"a": [1000.0], "b": [1000.0 * math.exp(-reach + 0.01)], "c": [1000.0 * math.exp(-reach - 0.01)]}
    assert out_of_reach(rates, ["c", "b", "a"]) == ["a", "b"]
