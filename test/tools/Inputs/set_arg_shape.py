"""Rewrites one argument's shape in a bundle's manifest, for tests of the
checks on sizes that the manifest, not a file, fixes.

    set_arg_shape.py MANIFEST ARG SHAPE

SHAPE is a comma-separated list of integers ('1,99999999999,2,64').
"""
import json
import sys

path, arg, shape_text = sys.argv[1:4]
with open(path) as f:
    manifest = json.load(f)
for a in manifest["entry"]["args"]:
    if a["name"] == arg:
        a["shape"] = [int(d) for d in shape_text.split(",")]
        break
else:
    sys.exit(f"no argument {arg} in {path}")
with open(path, "w") as f:
    json.dump(manifest, f)
