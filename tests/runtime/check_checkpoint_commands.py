#!/usr/bin/env python3
"""End-to-end test of `kmrc inspect` and `kmrc decode` on the files runtime_write_compressed_sample
writes. The compressed layout is decoded here a second time, from docs/format.md alone, with
numpy, and `kmrc decode`'s output must match it bit for bit.

usage: check_checkpoint_commands.py KMRC SAMPLE_DIR
"""
import json
import os
import struct
import subprocess
import sys

import numpy as np

DTYPES = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I8": "i1", "U8": "u1", "I32": "<i4", "I64": "<i8"}


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = blob[8 + n:]
    tensors = {}
    for name, t in header.items():
        begin, end = t["data_offsets"]
        raw = data[begin:end]
        if t["dtype"] == "BF16":
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            array = bits.view(np.float32)
        else:
            array = np.frombuffer(raw, dtype=np.dtype(DTYPES[t["dtype"]]))
        tensors[name] = (t["dtype"], t["shape"], array.reshape(t["shape"]), raw)
    return meta, tensors


def unpack(words, bits, count, axis_len):
    """Rows of LSB-first `bits`-bit fields, offset by 2^(bits-1), cut to `count` per row."""
    k = 32 // bits
    w = words.astype(np.int64) & 0xFFFFFFFF
    fields = np.stack([(w >> (j * bits)) & ((1 << bits) - 1) for j in range(k)], axis=-1)
    fields = fields.reshape(axis_len, -1)[:, :count]
    return fields - (1 << (bits - 1))


