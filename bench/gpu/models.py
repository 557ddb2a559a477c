"""MLIR text of the scans the GPU numerics and benchmarks run (bench/gpu).

Each model is a func.func @main with one muonssm.scan and named arguments,
so muonssm-bundle-run can draw its inputs (or read them) and check it.
"""


def _t(dims, elt):
    return "tensor<" + "x".join(str(d) for d in dims) + "x" + elt + ">"


def scan(name, B, T, H, HV, K, V, dtype="bf16", decay="scalar", attrs="",
         input_kind="update", channel_beta=False, varlen=0, states=False,
         momentum=None, tau=1.0, scale=None, gate_dtype="f32", pool=0, skip_gate=False):
    """One scan. `varlen` = number of packed sequences (B must be 1);
    `pool` = P > 0: the states are pools of P slots selected by
    state_indices and updated in place (decode); `skip_gate`: Mamba's D
    skip and SiLU(z) gate (z in the input type)."""
    if scale is None:
        scale = 1.0 / K ** 0.5 if decay in ("none", "scalar", "diagonal") else 1.0
    qk, vt = _t([B, T, H, K], dtype), _t([B, T, HV, V], dtype)
    N = varlen if varlen else B
    st = _t([pool if pool else N, HV, K, V], "f32")
    args = [("q", qk), ("k", qk), ("v", vt)]
    ops = f"q(%q : {qk}) k(%k : {qk}) v(%v : {vt})"

    def operand(n, kw, ty):
        nonlocal ops
        args.append((n, ty))
        ops += f" {kw}(%{n} : {ty})"

    if decay == "scalar":
        operand("g", "g", _t([B, T, HV], gate_dtype))
    elif decay == "diagonal":
        operand("g", "g", _t([B, T, HV, K], gate_dtype))
    elif decay == "mamba":
        operand("dt", "dt", _t([B, T, HV, V], gate_dtype))
        operand("A", "A", _t([HV, K, V], gate_dtype))
        ops += f" beta(%dt : {_t([B, T, HV, V], gate_dtype)})"
    elif decay == "longhorn":
        operand("dt", "dt", _t([B, T, HV, V], gate_dtype))
    if decay in ("none", "scalar", "diagonal"):
        operand("beta", "beta", _t([B, T, HV, V] if channel_beta else [B, T, HV], gate_dtype))
    if skip_gate:
        operand("D", "skip", _t([HV, V], "f32"))
        operand("z", "gate", vt)
    if varlen:
        operand("cu", "cu_seqlens", _t([varlen + 1], "i32"))
    if states:
        operand("s0", "initial_state", st)
        if momentum is not None:
            operand("m0", "initial_momentum", st)
    if pool:
        operand("slots", "state_indices", _t([N], "i32"))
    results = [("o", vt)]
    rtypes = f"o {vt}"
    if states:
        results.append(("final_state", st))
        rtypes += f" final_state {st}"
        if momentum is not None:
            results.append(("final_momentum", st))
            rtypes += f" final_momentum {st}"
    # Attribute order of the assembly format: delta_rule, momentum, NS.
    delta = "delta_rule = 1.0, " if "delta_rule" in attrs else ""
    ns = attrs.replace("delta_rule = 1.0, ", "")
    mom = f"momentum = {momentum}, " if momentum is not None else ""
    params = ",\n    ".join(f'%{n}: {t} {{muonssm.name = "{n}"}}' for n, t in args)
    rets = ", ".join(f'{t} {{muonssm.name = "{n}"}}' for n, t in results)
    names = ", ".join("%" + ("r" + str(i)) for i in range(len(results)))
    return f"""// {name}
func.func @main({params})
    -> ({rets}) {{
  {names} = muonssm.scan {ops}
      decay = {decay}, input = {input_kind}, {delta}{mom}{ns}tau = {tau}, scale = {scale}
      -> {rtypes}
  return {names} : {", ".join(t for _, t in results)}
}}
"""


CUBIC_UPDATE = "newton_schulz = <cubic, max, eps = 1.0e-06, steps = 1> on update with tau inside, "
QUINTIC_UPDATE = "newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1> on update with tau inside, "
QUINTIC_AFTER = "newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1> on update with tau after, "
QUINTIC_MOMENTUM = "newton_schulz = <quintic, add, eps = 1.0e-07, steps = 1> on momentum with tau inside, "
CUBIC_MOMENTUM_AFTER = "newton_schulz = <cubic, max, eps = 1.0e-06, steps = 1> on momentum with tau after, "


