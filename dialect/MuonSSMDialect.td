//===- MuonSSMDialect.td - the muonssm dialect -------------*- tablegen -*-===//
//
// The dialect and the base classes of its attributes and ops. The normative
// definition of every op is docs/dialect.md.
//
//===----------------------------------------------------------------------===//

#ifndef MUONSSM_DIALECT_TD
#define MUONSSM_DIALECT_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"

def MuonSSM_Dialect : Dialect {
  let name = "muonssm";
  let cppNamespace = "::mlir::muonssm";
  let summary = "Momentum-augmented associative-memory recurrences (MuonSSM)";
  let description = [{
    The `muonssm` dialect describes the recurrence family of DESIGN.md §1:
    a per-head memory H_t ∈ R^{K×V} updated by a decay, an optional delta
    rule, an optional momentum M_t and an optional Newton–Schulz
    orthogonalisation, read out as o_t = scale · H_tᵀ q_t. Every choice is an
    explicit attribute of `muonssm.scan`; docs/dialect.md is the normative
    specification.
  }];
  let useDefaultAttributePrinterParser = 1;
  // `muonssm.*` discardable attributes (names of arguments and results, and
  // what the GPU lowering records for muonssm-translate): a misspelt or
  // mistyped one is an error, not silently ignored.
  let hasOperationAttrVerify = 1;
  let hasRegionArgAttrVerify = 1;
  let hasRegionResultAttrVerify = 1;
  let extraClassDeclaration = [{
    /// Defined beside the attribute storage classes (MuonSSMAttrs.cpp).
    void registerAttributes();
  }];
  let dependentDialects = ["::mlir::tensor::TensorDialect"];
}

class MuonSSM_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<MuonSSM_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

class MuonSSM_Op<string mnemonic, list<Trait> traits = []>
    : Op<MuonSSM_Dialect, mnemonic, traits>;

#endif // MUONSSM_DIALECT_TD