def dequantize(module, t, scheme, shape):
    rows = shape[0] if shape else 1
    cols = int(np.prod(shape[1:], dtype=np.int64)) if len(shape) > 1 else 1
    bits = scheme["num_bits"]
    scale = t[module + ".weight_scale"][2].astype(np.float32)
    strategy = scheme["strategy"]
    if strategy == "tensor":
        unit = np.zeros((rows, cols), dtype=np.int64)
    elif strategy == "channel":
        unit = np.repeat(np.arange(rows)[:, None], cols, axis=1)
    else:
        g = scheme["group_size"]
        groups = -(-cols // g)
        unit = np.arange(rows)[:, None] * groups + (np.arange(cols)[None, :] // g)
    zero = np.zeros(scale.size, dtype=np.int64)
    if not scheme["symmetric"]:
        zp = t[module + ".weight_zero_point"]
        if zp[0] == "I32":  # packed along columns
            zero = unpack(zp[2].T, bits, rows, zp[2].shape[1]).T.reshape(-1)
        else:
            zero = zp[2].reshape(-1).astype(np.int64)
    if module + ".bitmask" in t:  # sparse-quantized: the zero point where the mask is clear
        mask = np.unpackbits(t[module + ".bitmask"][2], axis=-1, count=cols, bitorder="little").astype(bool)
        stored = unpack(t[module + ".weight_packed"][2].reshape(1, -1), bits, int(mask.sum()), 1).reshape(-1)
        codes = zero[unit].copy()
        codes[mask] = stored
        if np.any(stored == zero[unit][mask]):
            raise ValueError(f"{module}: a stored code equals its zero point, which the writer leaves out")
    elif module + ".weight_packed" in t:
        codes = unpack(t[module + ".weight_packed"][2], bits, cols, rows)
    else:
        codes = t[module + ".weight"][2].reshape(rows, cols).astype(np.int64)
    diff = (codes - zero[unit]).astype(np.float32)
    return (diff * scale.reshape(-1)[unit]).astype(np.float32).reshape(shape)


def to_bf16_bits(values):
    """Round-to-nearest-even f32 -> bf16, as 16-bit patterns (no NaNs in these tests)."""
    u = values.astype(np.float32).view(np.uint32).astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def main(kmrc, sample_dir):
    failures = []

    def check(cond, what):
        if not cond:
            failures.append(what)

    compressed = os.path.join(sample_dir, "compressed.safetensors")
    meta, stored = read_safetensors(compressed)
    config = json.loads(meta["quantization_config"])
    dtypes = json.loads(meta["kmr.dtypes"])
    scheme_of = {}
    for group in config["config_groups"].values():
        for target in group["targets"]:
            scheme_of[target] = group["weights"]

    # inspect --json
    r = run([kmrc, "inspect", compressed, "--json"])
    check(r.returncode == 0, f"inspect --json exit {r.returncode}: {r.stderr}")
    report = json.loads(r.stdout)
    rows = {t["name"]: t for t in report["tensors"]}
    expected_encodings = {"q8.weight": "int-quantized", "q4.weight": "pack-quantized", "q3.weight": "sparse-quantized",
                          "q2.weight": "sparse-quantized", "qb.weight": "pack-quantized",
                          "sp.weight": "sparse-bitmask", "lr.weight": "low-rank", "lq.weight": "low-rank",
                          "nan.weight": "dense", "q8.bias": "dense", "scalar": "dense"}
    check(set(rows) == set(expected_encodings), f"inspect rows {sorted(rows)}")
    for name, encoding in expected_encodings.items():
        check(rows.get(name, {}).get("encoding") == encoding, f"{name}: encoding {rows.get(name, {}).get('encoding')}")
    check(rows["nan.weight"]["nan"] == 1 and rows["nan.weight"]["inf"] == 2, "nan.weight: NaN/Inf counts")
    check(report["totals"]["nan"] == 1 and report["totals"]["inf"] == 2, "totals: NaN/Inf counts")
    check(rows["q4.weight"]["scheme"] == "int4 group 32 asym", f"q4 scheme {rows['q4.weight']['scheme']}")
    check(rows["qb.weight"]["dtype"] == "BF16", "qb.weight: original dtype")
    check(rows["q4.weight"]["shape"] == [5, 70], "q4.weight: dense shape")
    part_names = sorted(p["name"] for p in rows["q4.weight"]["parts"])
    check(part_names == ["q4.weight_packed", "q4.weight_scale", "q4.weight_shape", "q4.weight_zero_point"],
          f"q4.weight parts {part_names}")
    data_bytes = os.path.getsize(compressed) - 8 - struct.unpack("<Q", open(compressed, "rb").read(8))[0]
    check(report["totals"]["bytes"] == data_bytes, f"total bytes {report['totals']['bytes']} != data {data_bytes}")
    q4_bytes = sum(len(stored[p][3]) for p in part_names)
    check(rows["q4.weight"]["bytes"] == q4_bytes, "q4.weight bytes")
    check(abs(rows["q4.weight"]["bits_per_weight"] - q4_bytes * 8 / 350) < 1e-9, "q4.weight bits per weight")
    q3_parts = sorted(p["name"] for p in rows["q3.weight"]["parts"])
    check(q3_parts == ["q3.bitmask", "q3.weight_packed", "q3.weight_scale", "q3.weight_shape"],
          f"q3.weight parts {q3_parts}")
    check(rows["q3.weight"]["scheme"] == "int3 channel sym", f"q3 scheme {rows['q3.weight']['scheme']}")
    check(rows["q3.weight"]["bytes"] == sum(len(stored[p][3]) for p in q3_parts), "q3.weight bytes")
    check(stored["q3.weight_packed"][1] == [-(-int(np.unpackbits(stored["q3.bitmask"][2]).sum()) // 10)],
          f"q3.weight_packed shape {stored['q3.weight_packed'][1]}: one flat run of 10 codes a word")
    formats = {g["targets"][0]: g["format"] for g in config["config_groups"].values()}
    check(formats.get("q3") == "sparse-quantized" and formats.get("q4") == "pack-quantized",
          f"config group formats {formats}")

    # inspect as a table
    r = run([kmrc, "inspect", compressed])
    check(r.returncode == 0, f"inspect exit {r.returncode}")
    lines = r.stdout.splitlines()
    check(lines and lines[0].split()[:5] == ["name", "dtype", "shape", "bytes", "encoding"], "table header")
    check(any(l.startswith("q4.weight ") and "pack-quantized" in l and "int4 group 32 asym" in l for l in lines),
          "table row for q4.weight")
    check(any(l.startswith("q3.weight ") and "sparse-quantized" in l for l in lines), "table row for q3.weight")
    check(any(l.startswith("total ") for l in lines), "table totals row")

    # decode, checked against the independent decoding
    out = os.path.join(sample_dir, "decoded.safetensors")
    if os.path.exists(out):
        os.remove(out)
    r = run([kmrc, "decode", compressed, "-o", out])
    check(r.returncode == 0, f"decode exit {r.returncode}: {r.stderr}")
    dmeta, dense = read_safetensors(out)
    check("quantization_config" not in dmeta and dmeta.get("kmr.version") == "0.1.0", "decoded metadata")
    for name, encoding in expected_encodings.items():
        module = name[: -len(".weight")]
        dtype, shape, array, raw = dense[name]
        if encoding == "dense":
            check(raw == stored[name][3], f"{name}: dense bytes copied")
            continue
        check(dtype == dtypes[name], f"{name}: decoded dtype {dtype}")
        if encoding in ("int-quantized", "pack-quantized", "sparse-quantized"):
            shape_stored = (list(stored[module + ".weight_shape"][2]) if module + ".weight_shape" in stored
                            else stored[name][1])
            try:
                want = dequantize(module, stored, scheme_of[module], [int(d) for d in shape_stored])
            except ValueError as e:
                check(False, str(e))
                continue
        elif encoding == "sparse-bitmask":
            dshape = [int(d) for d in stored[module + ".shape"][2]]
            mask = np.unpackbits(stored[module + ".bitmask"][2], axis=-1, count=dshape[-1], bitorder="little")
            want = np.zeros(dshape, dtype=np.float32)
            want[mask.astype(bool)] = stored[module + ".compressed"][2]
        else:
            def factor(which):
                # F32 factors are p.weight_u / p.weight_v; quantized ones the modules p.weight_u / p.weight_v.
                m = module + ".weight_" + which
                if m in stored:
                    return stored[m][2]
                fshape = (list(stored[m + ".weight_shape"][2]) if m + ".weight_shape" in stored
                          else stored[m + ".weight"][1])
                return dequantize(m, stored, scheme_of[m], [int(d) for d in fshape])
            u, v = factor("u"), factor("v")
            want = np.zeros((u.shape[0], v.shape[1]), dtype=np.float32)
            for k in range(u.shape[1]):
                want = (want + (u[:, k:k + 1] * v[k:k + 1, :]).astype(np.float32)).astype(np.float32)
        if dtype == "BF16":
            got_bits = np.frombuffer(raw, dtype="<u2")
            check(np.array_equal(got_bits, to_bf16_bits(want).reshape(-1)), f"{name}: BF16 bits")
        else:
            check(raw == want.astype("<f4").tobytes(), f"{name}: decoded bits differ from the format's definition")

    # errors: `file: error: message`, exit 1, nothing written
    bad = os.path.join(sample_dir, "missing_scale.safetensors")
    r = run([kmrc, "inspect", bad])
    check(r.returncode == 1, f"inspect of a malformed file exits {r.returncode}")
    check(r.stderr.startswith(bad + ": error: ") and "'q4.weight_scale'" in r.stderr, f"inspect error: {r.stderr!r}")
    target = os.path.join(sample_dir, "never.safetensors")
    r = run([kmrc, "decode", bad, "-o", target])
    check(r.returncode == 1 and not os.path.exists(target), "decode of a malformed file")
    check(r.stderr.startswith(bad + ": error: "), f"decode error: {r.stderr!r}")
    r = run([kmrc, "decode", compressed, "-o", os.path.join(sample_dir, "no", "such", "dir.safetensors")])
    check(r.returncode == 1 and ": error: " in r.stderr and "Traceback" not in r.stderr, "decode to a missing dir")

    for f in failures:
        print("FAIL:", f)
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
