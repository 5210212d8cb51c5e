"""API key format: `brk_<id>_<secret>`, random, id visible, hash stable."""

from __future__ import annotations

from bridge.tenants.models import Principal
from bridge.tenants.service import hash_key, new_key, parse_key_id


def test_keys_are_random_and_carry_their_id() -> None:
    made = {new_key() for _ in range(200)}
    assert len({key for _, key in made}) == 200
    for key_id, key in made:
        assert key.startswith(f"brk_{key_id}_")
        assert parse_key_id(key) == key_id
        assert len(key.split("_", 2)[2]) >= 43  # token_urlsafe(32)
        assert len(hash_key(key)) == 64 and hash_key(key) == hash_key(key)


def test_malformed_keys_have_no_id() -> None:
    _, key = new_key()
    for bad in ("", "brk_", "brk_xyz_abc", key.replace("brk_", "sk_"), key + " ", key[:30]):
        assert parse_key_id(bad) is None, bad


def test_scopes() -> None:
    assert Principal(1, "k").may_use("sync")
    forms = Principal(1, "k", scopes=("forms",))
    assert forms.may_use("forms") and not forms.may_use("credits")