def numerics_models():
    """Issue 5's grid: T around chunk sizes, head dims, dtypes, variants."""
    models = {}
    for K, V in [(64, 64), (128, 128), (256, 256), (42, 84)]:
        for T in [1, 63, 64, 65, 4096]:
            B, H, HV = (1, 2, 2) if T == 4096 else (2, 2, 4)
            for dt in ["bf16", "f32"]:
                tag = f"K{K}_V{V}_T{T}_{dt}"
                models[f"gdn_{tag}"] = scan("gated deltanet", B, T, H, HV, K, V, dt,
                                            attrs="delta_rule = 1.0, ")
                models[f"gdn_momentum_states_{tag}"] = scan(
                    "gated deltanet, momentum, initial/final states", B, T, H, HV, K, V, dt,
                    attrs="delta_rule = 1.0, ", momentum=0.9, states=True)
                models[f"paper_{tag}"] = scan(
                    "paper form: cubic NS of the rank-1 update (gain kernel)", B, T, H, HV, K, V,
                    dt, attrs="delta_rule = 1.0, " + CUBIC_UPDATE, momentum=0.9, scale=1.0)
                models[f"error_momentum_{tag}"] = scan(
                    "error input with momentum, no NS", B, T, H, HV, K, V, dt,
                    input_kind="error", momentum=0.9)
                models[f"gla_{tag}"] = scan("diagonal decay", B, T, H, HV, K, V, dt,
                                            decay="diagonal")
                if T > 1:
                    models[f"varlen_{tag}"] = scan(
                        "varlen: 3 packed sequences, initial/final states", 1, T, H, HV, K, V,
                        dt, attrs="delta_rule = 1.0, ", varlen=3, states=True)
    # The tensor-core chunked kernel, piece by piece: plain linear attention,
    # + scalar decay, + delta rule, both (padding: K 42/32, V 84/48; tails:
    # T 1, 65, 200; K 256 halves the value tile).
    for tag, decay, attrs in [("lin", "none", ""), ("ret", "scalar", ""),
                              ("dn", "none", "delta_rule = 1.0, "),
                              ("gdn", "scalar", "delta_rule = 1.0, ")]:
        for K, V in [(64, 64), (128, 128), (42, 84), (256, 256), (32, 48)]:
            for T in [1, 65, 200]:
                models[f"tc_{tag}_K{K}_V{V}_T{T}_bf16"] = scan(
                    "tensor cores: " + tag, 2, T, 2, 4, K, V, "bf16", decay=decay,
                    attrs=attrs, states=True)
        models[f"tc_{tag}_K128_V128_T200_f16"] = scan(
            "tensor cores: " + tag, 2, 200, 2, 4, 128, 128, "f16", decay=decay,
            attrs=attrs, states=True)
    # Many packed sequences: the solve kernel's 128-ary search for a slot's
    # sequence takes two rounds at 300 sequences and three at 17000
    # (momentum: always the solve kernel).
    for n, T in [(300, 4096), (17000, 20000)]:
        models[f"varlen_many{n}_K32_V32_T{T}_bf16"] = scan(
            f"varlen: {n} packed sequences, momentum, states", 1, T, 1, 1, 32, 32, "bf16",
            attrs="delta_rule = 1.0, ", momentum=0.9, varlen=n, states=True)
    # The paper form's gain formed by the solve kernel beside T: varlen with
    # states and the quintic with τ after; f16 at widths whose rows end in a
    # part round (K = 20 pads to 32, V = 36 is nine 4-element loads).
    models["paper_solvegain_varlen_K64_V64_T200_bf16"] = scan(
        "paper form, gain in the solve kernel: varlen, states, quintic, tau after",
        1, 200, 2, 4, 64, 64, "bf16", attrs="delta_rule = 1.0, " + QUINTIC_AFTER,
        momentum=0.8, tau=0.6, varlen=3, states=True)
    models["paper_solvegain_K20_V36_T130_f16"] = scan(
        "paper form, gain in the solve kernel: f16, K = 20, V = 36", 2, 130, 1, 2, 20, 36,
        "f16", attrs="delta_rule = 1.0, " + CUBIC_UPDATE, momentum=0.9, scale=1.0)
    # 16-bit gates: the chunked kernel copies f32 gates into shared memory
    # by cp.async (4 bytes at least), and these through a register.
    models["tc_gdn_gates16_K64_V64_T200_bf16"] = scan(
        "tensor cores: gdn, momentum, bf16 g and beta", 2, 200, 2, 4, 64, 64, "bf16",
        attrs="delta_rule = 1.0, ", momentum=0.9, states=True, gate_dtype="bf16")
    # Two blocks an SM: 8 × 9 pairs at the seed code's K = 56, V = 112 take
    # three 48-column tiles (216 blocks; the last tile 16 columns wide).
    models["tc_gdn_twopersm_K56_V112_T200_bf16"] = scan(
        "tensor cores: gdn, three value tiles, two blocks an SM", 8, 200, 9, 9, 56, 112,
        "bf16", attrs="delta_rule = 1.0, ", states=True)
    # wgmma (sm_90a): the chunk's products (all but Q Kᵀ, K Kᵀ) at
    # 128-column value tiles, which the tiling takes where (sequence, head)
    # pairs are many: 8 × 16 here, T = 130 (a partial last chunk), states
    # in and out; K = 128 and 64 (two and one 64-column panels of k; at
    # K = 64 only the momentum kernels and retention take 128 columns,
    # and K = 256 takes narrower tiles; 64-column tiles, the other wgmma
    # layout, are the tc_* and paper_* models at K = V = 64 and 128).
    for tag, decay, attrs, mom, dims in [
            ("ret", "scalar", "", None, [64, 128]),
            ("dn", "none", "delta_rule = 1.0, ", None, [128]),
            ("gdn", "scalar", "delta_rule = 1.0, ", None, [128]),
            ("gdn_momentum", "scalar", "delta_rule = 1.0, ", 0.9, [64, 128]),
            ("paper", "scalar", "delta_rule = 1.0, " + CUBIC_UPDATE, 0.9, [64, 128])]:
        for K in dims:
            models[f"wg_{tag}_K{K}_V128_T130_bf16"] = scan(
                "wgmma products: " + tag, 8, 130, 16, 16, K, 128, "bf16", decay=decay,
                attrs=attrs, momentum=mom, states=True,
                scale=1.0 if tag == "paper" else None)
    models["wg_gdn_K128_V128_T130_f16"] = scan(
        "wgmma products: gdn, f16", 8, 130, 16, 16, 128, 128, "f16",
        attrs="delta_rule = 1.0, ", states=True)
    models["wg_paper_varlen_K128_V128_T4000_bf16"] = scan(
        "wgmma products: paper form, 70 packed sequences, 5 heads", 1, 4000, 5, 5, 128,
        128, "bf16", attrs="delta_rule = 1.0, " + CUBIC_UPDATE, momentum=0.9, scale=1.0,
        varlen=70, states=True)
    # The seed's Muon Gated DeltaNet: NS of the whole momentum every token
    # (the fused recurrent kernel); both polynomials, the error input, a
    # diagonal decay, varlen with states.
    for K, V in [(42, 84), (56, 112), (16, 32), (64, 64)]:
        for T in [1, 65, 300]:
            for dt in ["bf16", "f32"]:
                models[f"seedns_K{K}_V{V}_T{T}_{dt}"] = scan(
                    "NS of the momentum (seed)", 2, T, 2, 4, K, V, dt,
                    attrs="delta_rule = 1.0, " + QUINTIC_MOMENTUM, momentum=0.9,
                    states=True)
    for dt in ["bf16", "f32"]:
        models[f"seedns_cubic_T130_{dt}"] = scan(
            "NS of the momentum, cubic, tau after", 2, 130, 2, 2, 42, 84, dt,
            attrs="delta_rule = 1.0, " + CUBIC_MOMENTUM_AFTER, momentum=0.99, tau=0.6,
            states=True)
        models[f"seedns_error_T130_{dt}"] = scan(
            "NS of the momentum, error input", 2, 130, 2, 2, 42, 84, dt,
            input_kind="error", attrs=QUINTIC_MOMENTUM, momentum=0.9)
        models[f"seedns_diag_T130_{dt}"] = scan(
            "NS of the momentum, diagonal decay", 2, 130, 2, 2, 32, 64, dt,
            decay="diagonal", attrs=QUINTIC_MOMENTUM, momentum=0.9, states=True)
        # An odd K (the Gram loop's last row pair ends on a padding row) and
        # K, V not multiples of 8 (a half-padded last row tile).
        models[f"seedns_oddK_K21_V36_T130_{dt}"] = scan(
            "NS of the momentum, odd K", 2, 130, 2, 2, 21, 36, dt,
            attrs="delta_rule = 1.0, " + QUINTIC_MOMENTUM, momentum=0.9,
            states=True)
        # K = V = 112: M and R do not fit twice, so the update input runs the
        # in-order schedule (w formed when the token is stored).
        models[f"seedns_inorder_K112_T65_{dt}"] = scan(
            "NS of the momentum, in-order schedule", 1, 65, 2, 2, 112, 112, dt,
            attrs="delta_rule = 1.0, " + QUINTIC_MOMENTUM, momentum=0.9,
            states=True)
        models[f"seedns_varlen_T300_{dt}"] = scan(
            "NS of the momentum, varlen", 1, 300, 2, 2, 42, 84, dt,
            attrs="delta_rule = 1.0, " + QUINTIC_MOMENTUM, momentum=0.9, varlen=3,
            states=True)
    # State pools (decode servers): N sequences pick distinct slots of P,
    # updated in place; T = 1 and a short speculative T = 4, GQA, momentum,
    # the error input, varlen.
    for K, V in [(128, 128), (64, 64), (42, 84), (256, 256)]:
        for dt in ["bf16", "f32"]:
            for T in [1, 4]:
                models[f"pool_K{K}_V{V}_T{T}_{dt}"] = scan(
                    "state pool, gated deltanet", 5, T, 2, 4, K, V, dt,
                    attrs="delta_rule = 1.0, ", states=True, pool=12)
            models[f"pool_momentum_K{K}_V{V}_{dt}"] = scan(
                "state pool, momentum", 5, 1, 2, 4, K, V, dt,
                attrs="delta_rule = 1.0, ", states=True, momentum=0.9, pool=7)
    for dt in ["bf16", "f32"]:
        for T in [1, 3]:
            models[f"pool_seedns_T{T}_{dt}"] = scan(
                "state pool, NS of the momentum (seed)", 4, T, 2, 4, 42, 84, dt,
                attrs="delta_rule = 1.0, " + QUINTIC_MOMENTUM, momentum=0.9,
                states=True, pool=9)
        models[f"pool_error_{dt}"] = scan(
            "state pool, error input", 3, 2, 2, 2, 64, 64, dt,
            input_kind="error", states=True, momentum=0.9, pool=3)
        models[f"pool_varlen_{dt}"] = scan(
            "state pool, varlen", 1, 9, 2, 2, 64, 64, dt,
            attrs="delta_rule = 1.0, ", varlen=3, states=True, pool=10)
    # Mamba / LongHorn (issue 7): language and HAR configurations, odd sizes.
    for dt in ["bf16", "f32"]:
        for kind, attrs in [("muon_mamba", QUINTIC_UPDATE), ("mamba", ""),
                            ("muon_longhorn", QUINTIC_AFTER), ("longhorn", "")]:
            decay = "mamba" if "mamba" in kind else "longhorn"
            mom = 0.9 if kind.startswith("muon") else None
            for T in [1, 7, 2049]:
                models[f"{kind}_T{T}_{dt}"] = scan(kind, 2, T, 1, 1, 16, 96, dt, decay=decay,
                                                   attrs=attrs, momentum=mom, states=True)
            # Staged chunks of 32 tokens: a lone partial chunk, V not a
            # multiple of the block's 32 columns, two heads; varlen.
            models[f"{kind}_odd_{dt}"] = scan(kind + " T45 H2 V40", 2, 45, 2, 2, 16, 40, dt,
                                              decay=decay, attrs=attrs, momentum=mom,
                                              states=True)
            models[f"{kind}_varlen_{dt}"] = scan(kind + " varlen K64 V24", 1, 100, 1, 1, 64, 24,
                                                 dt, decay=decay, attrs=attrs, momentum=mom,
                                                 states=True, varlen=3)
            # γ = 0 (momentum present, no memory) and the paper's cubic NS.
            if kind == "muon_mamba":
                models[f"muon_mamba_gamma0_{dt}"] = scan(
                    "Muon Mamba, gamma 0", 2, 45, 1, 1, 16, 40, dt, decay=decay, attrs=attrs,
                    momentum=0.0, states=True)
                models[f"muon_mamba_cubic_{dt}"] = scan(
                    "Muon Mamba, cubic NS", 2, 45, 1, 1, 16, 40, dt, decay=decay,
                    attrs=CUBIC_UPDATE, momentum=0.9, states=True)
            # Mamba's epilogue fused: D skip and SiLU(z) gate, staged and
            # short (decode) sequences.
            for T in [1, 45]:
                models[f"{kind}_skipgate_T{T}_{dt}"] = scan(
                    kind + " with D skip and z gate", 2, T, 2, 2, 16, 40, dt, decay=decay,
                    attrs=attrs, momentum=mom, states=True, skip_gate=True)
            models[f"{kind}_language_{dt}"] = scan(kind + " language config", 8, 4096, 1, 1, 16,
                                                   1536, dt, decay=decay, attrs=attrs,
                                                   momentum=mom)
            models[f"{kind}_har_{dt}"] = scan(kind + " HAR config (gamma .99, tau .6)", 32, 512,
                                              1, 1, 64, 256, dt, decay=decay,
                                              attrs=attrs, momentum=(0.99 if mom else None),
                                              tau=(0.6 if kind == "muon_longhorn" else 1.0))
    return models


