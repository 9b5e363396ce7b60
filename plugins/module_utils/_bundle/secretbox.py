# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""NaCl's crypto_secretbox (XSalsa20 and Poly1305), the cipher of kube-apiserver's `secretbox` provider, in Python:
the `cryptography` package has no Salsa20. Poly1305 comes from `cryptography` when it is there.

The construction, as golang.org/x/crypto nacl/secretbox (which kube-apiserver calls) builds it: a sub-key from
HSalsa20(key, nonce[:16]); Salsa20 under that sub-key with nonce[16:24] and block counter 0 gives the keystream;
its first 32 bytes are the one-time Poly1305 key, the message is XORed with the keystream from byte 32 on, and the
box is the 16-byte tag followed by the ciphertext. Salsa20 itself follows D. J. Bernstein's specification
(quarterround, columnround, rowround; 10 double rounds; the little-endian state words)."""
from __future__ import annotations

import hmac

SIGMA = b"expand 32-byte k"
KEY_SIZE, NONCE_SIZE, TAG_SIZE = 32, 24, 16
_MASK = 0xFFFFFFFF
_P1305 = (1 << 130) - 5
_CLAMP = 0x0FFFFFFC0FFFFFFC0FFFFFFC0FFFFFFF
# (y0, y1, y2, y3) of each quarterround: the column round, then the row round.
_COLUMNS = ((0, 4, 8, 12), (5, 9, 13, 1), (10, 14, 2, 6), (15, 3, 7, 11))
_ROWS = ((0, 1, 2, 3), (5, 6, 7, 4), (10, 11, 8, 9), (15, 12, 13, 14))


def _words(data: bytes) -> list[int]:
    return [int.from_bytes(data[i:i + 4], "little") for i in range(0, len(data), 4)]


def _pack(words: list[int]) -> bytes:
    return b"".join(w.to_bytes(4, "little") for w in words)


def _rotl(value: int, shift: int) -> int:
    return ((value << shift) & _MASK) | (value >> (32 - shift))


def _double_rounds(state: list[int]) -> list[int]:
    x = list(state)
    for dummy in range(10):
        for group in (_COLUMNS, _ROWS):
            for a, b, c, d in group:
                x[b] ^= _rotl((x[a] + x[d]) & _MASK, 7)
                x[c] ^= _rotl((x[b] + x[a]) & _MASK, 9)
                x[d] ^= _rotl((x[c] + x[b]) & _MASK, 13)
                x[a] ^= _rotl((x[d] + x[c]) & _MASK, 18)
    return x


def _state(key: bytes, middle: bytes) -> list[int]:
    """The 16 input words: the constant on the diagonal, the key around it, 16 bytes of nonce/counter in the middle."""
    s, k, m = _words(SIGMA), _words(key), _words(middle)
    return [s[0], *k[:4], s[1], *m, s[2], *k[4:], s[3]]


def hsalsa20(key: bytes, nonce16: bytes) -> bytes:
    """The 32-byte sub-key: words 0, 5, 10, 15, 6, 7, 8, 9 of the rounds' output, without the final addition."""
    x = _double_rounds(_state(key, nonce16))
    return _pack([x[i] for i in (0, 5, 10, 15, 6, 7, 8, 9)])


def salsa20_stream(key: bytes, nonce8: bytes, length: int) -> bytes:
    """`length` bytes of Salsa20 keystream, block counter from 0."""
    blocks = []
    for counter in range((length + 63) // 64):
        start = _state(key, nonce8 + counter.to_bytes(8, "little"))
        out = _double_rounds(start)
        blocks.append(_pack([(o + s) & _MASK for o, s in zip(out, start)]))
    return b"".join(blocks)[:length]


def xsalsa20_stream(key: bytes, nonce: bytes, length: int) -> bytes:
    return salsa20_stream(hsalsa20(key, nonce[:16]), nonce[16:24], length)


def poly1305_python(key: bytes, message: bytes) -> bytes:
    """Poly1305 (RFC 8439 section 2.5) with Python integers: r clamped, each 16-byte block plus a 1 byte added, times r
    modulo 2^130-5; s added modulo 2^128."""
    r = int.from_bytes(key[:16], "little") & _CLAMP
    s = int.from_bytes(key[16:32], "little")
    acc = 0
    for i in range(0, len(message), 16):
        acc = (acc + int.from_bytes(message[i:i + 16] + b"\x01", "little")) * r % _P1305
    return ((acc + s) & ((1 << 128) - 1)).to_bytes(16, "little")


def poly1305(key: bytes, message: bytes) -> bytes:
    try:
        from cryptography.hazmat.primitives.poly1305 import Poly1305
        return Poly1305.generate_tag(key, message)
    except ImportError:
        return poly1305_python(key, message)


def _xor(data: bytes, stream: bytes) -> bytes:
    if not data:
        return b""
    return (int.from_bytes(data, "little") ^ int.from_bytes(stream[:len(data)], "little")).to_bytes(len(data), "little")


def _check(key: bytes, nonce: bytes) -> None:
    if len(key) != KEY_SIZE or len(nonce) != NONCE_SIZE:
        raise ValueError("secretbox needs a %d-byte key and a %d-byte nonce" % (KEY_SIZE, NONCE_SIZE))


def seal(key: bytes, nonce: bytes, message: bytes) -> bytes:
    """The box: Poly1305 tag (16 bytes), then the ciphertext."""
    _check(key, nonce)
    stream = xsalsa20_stream(key, nonce, 32 + len(message))
    ciphertext = _xor(message, stream[32:])
    return poly1305(stream[:32], ciphertext) + ciphertext


def open_box(key: bytes, nonce: bytes, box: bytes) -> bytes | None:
    """The message, or None when the tag does not match (wrong key, or the box was changed)."""
    _check(key, nonce)
    if len(box) < TAG_SIZE:
        return None
    tag, ciphertext = box[:TAG_SIZE], box[TAG_SIZE:]
    stream = xsalsa20_stream(key, nonce, 32 + len(ciphertext))
    if not hmac.compare_digest(poly1305(stream[:32], ciphertext), tag):
        return None
    return _xor(ciphertext, stream[32:])
