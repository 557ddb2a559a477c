#!/usr/bin/env python3
"""A random sweep of the GPU lowering: scans and pipeline options, no GPU.

Usage: bench/gpu/sweep_lowering.py BUILD_DIR [COUNT] [SEED]

Draws COUNT (default 200) random scans from models.scan (head dims 1-300,
lengths 1-200, bf16/f16/f32, every decay, the delta rule, momentum, the paper
form, varlen, states, state pools, per-channel β) and for each a random set
of --muonssm-to-gpu options (the tuning options included), then runs
muonssm-opt, muonssm-translate --emit-ptx and ptxas for the chosen chip.
Every scan must either assemble or be refused with one located error; a
crash, an assertion, a translate failure or a ptxas rejection is a finding
(its model and options are kept as finding-N.mlir in a temporary
directory the summary names). Prints one
line a finding and a summary with the refusals by message; exits 1 on any
finding. Needs ptxas on PATH
(or in /usr/local/cuda/bin).
"""
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import models  # noqa: E402

DIMS = [1, 8, 16, 20, 32, 42, 48, 56, 64, 84, 96, 112, 128, 160, 192, 256, 300]


def random_scan(rng, i):
    dtype = rng.choice(["bf16", "bf16", "f16", "f32"])
    decay = rng.choice(["scalar", "scalar", "none", "diagonal", "mamba", "longhorn"])
    K, V = rng.choice(DIMS), rng.choice(DIMS)
    T = rng.choice([1, 15, 16, 63, 64, 65, 130, 200])
    varlen = rng.choice([0, 0, 0, 3])
    B = 1 if varlen else rng.choice([1, 2, 4])
    H = rng.choice([1, 2, 4])
    attrs = ""
    momentum = None
    if decay in ("none", "scalar", "diagonal"):
        if rng.random() < 0.6:
            attrs += "delta_rule = 1.0, "
        if rng.random() < 0.4:
            momentum = rng.choice([0.5, 0.9])
            if rng.random() < 0.5:
                attrs += models.CUBIC_UPDATE
    pool = rng.choice([0, 0, 0, 8]) if not varlen else 0
    states = bool(pool) or rng.random() < 0.4
    return models.scan(
        f"sweep{i}", B, T, H, H, K, V, dtype=dtype, decay=decay, attrs=attrs,
        varlen=varlen, states=states, momentum=momentum, pool=pool,
        channel_beta=decay in ("none", "scalar", "diagonal") and rng.random() < 0.1)


def random_options(rng):
    options = []
    if rng.random() < 0.3:
        options.append("lean-barriers=true")
    if rng.random() < 0.3:
        options.append("solve=" + rng.choice(["kernel", "chunk"]))
    if rng.random() < 0.2:
        options.append("wgmma-overlap=false")
    if rng.random() < 0.3:
        options.append("value-tile=" + str(rng.choice([16, 32, 48, 64, 96, 128])))
    if rng.random() < 0.3:
        options.append("blocks-per-sm=" + str(rng.choice([1, 2])))
    chip = "sm_90a"
    if rng.random() < 0.15:
        chip = rng.choice(["sm_90", "sm_80"])
        options.append("chip=" + chip)
    if rng.random() < 0.05:
        options.append("chunk-size=0")
    return options, chip


def crashed(proc):
    return proc.returncode < 0 or re.search(
        r"Assertion|Stack dump|LLVM ERROR|PLEASE submit", proc.stderr)


def main():
    build = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    ptxas = shutil.which("ptxas") or "/usr/local/cuda/bin/ptxas"
    opt = os.path.join(build, "bin", "muonssm-opt")
    translate = os.path.join(build, "bin", "muonssm-translate")
    out = tempfile.mkdtemp(prefix="muonssm-sweep-")
    rng = random.Random(seed)
    assembled = refused = 0
    findings = []
    reasons = {}
    for i in range(count):
        text = random_scan(rng, i)
        options, chip = random_options(rng)
        src = os.path.join(out, "scan.mlir")
        with open(src, "w") as f:
            f.write(text)
        pipeline = "--muonssm-to-gpu" + ("=" + " ".join(options) if options else "")
        why = ""
        gpu = subprocess.run([opt, src, pipeline], capture_output=True, text=True)
        if crashed(gpu):
            why = "muonssm-opt crashed"
        elif gpu.returncode:
            errors = [l for l in gpu.stderr.splitlines() if ": error:" in l]
            if len(errors) != 1 or not re.match(r".+:\d+:\d+: error: ", errors[0]) or \
                    ":0:0: error:" in errors[0]:
                why = "muonssm-opt failed without one located error"
            else:
                refused += 1
                reason = re.sub(r"\d+", "N", errors[0].split(": error: ", 1)[1])
                reasons[reason] = reasons.get(reason, 0) + 1
        else:
            ptx = os.path.join(out, "k.ptx")
            tr = subprocess.run([translate, "--emit-ptx", "-o", ptx], input=gpu.stdout,
                                capture_output=True, text=True)
            if tr.returncode:
                why = "muonssm-translate failed"
            else:
                asm = subprocess.run([ptxas, "-arch=" + chip, ptx, "-o", os.devnull],
                                     capture_output=True, text=True)
                if asm.returncode:
                    why = "ptxas rejected the PTX"
                else:
                    assembled += 1
        if why:
            path = os.path.join(out, f"finding-{len(findings)}.mlir")
            with open(path, "w") as f:
                f.write(f"// {why}; options: {pipeline}\n{text}")
            findings.append(path)
            print(f"FINDING {why}: {path} ({pipeline})", flush=True)
    print(f"{count} scans (seed {seed}): {assembled} assembled, {refused} refused with a "
          f"located error, {len(findings)} findings (in {out})")
    for reason, n in sorted(reasons.items(), key=lambda x: -x[1]):
        print(f"  refused {n}×: {reason[:160]}")
    sys.exit(1 if findings else 0)


if __name__ == "__main__":
    main()
