"""Credential checks of the API's authentication (the middleware itself runs in the integration tests)."""

from __future__ import annotations

import base64

from ingestd.api.access import Credentials
from ingestd.settings import AuthSettings

TOKEN = "t0ken-t0ken-t0ken-t0ken"
USERS = (("alice", "wonder:land"), ("bob", "pässword"))
CREDENTIALS = Credentials(AuthSettings(users=USERS, tokens=(TOKEN,)))


def basic(user: bytes, password: bytes) -> bytes:
    return b"Basic " + base64.b64encode(user + b":" + password)


def test_basic_accepts_each_configured_user_with_their_own_password_only() -> None:
    assert CREDENTIALS.accepts(basic(b"alice", b"wonder:land"))  # the password may contain ':'
    assert CREDENTIALS.accepts(basic(b"bob", "pässword".encode()))
    assert CREDENTIALS.accepts(b"basic " + basic(b"alice", b"wonder:land")[6:])  # scheme is case-blind
    assert not CREDENTIALS.accepts(basic(b"alice", "pässword".encode()))
    assert not CREDENTIALS.accepts(basic(b"alice", b"wonder"))
    assert not CREDENTIALS.accepts(basic(b"carol", b"wonder:land"))


def test_bearer_accepts_only_configured_tokens() -> None:
    assert CREDENTIALS.accepts(b"Bearer " + TOKEN.encode())
    assert not CREDENTIALS.accepts(b"Bearer " + TOKEN.encode()[:-1])
    assert not CREDENTIALS.accepts(b"Bearer ")


def test_malformed_headers_are_refused_not_errors() -> None:
    for header in (None, b"", b"Basic", b"Basic !!!", b"Basic " + base64.b64encode(b"no-colon"),
                   b"Digest username=alice", b"\xff\xfe", b"Basic " + base64.b64encode(b"\xff:\xfe")):
        assert not CREDENTIALS.accepts(header)
    assert Credentials(AuthSettings(tokens=(TOKEN,))).schemes == ["Bearer"]
