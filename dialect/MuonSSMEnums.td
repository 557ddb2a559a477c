//===- MuonSSMEnums.td - enumerations of the scan choices --*- tablegen -*-===//

#ifndef MUONSSM_ENUMS_TD
#define MUONSSM_ENUMS_TD

include "mlir/IR/EnumAttr.td"

def MuonSSM_DecayKind : I32EnumAttr<"DecayKind", "how the state decays each token", [
    I32EnumAttrCase<"None", 0, "none">,
    I32EnumAttrCase<"Scalar", 1, "scalar">,
    I32EnumAttrCase<"Diagonal", 2, "diagonal">,
    I32EnumAttrCase<"Mamba", 3, "mamba">,
    I32EnumAttrCase<"Longhorn", 4, "longhorn">]> {
  let cppNamespace = "::mlir::muonssm";
  let genSpecializedAttr = 0;
}

def MuonSSM_InputKind : I32EnumAttr<"InputKind", "what the momentum input m_t is", [
    I32EnumAttrCase<"Update", 0, "update">,
    I32EnumAttrCase<"Error", 1, "error">]> {
  let cppNamespace = "::mlir::muonssm";
  let genSpecializedAttr = 0;
}

def MuonSSM_Polynomial : I32EnumAttr<"Polynomial", "Newton–Schulz polynomial", [
    I32EnumAttrCase<"Quintic", 0, "quintic">,
    I32EnumAttrCase<"Cubic", 1, "cubic">]> {
  let cppNamespace = "::mlir::muonssm";
  let genSpecializedAttr = 0;
}

def MuonSSM_EpsMode : I32EnumAttr<"EpsMode", "how Newton–Schulz normalises", [
    I32EnumAttrCase<"Add", 0, "add">,
    I32EnumAttrCase<"Max", 1, "max">]> {
  let cppNamespace = "::mlir::muonssm";
  let genSpecializedAttr = 0;
}

def MuonSSM_NSTarget : I32EnumAttr<"NSTarget", "what Newton–Schulz is applied to", [
    I32EnumAttrCase<"Update", 0, "update">,
    I32EnumAttrCase<"Momentum", 1, "momentum">]> {
  let cppNamespace = "::mlir::muonssm";
  let genSpecializedAttr = 0;
}

def MuonSSM_TauPlacement : I32EnumAttr<"TauPlacement", "where τ multiplies relative to Newton–Schulz", [
    I32EnumAttrCase<"Inside", 0, "inside">,
    I32EnumAttrCase<"After", 1, "after">]> {
  let cppNamespace = "::mlir::muonssm";
  let genSpecializedAttr = 0;
}

def MuonSSM_ScheduleKind : I32EnumAttr<"ScheduleKind", "how a scan is computed", [
    I32EnumAttrCase<"Recurrent", 0, "recurrent">,
    I32EnumAttrCase<"Chunked", 1, "chunked">]> {
  let cppNamespace = "::mlir::muonssm";
  let genSpecializedAttr = 0;
}

def MuonSSM_SelectiveBackbone : I32EnumAttr<"SelectiveBackbone",
    "which selective-scan block a mixer is", [
    I32EnumAttrCase<"Mamba", 0, "mamba">,
    I32EnumAttrCase<"Longhorn", 1, "longhorn">]> {
  let cppNamespace = "::mlir::muonssm";
  let genSpecializedAttr = 0;
}

def MuonSSM_DeltaNetForm : I32EnumAttr<"DeltaNetForm",
    "which Gated DeltaNet recurrence a mixer runs", [
    I32EnumAttrCase<"Plain", 0, "plain">,
    I32EnumAttrCase<"Seed", 1, "seed">,
    I32EnumAttrCase<"Paper", 2, "paper">]> {
  let cppNamespace = "::mlir::muonssm";
  let genSpecializedAttr = 0;
}

#endif // MUONSSM_ENUMS_TD
