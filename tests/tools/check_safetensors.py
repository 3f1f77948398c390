#!/usr/bin/env python3
"""Independent safetensors checker: validates files against the format spec using only
json, struct and numpy, so our reader and writer are tested against a second reading.

usage: check_safetensors.py [--kmr-layout] FILE.safetensors|INDEX.json ...
Exits 0 when every file is valid, 1 with a message naming the first problem otherwise.
--kmr-layout also checks the conventions of our writer: header padded with spaces to a
multiple of 8 bytes, tensors ordered by name with offsets in that order.
"""
import json
import struct
import sys
import os

import numpy as np

MAX_HEADER = 100_000_000
BITS = {"BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8, "F8_E4M3FNUZ": 8,
        "F8_E5M2FNUZ": 8, "I16": 16, "U16": 16, "F16": 16, "BF16": 16, "I32": 32, "U32": 32,
        "F32": 32, "C64": 64, "F64": 64, "I64": 64, "U64": 64, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6}
# dtypes numpy can view directly, to cross-check sizes against the shape
NUMPY = {"BOOL": "?", "U8": "u1", "I8": "i1", "I16": "<i2", "U16": "<u2", "F16": "<f2", "I32": "<i4",
         "U32": "<u4", "F32": "<f4", "F64": "<f8", "I64": "<i8", "U64": "<u8", "C64": "<c8"}


class Invalid(Exception):
    pass


def no_duplicates(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise Invalid(f"duplicate key {key!r}")
        seen[key] = value
    return seen


def is_count(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def check_file(path, kmr_layout):
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise Invalid("shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > MAX_HEADER:
        raise Invalid(f"header length {n} over {MAX_HEADER}")
    if 8 + n > len(blob):
        raise Invalid(f"header length {n} runs past the end of the file")
    raw = blob[8:8 + n]
    if not raw.startswith(b"{"):
        raise Invalid("header does not start with '{'")
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=no_duplicates)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise Invalid(f"header is not UTF-8 JSON: {e}")
    if not isinstance(header, dict):
        raise Invalid("header is not an object")
    meta = header.pop("__metadata__", {})
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise Invalid("__metadata__ is not a string->string map")

    spans = []
    for name, t in header.items():
        if not isinstance(t, dict):
            raise Invalid(f"{name}: entry is not an object")
        dtype, shape, offsets = t.get("dtype"), t.get("shape"), t.get("data_offsets")
        if dtype not in BITS:
            raise Invalid(f"{name}: unknown dtype {dtype!r}")
        if not isinstance(shape, list) or not all(is_count(d) for d in shape):
            raise Invalid(f"{name}: bad shape {shape!r}")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(is_count(o) for o in offsets)):
            raise Invalid(f"{name}: bad data_offsets {offsets!r}")
        begin, end = offsets
        numel = 1
        for d in shape:
            numel *= d
        bits = numel * BITS[dtype]
        if bits % 8 or end - begin != bits // 8:
            raise Invalid(f"{name}: span {end - begin} bytes, {dtype}{shape} needs {bits / 8}")
        spans.append((begin, end, name, dtype, shape))

    spans.sort(key=lambda s: (s[0], s[1]))
    position = 0
    for begin, end, name, _, _ in spans:
        if begin != position:
            raise Invalid(f"{name}: starts at {begin}, expected {position} (gap or overlap)")
        position = end
    data = blob[8 + n:]
    if position != len(data):
        raise Invalid(f"tensors cover {position} bytes, the data section has {len(data)}")

    for begin, end, name, dtype, shape in spans:
        if dtype in NUMPY:
            array = np.frombuffer(data, dtype=np.dtype(NUMPY[dtype]), count=int(np.prod(shape, dtype=np.int64)),
                                  offset=begin).reshape(shape)
            if array.nbytes != end - begin:
                raise Invalid(f"{name}: numpy view has {array.nbytes} bytes, span has {end - begin}")

    if kmr_layout:
        if n % 8 or not raw.rstrip(b" ").endswith(b"}"):
            raise Invalid("header is not space-padded to a multiple of 8 bytes")
        by_offset = [s[2] for s in spans]
        if by_offset != sorted(by_offset):
            raise Invalid("tensors are not laid out in name order")
    return {s[2] for s in spans}


def check_index(path, kmr_layout):
    with open(path, "rb") as f:
        index = json.loads(f.read().decode("utf-8"), object_pairs_hook=no_duplicates)
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict):
        raise Invalid("no weight_map object")
    by_shard = {}
    for tensor, shard in weight_map.items():
        if not isinstance(shard, str) or os.path.isabs(shard) or ".." in shard.split("/"):
            raise Invalid(f"{tensor}: bad shard name {shard!r}")
        by_shard.setdefault(shard, set()).add(tensor)
    seen = set()
    for shard, expected in by_shard.items():
        shard_path = os.path.join(os.path.dirname(path), shard)
        if not os.path.isfile(shard_path):
            raise Invalid(f"missing shard {shard}")
        try:
            names = check_file(shard_path, kmr_layout)
        except Invalid as e:
            raise Invalid(f"shard {shard}: {e}")
        if names != expected:
            raise Invalid(f"shard {shard} holds {sorted(names)}, weight_map lists {sorted(expected)}")
        if names & seen:
            raise Invalid(f"tensors in two shards: {sorted(names & seen)}")
        seen |= names


def main(argv):
    kmr_layout = "--kmr-layout" in argv
    paths = [a for a in argv if a != "--kmr-layout"]
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    for path in paths:
        try:
            if path.endswith(".json"):
                check_index(path, kmr_layout)
            else:
                check_file(path, kmr_layout)
        except (Invalid, OSError, ValueError) as e:
            print(f"{path}: invalid: {e}", file=sys.stderr)
            return 1
        print(f"{path}: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
