"""Packs a directory of .npy files (muonssm-run --dump) into one .safetensors
file, each tensor named after its file. Plain Python (no numpy): the test
data are little-endian f32/i32 arrays.

  npy_to_safetensors.py DIR OUT [--conv-as-torch] [--only NAME,...]
                        [--exclude NAME,...] [--reshape NAME=2x3]

--conv-as-torch stores depthwise conv weights [C, W] as PyTorch's [C, 1, W].
"""
import ast
import json
import pathlib
import struct
import sys

DTYPES = {"<f4": ("F32", 4), "<i4": ("I32", 4), "<f8": ("F64", 8), "<i8": ("I64", 8)}


def read_npy(path):
    raw = path.read_bytes()
    assert raw[:6] == b"\x93NUMPY", path
    major = raw[6]
    if major == 1:
        (hlen,) = struct.unpack("<H", raw[8:10])
        start = 10
    else:
        (hlen,) = struct.unpack("<I", raw[8:12])
        start = 12
    header = ast.literal_eval(raw[start:start + hlen].decode("latin1"))
    return header["descr"], list(header["shape"]), raw[start + hlen:]


def main():
    src, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    args = sys.argv[3:]
    torch_conv = "--conv-as-torch" in args
    only = None
    exclude = set()
    reshape = {}
    for i, a in enumerate(args):
        if a == "--only":
            only = set(args[i + 1].split(","))
        if a == "--exclude":
            exclude = set(args[i + 1].split(","))
        if a == "--reshape":
            name, dims = args[i + 1].split("=")
            reshape[name] = [int(d) for d in dims.split("x")]
    header, blobs, offset = {}, [], 0
    for path in sorted(src.glob("*.npy")):
        name = path.stem
        if (only is not None and name not in only) or name in exclude:
            continue
        descr, shape, data = read_npy(path)
        dtype, size = DTYPES[descr]
        if torch_conv and "conv1d" in name and name.endswith(".weight"):
            shape = [shape[0], 1, shape[1]]
        shape = reshape.get(name, shape)
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    out.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


main()
