import pytest

from cursive.registry import AlreadyRegistered, NotRegistered, Registry


def test_a_key_is_registered_once_and_read_back():
    registry = Registry("things")
    registry.register("a", 1)
    assert registry.get("a") == 1 and "a" in registry and list(registry) == ["a"] and len(registry) == 1
    with pytest.raises(AlreadyRegistered, match="things: 'a' is already registered"):
        registry.register("a", 2)
    assert registry.get("a") == 1


def test_an_unknown_key_fails_loudly_naming_the_known_ones():
    registry = Registry("ledger references")
    registry.register("purchase", object())
    with pytest.raises(NotRegistered, match=r"nothing is registered as 'payout' \(known: purchase\)"):
        registry.get("payout")


def test_the_pluggable_registries_are_filled_at_start_up():
    from credits.consistency import REFERENCES
    from cursive.consistency import CHECKS
    from cursive.schedules import SCHEDULES

    assert {"credit_purchase", "audit", "purchase", "payout", "segment_run"} <= set(REFERENCES)
    assert "leads are sold once" in CHECKS and "balance equals ledger" in CHECKS
    assert "release expired lead reservations" in SCHEDULES
