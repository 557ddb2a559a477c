//===- MuonSSMAttrs.td - attributes of the muonssm dialect --*- tablegen -*-===//

#ifndef MUONSSM_ATTRS_TD
#define MUONSSM_ATTRS_TD

include "dialect/MuonSSMDialect.td"
include "dialect/MuonSSMEnums.td"

def MuonSSM_DecayKindAttr : EnumAttr<MuonSSM_Dialect, MuonSSM_DecayKind, "decay">;
def MuonSSM_InputKindAttr : EnumAttr<MuonSSM_Dialect, MuonSSM_InputKind, "input">;
def MuonSSM_NSTargetAttr : EnumAttr<MuonSSM_Dialect, MuonSSM_NSTarget, "ns_target">;
def MuonSSM_SelectiveBackboneAttr
    : EnumAttr<MuonSSM_Dialect, MuonSSM_SelectiveBackbone, "backbone">;
def MuonSSM_DeltaNetFormAttr
    : EnumAttr<MuonSSM_Dialect, MuonSSM_DeltaNetForm, "deltanet_form">;
def MuonSSM_TauPlacementAttr
    : EnumAttr<MuonSSM_Dialect, MuonSSM_TauPlacement, "tau_placement">;

def MuonSSM_NewtonSchulzAttr : MuonSSM_Attr<"NewtonSchulz", "ns"> {
  let summary = "a Newton–Schulz orthogonalisation: polynomial, normalisation, steps";
  let description = [{
    `NS(X)`: normalise once, `X̃ = X/(‖X‖_F + eps)` (`add`) or
    `X̃ = X/max(‖X‖_F, eps)` (`max`), then `steps` times
    `X̃ ← p(X̃X̃ᵀ)·X̃` with `p(A) = aI + bA + cA²`:
    `quintic` is Muon's (a, b, c) = (3.4445, −4.7750, 2.0315), `cubic` is the
    paper's ½(3I − A). The seed code uses `<quintic, add, eps = 1.0e-07,
    steps = 1>`, the paper `<cubic, max, eps = 1.0e-06, steps = 1>`.

    Example: `#muonssm.ns<quintic, add, eps = 1.0e-07, steps = 1>`
  }];
  let parameters = (ins
      EnumParameter<MuonSSM_Polynomial>:$polynomial,
      EnumParameter<MuonSSM_EpsMode>:$eps_mode,
      APFloatParameter<"normalisation epsilon (f64)">:$eps,
      "int64_t":$steps);
  let assemblyFormat = [{
    `<` $polynomial `,` $eps_mode `,` `eps` `=` custom<F64>($eps) `,`
        `steps` `=` $steps `>`
  }];
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    double getEpsValue() const { return getEps().convertToDouble(); }
  }];
}

def MuonSSM_ScheduleAttr : MuonSSM_Attr<"Schedule", "schedule"> {
  let summary = "how a scan is computed: token by token, or in chunks of C";
  let description = [{
    `<recurrent>`: token by token with the state (and momentum) resident — the
    fused recurrent form (docs/chunking.md §3). `<chunked, C>`: chunks of C
    tokens through the closed forms of docs/chunking.md §2; only scans with an
    exact chunked form may carry it. Set by muonssm-chunk and
    muonssm-fuse-newton-schulz; a scan without a schedule is computed token by
    token.
  }];
  let parameters = (ins EnumParameter<MuonSSM_ScheduleKind>:$kind,
                        DefaultValuedParameter<"int64_t", "0">:$chunk);
  let assemblyFormat = "`<` $kind (`,` $chunk^)? `>`";
  let genVerifyDecl = 1;
}

#endif // MUONSSM_ATTRS_TD
