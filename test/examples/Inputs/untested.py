"""Prints every example (examples/*.mlir or *.toml) without a test/examples/<stem>.test."""
import pathlib
import sys

examples, tests = map(pathlib.Path, sys.argv[1:3])
for example in sorted(examples.iterdir()):
    if example.suffix in (".mlir", ".toml") and not (tests / (example.stem + ".test")).exists():
        print(example.name)
