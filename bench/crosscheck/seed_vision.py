"""Cross-check of muonssm's vision layout against the seed's own vision
mixer modules (MuonMambaVisionMixer, MuonLonghornVisionMixer), on the
weights and input muonssm-run drew (its --dump of
examples/muon_{mamba,longhorn}_vision_mixer.mlir).

The seed's modules are imported unchanged from a carried copy of the seed
repository (SEED_DIR: muon_mambavision.py, muon_longhornvision.py; not part
of this project); what they call from the seed's CUDA extension is replaced
by the per-token recurrences of SEMANTICS.md §3.1-3.2 written here in
float64 torch (NS exact, where the seed's runs in bf16), the modules
themselves in float32 as the seed runs them. So the check covers
the modules' own code, the part muonssm read from source: the split of
in_proj, the 'same'-padded convs on both halves, the dt projection and its
bias, the ungated scan, cat(y, z) and out_proj.

  SEED_DIR=... python3 bench/crosscheck/seed_vision.py MAMBA_DUMP LONGHORN_DUMP
"""
import importlib.util
import os
import pathlib
import sys
import types

import numpy as np
import torch
import torch.nn.functional as F


def ns5(x, steps):
    """Muon's quintic on each matrix of x [..., R, C] (exact, no bf16)."""
    a, b, c = 3.4445, -4.7750, 2.0315
    transposed = x.shape[-2] > x.shape[-1]
    if transposed:
        x = x.mT
    x = x / (x.norm(dim=(-2, -1), keepdim=True) + 1e-7)
    for _ in range(steps):
        m = x @ x.mT
        x = a * x + (b * m + c * m @ m) @ x
    return x.mT if transposed else x


def mamba_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None,
               delta_softplus=False, return_last_state=None, beta=0.0,
               alpha=1.0, ns_steps=1, use_ns=True, **_):
    """SEMANTICS.md §3.1 for u, delta [b, d, l], A [d, n], B, C [b, n, l]."""
    dtype = u.dtype
    u, delta, A, B, C = (t.double() for t in (u, delta, A, B, C))
    if delta_bias is not None:
        delta = delta + delta_bias.double()[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    batch, dim, length = u.shape
    h = u.new_zeros(batch, dim, A.shape[1])
    v = torch.zeros_like(h)
    ys = []
    for t in range(length):
        x = alpha * delta[:, :, t, None] * u[:, :, t, None] * B[:, None, :, t]
        v = float(beta) * v + (ns5(x, ns_steps) if use_ns else x)
        h = torch.exp(delta[:, :, t, None] * A) * h + v
        ys.append((h * C[:, None, :, t]).sum(-1))
    y = torch.stack(ys, dim=2) + u * D.double()[:, None]
    y = y * F.silu(z.double()) if z is not None else y
    return y.to(dtype)


def longhorn_scan(u, q, k, dt, D=None, t_bias=None, z=None,
                  return_last_state=None, beta=0.0, alpha=1.0, ns_steps=1,
                  ns_mode=None, use_ns=True, **_):
    """SEMANTICS.md §3.2 for u, dt [b, d, l] and q, k [b, n, l]."""
    dtype = u.dtype
    u, q, k, dt = (t.double() for t in (u, q, k, dt))
    dt = torch.sigmoid(dt + t_bias.double()[:, None])
    batch, dim, length = u.shape
    h = u.new_zeros(batch, dim, k.shape[1])
    v = torch.zeros_like(h)
    ys = []
    for t in range(length):
        kt = k[:, None, :, t]
        dtn = dt[:, :, t, None] / (1 + dt[:, :, t, None] * (kt * kt).sum(-1, keepdim=True))
        x = dtn * u[:, :, t, None] * kt
        if use_ns:
            v = float(beta) * v + alpha * ns5(x, ns_steps)
        elif beta > 0:
            v = float(beta) * v + alpha * x
        else:
            v = x
        h = (1 - dtn * kt * kt) * h + v
        ys.append((h * q[:, None, :, t]).sum(-1))
    y = torch.stack(ys, dim=2) + u * D.double()[:, None]
    y = y * F.silu(z.double()) if z is not None else y
    return y.to(dtype)


def stub_interface():
    """The seed's selective_scan_interface, as far as the modules use it."""
    interface = types.ModuleType("mamba_ssm.ops.selective_scan_interface")
    interface.selective_scan_fn_orth = lambda *a, **k: mamba_scan(*a, use_ns=True, **k)
    interface.selective_scan_fn = lambda *a, **k: mamba_scan(*a, use_ns=False, **k)
    interface.selective_scan_online_orth_fn = lambda *a, **k: longhorn_scan(*a, use_ns=True, **k)
    interface.selective_scan_online7_fn = lambda *a, **k: longhorn_scan(*a, use_ns=False, **k)
    for name in ("mamba_ssm", "mamba_ssm.ops"):
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["mamba_ssm.ops.selective_scan_interface"] = interface


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(module, dump):
    d = {p.stem: torch.from_numpy(np.load(p)) for p in dump.glob("*.npy")}
    with torch.no_grad():
        module.in_proj.weight.copy_(d["in_proj"])
        module.conv1d_x.weight.copy_(d["conv1d_x_weight"][:, None, :])
        module.conv1d_x.bias.copy_(d["conv1d_x_bias"])
        module.conv1d_z.weight.copy_(d["conv1d_z_weight"][:, None, :])
        module.conv1d_z.bias.copy_(d["conv1d_z_bias"])
        module.x_proj.weight.copy_(d["x_proj"])
        module.dt_proj.weight.copy_(d["dt_proj_weight"])
        module.dt_proj.bias.copy_(d["dt_proj_bias"])
        if hasattr(module, "A_log"):
            module.A_log.copy_(d["A_log"])
        module.D.copy_(d["D"])
        module.out_proj.weight.copy_(d["out_proj"])
        theirs = module(d["x"]).double().numpy()
    ours = d["y"].double().numpy()
    return np.linalg.norm(ours - theirs) / np.linalg.norm(theirs)


def main():
    # The modules in float32, as the seed runs them (they cast A, D and the
    # dt bias to float32 themselves); the recurrences above in float64.
    seed = pathlib.Path(os.environ["SEED_DIR"])
    stub_interface()
    mamba = load(seed / "muon_mambavision.py", "seed_mambavision")
    longhorn = load(seed / "muon_longhornvision.py", "seed_longhornvision")
    # The README's usage: d_model 256, d_state 16, γ (the seed's beta) 0.9,
    # α (τ) 1.0, NS on, 1 step.
    m = mamba.MuonMambaVisionMixer(d_model=256, d_state=16, beta=0.9, alpha=1.0,
                                   use_newton_schulz=True)
    l = longhorn.MuonLonghornVisionMixer(d_model=256, d_state=16, beta=0.9, alpha=1.0,
                                         use_newton_schulz=True)
    print(f"MuonMambaVisionMixer: rel err of muonssm (f32, CPU) vs the seed's module "
          f"(f32, scans in f64) {run(m, pathlib.Path(sys.argv[1])):.3e}")
    print(f"MuonLonghornVisionMixer: rel err of muonssm (f32, CPU) vs the seed's module "
          f"(f32, scans in f64) {run(l, pathlib.Path(sys.argv[2])):.3e}")


main()