def bench_models():
    """Issue 5/7 benchmark configurations (bf16 in, f32 state)."""
    models = {}
    for B, T in [(16, 2048), (8, 4096), (4, 8192)]:
        models[f"gdn_B{B}_T{T}"] = scan("GDN", B, T, 16, 16, 128, 128,
                                        attrs="delta_rule = 1.0, ", states=True)
        models[f"paper_B{B}_T{T}"] = scan("paper Muon GDN", B, T, 16, 16, 128, 128,
                                          attrs="delta_rule = 1.0, " + CUBIC_UPDATE,
                                          momentum=0.9, scale=1.0)
    # bf16 g and β (fla's benchmark passes β in bf16): the chunked kernel
    # copies 16-bit gates through a register.
    models["gdn_gates16_B4_T8192"] = scan("GDN, bf16 g and beta", 4, 8192, 16, 16, 128, 128,
                                          attrs="delta_rule = 1.0, ", states=True,
                                          gate_dtype="bf16")
    models["paper_gates16_B16_T2048"] = scan("paper Muon GDN, bf16 g and beta", 16, 2048, 16, 16,
                                             128, 128, attrs="delta_rule = 1.0, " + CUBIC_UPDATE,
                                             momentum=0.9, scale=1.0, gate_dtype="bf16")
    models["gdn_seed_readme_B8_T4096"] = scan("GDN H12 K42 V84", 8, 4096, 12, 12, 42, 84,
                                              attrs="delta_rule = 1.0, ", states=True)
    models["gdn_seed_code_B8_T4096"] = scan("GDN H9 K56 V112", 8, 4096, 9, 9, 56, 112,
                                            attrs="delta_rule = 1.0, ", states=True)
    models["seedns_readme_B8_T4096"] = scan(
        "seed Muon GDN (NS of the momentum) H12 K42 V84", 8, 4096, 12, 12, 42, 84,
        attrs="delta_rule = 1.0, " + QUINTIC_MOMENTUM, momentum=0.9)
    models["seedns_code_B8_T4096"] = scan(
        "seed Muon GDN (NS of the momentum) H9 K56 V112", 8, 4096, 9, 9, 56, 112,
        attrs="delta_rule = 1.0, " + QUINTIC_MOMENTUM, momentum=0.9)
    models["paper_seed_readme_B8_T4096"] = scan(
        "paper-form Muon GDN H12 K42 V84", 8, 4096, 12, 12, 42, 84,
        attrs="delta_rule = 1.0, " + CUBIC_UPDATE, momentum=0.9, scale=1.0)
    models["decode_gdn_B64"] = scan("decode GDN", 64, 1, 16, 16, 128, 128,
                                    attrs="delta_rule = 1.0, ", states=True)
    models["decode_gdn_momentum_B64"] = scan("decode GDN + momentum", 64, 1, 16, 16, 128, 128,
                                             attrs="delta_rule = 1.0, ", states=True, momentum=0.9)
    models["decode_pool_gdn_B64"] = scan("decode GDN, state pool of 256 in place", 64, 1, 16, 16,
                                         128, 128, attrs="delta_rule = 1.0, ", states=True,
                                         pool=256)
    for kind, attrs in [("muon_mamba", QUINTIC_UPDATE), ("mamba", ""),
                        ("muon_longhorn", QUINTIC_AFTER), ("longhorn", "")]:
        decay = "mamba" if "mamba" in kind else "longhorn"
        mom = 0.9 if kind.startswith("muon") else None
        models[f"{kind}_language"] = scan(kind, 8, 4096, 1, 1, 16, 1536, "bf16", decay=decay,
                                          attrs=attrs, momentum=mom)
        models[f"{kind}_language_skipgate"] = scan(kind + " with D skip and z gate", 8, 4096, 1,
                                                   1, 16, 1536, "bf16", decay=decay, attrs=attrs,
                                                   momentum=mom, skip_gate=True)
        models[f"{kind}_har"] = scan(kind, 32, 512, 1, 1, 64, 256, "f32", decay=decay,
                                     attrs=attrs, momentum=(0.99 if mom else None),
                                     tau=(0.6 if kind == "muon_longhorn" else 1.0))
    return models
