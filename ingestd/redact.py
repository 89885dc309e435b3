"""Secret-bearing config values: which keys hold them, masking them in API output, scrubbing messages.

A table config carries the stream's credentials (`sasl.password`, `ssl.key.pem`...). The server needs
them in clear, so it stores them as uploaded; nothing it answers over HTTP shows them.

The rule: a key holds a secret when, lowercased,
  * its last dotted component contains password, passwd, secret, passphrase, token, credential or
    apikey/api_key (`sasl.password`, `ssl.keystore.password`, `sasl.oauthbearer.client.secret`,
    `...assertion.private.key.passphrase`, an `accessToken`); `...token.endpoint.url` is a URL, not a
    secret, because only the last component counts;
  * or it ends with `key.pem` (an inline private key: `ssl.key.pem`,
    `sasl.oauthbearer.assertion.private.key.pem`) or `user.info` (a schema registry's `user:password`,
    `...decoder.prop.basic.auth.user.info`);
  * or it names JAAS anywhere (`sasl.jaas.config`: Java's login line embeds the password);
  * or it is `sasl.oauthbearer.config` (the unsecured-JWT settings, which may embed credentials).
Such a value, whatever its JSON type, is shown as MASK; the rule applies to keys at any depth of a
document, so a secret under an unexpected section is masked too. In any other string value, the password
of a URL's user info (`https://user:password@registry`) is masked as well.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

MASK = "********"
MIN_SCRUB_CHARS = 4

_SECRET_WORDS = ("password", "passwd", "secret", "passphrase", "token", "credential", "apikey", "api_key")
_SECRET_SUFFIXES = ("key.pem", "sasl.oauthbearer.config", "user.info")


def is_secret_key(key: str) -> bool:
    lowered = key.lower()
    last = lowered.rsplit(".", 1)[-1]
    return (any(word in last for word in _SECRET_WORDS) or lowered.endswith(_SECRET_SUFFIXES)
            or "jaas" in lowered)


_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/@:\s]*:)[^/@\s]+@", re.IGNORECASE)


def mask_secrets(document: Any) -> Any:
    """A copy of `document` (JSON-shaped) with every secret-bearing value replaced by MASK."""
    if isinstance(document, Mapping):
        return {key: MASK if is_secret_key(str(key)) and value is not None else mask_secrets(value)
                for key, value in document.items()}
    if isinstance(document, list):
        return [mask_secrets(item) for item in document]
    if isinstance(document, str):
        return _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{MASK}@", document)
    return document


def secret_values(document: Any) -> Iterator[str]:
    """The text of every secret-bearing value in `document`, at any depth."""
    if isinstance(document, Mapping):
        for key, value in document.items():
            if is_secret_key(str(key)) and value is not None:
                yield from _leaf_texts(value)
            else:
                yield from secret_values(value)
    elif isinstance(document, list):
        for item in document:
            yield from secret_values(item)


def scrub(message: str, secrets: Any) -> str:
    """`message` with each of `secrets` (strings) replaced by MASK, in plain and in repr() form.

    Secrets shorter than MIN_SCRUB_CHARS are left: they cannot be told apart from ordinary text (a
    one-letter "secret" would mask every such letter) and no real credential is that short."""
    forms = {form for secret in secrets for form in (secret, repr(secret)[1:-1])
             if len(form) >= MIN_SCRUB_CHARS}
    for form in sorted(forms, key=len, reverse=True):
        message = message.replace(form, MASK)
    return message


def scrub_document(document: Any, secrets: list[str]) -> Any:
    """A copy of `document` (JSON-shaped) with `scrub` applied to every string in it."""
    if not secrets:
        return document
    if isinstance(document, Mapping):
        return {key: scrub_document(value, secrets) for key, value in document.items()}
    if isinstance(document, list):
        return [scrub_document(item, secrets) for item in document]
    return scrub(document, secrets) if isinstance(document, str) else document


def _leaf_texts(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _leaf_texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaf_texts(item)
    elif value is not None:
        yield str(value)
