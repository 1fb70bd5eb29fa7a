"""TFRecord files and `tf.train.Example` / `tf.train.SequenceExample` without TensorFlow.

A TFRecord file is a run of records, each
    uint64 length | uint32 masked crc32c(length) | data[length] | uint32 masked crc32c(data)
(little-endian). Both checksums are checked. A bad length checksum, or a file that ends inside a
record, raises `TFRecordError` naming the file and the byte offset of the record: the framing is
lost there, and the next record cannot be found (lengths are not self-synchronising), so a
reader stops. A bad data checksum under a good length checksum damages that record only: its
length is trusted, so the next record is where it says. `read_records` raises `CorruptRecord`
there too, unless asked to yield it in the record's place and read on (`keep_going`).

The messages are decoded from the protobuf wire format directly (tensorflow/core/example/
example.proto and feature.proto); a feature's value is a list of bytes (bytes_list), or a
numpy array of float32 (float_list) or int64 (int64_list).
"""
from __future__ import annotations

import os
import struct
from typing import Iterator, Union

import google_crc32c
import numpy as np

from .errors import UserError
from .jsonfile import compressed

Value = Union[list, np.ndarray]
_HEADER = struct.Struct("<QI")
_CRC = struct.Struct("<I")
_MASK_DELTA = 0xA282EAD8  # TensorFlow's crc32c::Mask: rotate right by 15 bits, add this constant


class TFRecordError(UserError):
    """A file that is not a TFRecord file, or one damaged at a given offset; one line."""


