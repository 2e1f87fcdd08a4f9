from datetime import timedelta

import pytest

from shared import auth

SECRET = "unit-test-secret-that-is-long-enough-for-hs256"


def test_a_minted_token_verifies_with_its_role_and_scope():
    viewer = auth.verify(auth.mint("regional_coordinator", region="KG-C", secret=SECRET),
                         SECRET)
    assert (viewer.role, viewer.region) == ("regional_coordinator", "KG-C")
    assert viewer.sees_region("KG-C") and not viewer.sees_region("KG-Y")


@pytest.mark.parametrize("role,scope", [("regional_coordinator", {}), ("observer", {}),
                                        ("mayor", {})])
def test_a_role_without_its_scope_cannot_be_minted(role, scope):
    with pytest.raises(ValueError):
        auth.mint(role, secret=SECRET, **scope)


@pytest.mark.parametrize("token,code", [
    (auth.mint("admin", ttl=timedelta(seconds=-5), secret=SECRET), "TOKEN_EXPIRED"),
    (auth.mint("admin", secret="another-secret-that-is-long-enough-too"), "TOKEN_INVALID"),
    ("garbage", "TOKEN_INVALID"),
])
def test_bad_tokens_are_refused_with_a_code(token, code):
    with pytest.raises(auth.InvalidToken) as refused:
        auth.verify(token, SECRET)
    assert refused.value.code == code


def test_a_token_verified_before_is_refused_once_it_expires(monkeypatch):
    token = auth.mint("observer", observer="o1", ttl=timedelta(minutes=1), secret=SECRET)
    assert auth.verify(token, SECRET).observer == "o1"
    later = auth.time.time() + 120
    monkeypatch.setattr(auth.time, "time", lambda: later)
    with pytest.raises(auth.InvalidToken) as refused:
        auth.verify(token, SECRET)
    assert refused.value.code == "TOKEN_EXPIRED"
