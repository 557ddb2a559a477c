#!/usr/bin/env python3
"""Compiles the GPU numerics and benchmark models into kernel bundles.

Usage: bench/gpu/make_bundles.py [--options=OPTS] [--prefix=P] BUILD_DIR OUT_DIR
                                  [numerics|bench|all] [NAME_REGEX]
Runs here (MLIR): muonssm-opt --muonssm-to-gpu[=OPTS], muonssm-translate --emit-bundle.
OPTS are the pipeline's options, e.g. --options='solve=kernel wgmma-overlap=true';
bundles are named P + num_NAME / bench_NAME (variants for bench/gpu/compare.sh:
P = VARIANT__). NAME_REGEX filters the names without P.
"""
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(__file__))
import models  # noqa: E402


def build(build_dir, out_dir, name, text, options=""):
    d = os.path.join(out_dir, name)
    src = d + ".mlir"
    with open(src, "w") as f:
        f.write(text)
    pipeline = "--muonssm-to-gpu" + ("=" + options if options else "")
    gpu = subprocess.run([os.path.join(build_dir, "bin", "muonssm-opt"), src, pipeline],
                         capture_output=True, text=True)
    if gpu.returncode:
        return name, gpu.stderr
    tr = subprocess.run([os.path.join(build_dir, "bin", "muonssm-translate"), "--emit-bundle",
                         "-o", d], input=gpu.stdout, capture_output=True, text=True)
    return name, tr.stderr if tr.returncode else ""


def main():
    options, prefix = "", ""
    args = sys.argv[1:]
    while args and args[0].startswith("--"):
        flag = args.pop(0)
        if flag.startswith("--options="):
            options = flag[len("--options="):]
        elif flag.startswith("--prefix="):
            prefix = flag[len("--prefix="):]
        else:
            sys.exit(f"unknown flag {flag}")
    build_dir, out_dir = args[0], args[1]
    which = args[2] if len(args) > 2 else "all"
    todo = {}
    if which in ("numerics", "all"):
        todo.update({"num_" + k: v for k, v in models.numerics_models().items()})
    if which in ("bench", "all"):
        todo.update({"bench_" + k: v for k, v in models.bench_models().items()})
    if len(args) > 3:
        todo = {k: v for k, v in todo.items() if re.search(args[3], k)}
    todo = {prefix + k: v for k, v in todo.items()}
    os.makedirs(out_dir, exist_ok=True)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda kv: build(build_dir, out_dir, *kv, options),
                                todo.items()))
    failed = [(n, e) for n, e in results if e]
    for n, e in failed:
        print(f"FAILED {n}: {e.strip()[:300]}")
    print(f"{len(results) - len(failed)} bundles in {out_dir}, {len(failed)} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
