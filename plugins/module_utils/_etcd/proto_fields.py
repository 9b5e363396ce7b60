# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read protobuf fields that the client libraries' generated code predates.

etcd 3.4+ added fields (StatusResponse.dbSizeInUse, Member.isLearner, ...) that the bundled .proto
files of etcd3 and etcd-sdk-python lack. protobuf keeps such fields as unknown fields and writes
them back on serialization, so they are read from the serialized bytes by field number.
"""
from __future__ import annotations


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """(value, position after it) of the varint at `pos`; ValueError when `data` ends inside it."""
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def wire_fields(data: bytes) -> dict[int, list[int | bytes]]:
    """Top-level fields of a serialized message: {number: [value, ...]}, varints as int and
    length-delimited fields as bytes (fixed-width fields are skipped)."""
    fields: dict[int, list[int | bytes]] = {}
    pos = 0
    while pos < len(data):
        key, pos = read_varint(data, pos)
        number, wire_type = key >> 3, key & 7
        value: int | bytes
        if wire_type == 0:
            value, pos = read_varint(data, pos)
        elif wire_type == 2:
            length, pos = read_varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        elif wire_type in (1, 5):
            pos += 8 if wire_type == 1 else 4
            continue
        else:
            raise ValueError("unsupported protobuf wire type %d" % wire_type)
        fields.setdefault(number, []).append(value)
    return fields
