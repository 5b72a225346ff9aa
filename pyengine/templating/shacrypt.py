"""SHA-crypt (`$5$`/`$6$`) password hashes, compatible with glibc crypt(3).

The `crypt` module is deprecated and gone in Python 3.13, and passlib is more
than we need for one filter; this is the published algorithm
(https://www.akkadia.org/drepper/SHA-crypt.txt), checked against `openssl passwd`.
"""

from __future__ import annotations

import hashlib
import secrets

_ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SALT_CHARS = _ALPHABET
_ROUNDS_DEFAULT = 5000

# Byte transposition for the final base64 step, from the specification.
_ORDER_512 = [
    (0, 21, 42), (22, 43, 1), (44, 2, 23), (3, 24, 45), (25, 46, 4), (47, 5, 26), (6, 27, 48),
    (28, 49, 7), (50, 8, 29), (9, 30, 51), (31, 52, 10), (53, 11, 32), (12, 33, 54),
    (34, 55, 13), (56, 14, 35), (15, 36, 57), (37, 58, 16), (59, 17, 38), (18, 39, 60),
    (40, 61, 19), (62, 20, 41),
]
_ORDER_256 = [
    (0, 10, 20), (21, 1, 11), (12, 22, 2), (3, 13, 23), (24, 4, 14), (15, 25, 5), (6, 16, 26),
    (27, 7, 17), (18, 28, 8), (9, 19, 29),
]


def _b64_from_24bit(b2: int, b1: int, b0: int, n: int) -> str:
    w = (b2 << 16) | (b1 << 8) | b0
    out = []
    for _ in range(n):
        out.append(_ALPHABET[w & 0x3F])
        w >>= 6
    return "".join(out)


def random_salt(length: int = 16) -> str:
    """A random salt from crypt's alphabet."""
    return "".join(secrets.choice(_SALT_CHARS) for _ in range(length))


def sha_crypt(password: str, salt: str | None = None, rounds: int | None = None,
              bits: int = 512) -> str:
    """Hash `password` like crypt(3) with `$6$` (bits=512) or `$5$` (bits=256)."""
    new = hashlib.sha512 if bits == 512 else hashlib.sha256
    size = 64 if bits == 512 else 32
    pw = password.encode()
    salt = (salt if salt is not None else random_salt())[:16]
    s = salt.encode()
    if rounds is None:
        rounds = _ROUNDS_DEFAULT
    rounds = max(1000, min(999_999_999, rounds))

    b = new(pw + s + pw).digest()
    a = new(pw + s)
    length = len(pw)
    while length > size:
        a.update(b)
        length -= size
    a.update(b[:length])
    i = len(pw)
    while i:
        a.update(b if i & 1 else pw)
        i >>= 1
    da = a.digest()

    dp_ctx = new()
    for _ in range(len(pw)):
        dp_ctx.update(pw)
    dp = dp_ctx.digest()
    p = (dp * (len(pw) // size + 1))[: len(pw)]

    ds_ctx = new()
    for _ in range(16 + da[0]):
        ds_ctx.update(s)
    ds = ds_ctx.digest()
    sb = (ds * (len(s) // size + 1))[: len(s)]

    c = da
    for r in range(rounds):
        ctx = new()
        ctx.update(p if r & 1 else c)
        if r % 3:
            ctx.update(sb)
        if r % 7:
            ctx.update(p)
        ctx.update(c if r & 1 else p)
        c = ctx.digest()

    out = []
    if bits == 512:
        for x, y, z in _ORDER_512:
            out.append(_b64_from_24bit(c[x], c[y], c[z], 4))
        out.append(_b64_from_24bit(0, 0, c[63], 2))
        prefix = "$6$"
    else:
        for x, y, z in _ORDER_256:
            out.append(_b64_from_24bit(c[x], c[y], c[z], 4))
        out.append(_b64_from_24bit(0, c[31], c[30], 3))
        prefix = "$5$"
    rounds_part = f"rounds={rounds}$" if rounds != _ROUNDS_DEFAULT else ""
    return f"{prefix}{rounds_part}{salt}${''.join(out)}"