class CorruptRecord(TFRecordError):
    """A record whose data checksum is bad though its length and the length's checksum are good:
    that record is lost, the ones after it are still found. `offset`: where the record starts."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


class ProtoError(UserError):
    """A record whose bytes are not the expected protobuf message."""


def masked_crc32c(data: bytes) -> int:
    """The masked CRC-32C that TFRecord stores (masking keeps CRCs of CRCs from looking valid)."""
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def read_records(path: str | os.PathLike, keep_going: bool = False) -> Iterator[bytes | CorruptRecord]:
    """The data of each record of a TFRecord file, checksums checked, in order.

    A record with a bad data checksum raises `CorruptRecord`; with `keep_going` it is yielded
    instead (an exception object, not raised, in the record's place: callers counting records
    keep the right numbers) and reading goes on with the next record. Broken framing (bad
    length checksum, truncation) always raises `TFRecordError`."""
    path = os.fspath(path)
    try:
        f = open(path, "rb")
    except OSError as e:
        raise TFRecordError(f"{path}: cannot read ({e.strerror})") from None
    with f:
        size = os.fstat(f.fileno()).st_size
        offset = 0
        while offset < size:
            header = f.read(_HEADER.size)
            if len(header) < _HEADER.size:
                what = "not a TFRecord file" if offset == 0 else f"truncated at byte {offset}"
                raise TFRecordError(f"{path}: {what} (record header cut short)")
            length, length_crc = _HEADER.unpack(header)
            if masked_crc32c(header[:8]) != length_crc:
                what = "not a TFRecord file" if offset == 0 else "corrupt record"
                # (what it is instead, where that is plain: a shard gzip-compressed, the vocabulary; trial 80)
                # (jsonfile's rule: gzip's "decompress it first (gunzip)", the others, a tar by its 512-byte header)
                packed = compressed(header + f.read(500)) if offset == 0 else None
                hint = "" if offset else f"; {packed}" if packed else "; a vocabulary CSV goes in --vocabulary" \
                    if path.lower().endswith(".csv") else ""
                raise TFRecordError(f"{path}: {what} (bad length checksum at byte {offset}){hint}")
            # checked before reading, so a damaged length never asks for more memory than the file holds
            if length > size - offset - _HEADER.size - _CRC.size:
                raise TFRecordError(f"{path}: truncated at byte {offset} (record of {length} bytes runs past "
                                    f"the end of the file)")
            data = f.read(length)
            (data_crc,) = _CRC.unpack(f.read(_CRC.size))
            if masked_crc32c(data) != data_crc:
                bad = CorruptRecord(f"{path}: corrupt record (bad data checksum at byte {offset})", offset)
                if not keep_going:
                    raise bad
                yield bad
            else:
                yield data
            offset += _HEADER.size + length + _CRC.size


# --- protobuf wire format --------------------------------------------------------------------
# Each field is a varint key (field_number << 3 | wire_type) then its value: wire type 0 a
# varint, 1 eight bytes, 2 a varint length and that many bytes, 5 four bytes.

def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    """(value, position after it) of the varint at `pos`."""
    result = shift = 0
    try:
        while True:
            byte = buf[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                return result, pos
            shift += 7
            if shift > 63:
                raise ProtoError("varint longer than 10 bytes")
    except IndexError:
        raise ProtoError("message ends inside a varint") from None


def _fields(buf: memoryview) -> Iterator[tuple[int, int, object]]:
    """(field number, wire type, value) of each field of one message: an int for varints, a
    memoryview of the bytes for the other wire types."""
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire in (1, 2, 5):
            if wire == 2:
                size, pos = _varint(buf, pos)
            else:
                size = 8 if wire == 1 else 4
            if pos + size > end:
                raise ProtoError("field runs past the end of its message")
            value, pos = buf[pos:pos + size], pos + size
        else:  # 3 and 4: groups, never used by these messages
            raise ProtoError(f"unsupported wire type {wire}")
        yield number, wire, value


def _int64s(wire: int, value) -> list[int]:
    """The int64 values of one repeated-int64 field occurrence: packed (wire 2) or one varint."""
    if wire == 0:
        values = [value]
    elif wire == 2:
        values, pos = [], 0
        while pos < len(value):
            v, pos = _varint(value, pos)
            values.append(v)
    else:
        raise ProtoError(f"int64 field with wire type {wire}")
    return [v - (1 << 64) if v >= 1 << 63 else v for v in values]  # two's complement: -1 is 2**64 - 1


def _feature(buf: memoryview) -> Value:
    """message Feature { oneof kind { BytesList bytes_list = 1; FloatList float_list = 2;
    Int64List int64_list = 3; } }; each list holds `repeated ... value = 1`."""
    kind, value = None, []
    for number, wire, inner in _fields(buf):
        if wire != 2 or number not in (1, 2, 3):
            continue
        kind = number  # oneof: the last one set wins, as protobuf parsers do
        if number == 1:
            value = [bytes(v) for n, w, v in _fields(inner) if n == 1 and w == 2]
        elif number == 2:
            # float is packed (wire 2, one run of '<f4') or unpacked (wire 5, one float per field)
            value = b"".join(bytes(v) for n, w, v in _fields(inner) if n == 1 and w in (2, 5))
        else:
            value = [x for n, w, v in _fields(inner) if n == 1 for x in _int64s(w, v)]
    if kind == 2:
        if len(value) % 4:
            raise ProtoError("float_list of a length that is not a multiple of 4")
        return np.frombuffer(value, "<f4")
    if kind == 3:
        return np.array(value, np.int64)
    return value


def _map_entry(buf: memoryview) -> tuple[str, memoryview]:
    """A map<string, V> entry: key = 1, value = 2 (the value left undecoded)."""
    key, value = "", memoryview(b"")
    for number, wire, inner in _fields(buf):
        if wire == 2 and number == 1:
            try:
                key = str(inner, "utf-8")
            except UnicodeDecodeError:
                raise ProtoError("feature name is not UTF-8") from None
        elif wire == 2 and number == 2:
            value = inner
    return key, value


def _features(buf: memoryview) -> dict[str, Value]:
    """message Features { map<string, Feature> feature = 1; }"""
    return {key: _feature(value) for key, value in
            (_map_entry(inner) for number, wire, inner in _fields(buf) if number == 1 and wire == 2)}


def _feature_lists(buf: memoryview) -> dict[str, list[Value]]:
    """message FeatureLists { map<string, FeatureList> feature_list = 1; }
    message FeatureList { repeated Feature feature = 1; }"""
    lists = {}
    for number, wire, inner in _fields(buf):
        if number == 1 and wire == 2:
            key, value = _map_entry(inner)
            lists[key] = [_feature(f) for n, w, f in _fields(value) if n == 1 and w == 2]
    return lists


def parse_sequence_example(data: bytes) -> tuple[dict[str, Value], dict[str, list[Value]]]:
    """message SequenceExample { Features context = 1; FeatureLists feature_lists = 2; }

    An Example (message Example { Features features = 1; }) reads as a SequenceExample
    without feature lists, so this also tells the two apart.
    """
    context, lists = {}, {}
    for number, wire, inner in _fields(memoryview(data)):
        if number == 1 and wire == 2:
            context.update(_features(inner))
        elif number == 2 and wire == 2:
            lists.update(_feature_lists(inner))
    return context, lists


def parse_example(data: bytes) -> dict[str, Value]:
    """The features of a `tf.train.Example` (field 1, as a SequenceExample's context)."""
    return parse_sequence_example(data)[0]
