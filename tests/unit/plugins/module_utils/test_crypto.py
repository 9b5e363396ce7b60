"""The encrypted file format: round trips at chunk edges, every recipient opens it, and each damage or wrong key is
refused with the cause named."""
import io
import os
import random

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ansible_collections.etcdops.dr.plugins.module_utils._crypto import envelope
from ansible_collections.etcdops.dr.plugins.module_utils._crypto.envelope import CryptoError
from ansible_collections.etcdops.dr.plugins.module_utils._crypto.stream import Opened, Sealer, open_file
from ansible_collections.etcdops.dr.tests.unit.crypto_keys import ALICE, BOB, MALLORY

CHUNK = 4096


def seal(tmp_path, plaintext, *publics, writes=1000):
    out = io.BytesIO()
    sealer = Sealer(out, [envelope.public_key(pem) for pem in publics], CHUNK)
    for start in range(0, len(plaintext), writes):
        sealer.write(plaintext[start:start + writes])
    sealer.close()
    path = tmp_path / "file.db.enc"
    path.write_bytes(out.getvalue())
    assert sealer.size == len(out.getvalue())
    return str(path), sealer


def opened(path, pair=ALICE):
    return open_file(path, envelope.private_key(pair[0]))


def refusal(path, pair=ALICE):
    with pytest.raises(CryptoError) as refused:
        with opened(path, pair) as reader:
            b"".join(reader.plaintext())
    return refused.value


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 77])
def test_any_size_comes_back_whole_and_at_any_offset(tmp_path, size):
    plaintext = os.urandom(size)
    path, sealer = seal(tmp_path, plaintext, ALICE[1], writes=1500)
    assert sealer.index == max(1, -(-size // CHUNK))
    with opened(path) as reader:
        assert reader.size == size and b"".join(reader.plaintext()) == plaintext
        for dummy in range(50):
            offset, length = random.randrange(size + 1), random.randrange(3 * CHUNK)
            assert reader.pread(offset, length) == plaintext[offset:offset + length]
    # Whoever wrote it reads it with the file key alone (the backup host has no private key).
    with Opened(path, sealer.file_key) as reader:
        assert b"".join(reader.plaintext()) == plaintext


def test_every_recipient_opens_the_file_and_the_header_names_their_key_ids(tmp_path):
    plaintext = os.urandom(2 * CHUNK + 5)
    path, sealer = seal(tmp_path, plaintext, ALICE[1], BOB[1])
    assert sealer.describe() == dict(format=1, cipher="AES-256-GCM", chunk_size=CHUNK, recipients=[
        envelope.public_key(ALICE[1])[0], envelope.public_key(BOB[1])[0]])
    for pair in (ALICE, BOB):
        with opened(path, pair) as reader:
            assert b"".join(reader.plaintext()) == plaintext
    wrong = refusal(path, MALLORY)
    assert wrong.cause == "wrong_key" and envelope.public_key(MALLORY[1])[0] in wrong.msg
    assert envelope.public_key(ALICE[1])[0] in wrong.msg


def test_no_key_is_refused_naming_the_key_ids(tmp_path):
    path, dummy = seal(tmp_path, b"x" * 10, ALICE[1])
    with open(path, "rb") as handle:
        header = envelope.read_header(handle, path)
    with pytest.raises(CryptoError) as refused:
        envelope.unlock(header, path, None)
    assert refused.value.cause == "missing_key" and header.key_ids[0] in refused.value.msg


def damaged(path, change):
    data = bytearray(open(path, "rb").read())
    data = change(data)
    with open(path, "wb") as handle:
        handle.write(data)


def test_a_flipped_bit_in_any_chunk_is_named(tmp_path):
    path, sealer = seal(tmp_path, os.urandom(3 * CHUNK + 10), ALICE[1])
    header = sealer.header.length

    def flip(data):
        data[header + CHUNK + 16 + 100] ^= 1
        return data
    damaged(path, flip)
    refused = refusal(path)
    assert refused.cause == "tampered" and "chunk 1 " in refused.msg


def test_swapped_chunks_do_not_open(tmp_path):
    path, sealer = seal(tmp_path, os.urandom(3 * CHUNK), ALICE[1])
    header, whole = sealer.header.length, CHUNK + 16

    def swap(data):
        first, second = data[header:header + whole], data[header + whole:header + 2 * whole]
        data[header:header + 2 * whole] = second + first
        return data
    damaged(path, swap)
    assert refusal(path).cause == "tampered"


@pytest.mark.parametrize("cut, cause", [
    ("at a chunk edge", "truncated"), ("inside a chunk", "tampered"), ("inside a tag", "truncated"),
    ("inside the header", "truncated")])
def test_a_cut_file_is_refused(tmp_path, cut, cause):
    path, sealer = seal(tmp_path, os.urandom(3 * CHUNK + 10), ALICE[1])
    header, whole = sealer.header.length, CHUNK + 16
    keep = dict(zip(["at a chunk edge", "inside a chunk", "inside a tag", "inside the header"],
                    [header + 2 * whole, header + 2 * whole + 100, header + 2 * whole + 7, 40]))[cut]
    damaged(path, lambda data: data[:keep])
    refused = refusal(path)
    assert refused.cause == cause, refused.msg
    assert path in refused.msg


def test_a_changed_header_fails_its_code(tmp_path):
    path, dummy = seal(tmp_path, os.urandom(CHUNK), ALICE[1])

    def salt(data):
        data[20] ^= 0xff
        return data
    damaged(path, salt)
    refused = refusal(path)
    assert refused.cause == "tampered" and "header" in refused.msg


def test_an_unknown_version_asks_for_an_upgrade(tmp_path):
    path, dummy = seal(tmp_path, b"abc", ALICE[1])

    def version(data):
        data[8] = 2
        return data
    damaged(path, version)
    refused = refusal(path)
    assert refused.cause == "unsupported" and "version 2" in refused.msg and "upgrade" in refused.msg


def test_keys_that_cannot_serve_are_refused_with_the_fix():
    with pytest.raises(CryptoError) as private_as_recipient:
        envelope.public_key(ALICE[0])
    assert "PRIVATE key" in private_as_recipient.value.msg and "-pubout" in private_as_recipient.value.msg
    ec_public = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    with pytest.raises(CryptoError) as not_x25519:
        envelope.public_key(ec_public)
    assert "not X25519" in not_x25519.value.msg
    with pytest.raises(CryptoError) as garbage:
        envelope.public_key("hello")
    assert "not a PEM public key" in garbage.value.msg
    with pytest.raises(CryptoError) as public_as_private:
        envelope.private_key(ALICE[1])
    assert "PUBLIC key" in public_as_private.value.msg
    with pytest.raises(CryptoError) as empty:
        envelope.private_key("")
    assert empty.value.cause == "missing_key"
