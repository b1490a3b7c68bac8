"""events.locked: what the YAML cases do not pin -- the parameter check and the sign test's tails."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from evaluators.events.locked import LockedParams, sign_test

BASE = {"target": {"column": "loss", "detector": "robust_z"}, "series": {"column": "grad_norm"}}


def test_the_same_offset_twice_is_refused() -> None:
    with pytest.raises(ValidationError, match="`at` and `before` are the same offset; there is nothing to compare"):
        LockedParams.model_validate({**BASE, "at": -5, "before": -5})


def test_sign_test_tails() -> None:
    """Binomial(m, 1/2) tails, by hand: 5 of 5 down is 1/32 one-sided, 2/32 two-sided; 4 of 5 is 6/32."""
    assert sign_test(0, 5, "less") == pytest.approx(1 / 32)
    assert sign_test(0, 5, "greater") == 1.0
    assert sign_test(0, 5, "two-sided") == pytest.approx(2 / 32)
    assert sign_test(1, 4, "less") == pytest.approx(6 / 32)
    assert sign_test(2, 2, "two-sided") == 1.0
    assert sign_test(0, 0, "less") is None
