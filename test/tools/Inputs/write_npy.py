"""Writes a .npy file without numpy, for tests of the input checks.

    write_npy.py OUT DESCR SHAPE [VALUES]

DESCR is a numpy descr ('<f4', '<i4', '<u2' for bf16 bits, ...), SHAPE a
comma-separated list ('1,130,2,64'; '' for a scalar) and VALUES a
comma-separated list of numbers, repeated to fill the array (default 0).
"""
import struct
import sys

out, descr, shape_text = sys.argv[1:4]
shape = [int(d) for d in shape_text.split(",") if d]
values = [float(x) for x in sys.argv[4].split(",")] if len(sys.argv) > 4 else [0]
count = 1
for d in shape:
    count *= d
code = {"<f4": "f", "<f8": "d", "<i4": "i", "<i8": "q", "<u2": "H"}[descr]
cast = float if code in "fd" else int
data = struct.pack("<%d%s" % (count, code),
                   *(cast(values[i % len(values)]) for i in range(count)))
dims = "".join("%d, " % d for d in shape) if len(shape) != 1 else "%d," % shape[0]
header = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (descr, dims)
header += " " * (-(10 + len(header) + 1) % 64) + "\n"
with open(out, "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)))
    f.write(header.encode("latin-1") + data)
