//===- OutlineLayers.cpp - one function per distinct layer ----------------===//
//
// A whole model lowered as one function took minutes in the CPU JIT: LLVM's
// O3 pipeline spends time superlinear in a function's size (dominator-tree
// and MemorySSA updates), and ten decomposed language-model layers make one
// very large function. Here each mixer or model layer becomes a call to a
// private function holding the op alone, and layers that differ only in
// their location (the same op, attributes and types: a model's repeated
// blocks) share that function, so each distinct layer is lowered and
// optimized once.
//
//===----------------------------------------------------------------------===//

#include "dialect/MuonSSMOps.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/StringMap.h"

#include <algorithm>

namespace mlir::muonssm {
#define GEN_PASS_DEF_OUTLINELAYERS
#include "passes/Passes.h.inc"
} // namespace mlir::muonssm

using namespace mlir;
using namespace mlir::muonssm;

namespace {

/// What makes two layers interchangeable: the op's name, attributes and
/// operand and result types (not its location).
std::string signatureOf(Operation *op) {
  std::string key;
  llvm::raw_string_ostream os(key);
  os << op->getName() << ' ' << op->getAttrDictionary() << " (";
  llvm::interleaveComma(op->getOperandTypes(), os);
  os << ") -> (";
  llvm::interleaveComma(op->getResultTypes(), os);
  os << ')';
  return key;
}

struct OutlineLayersPass : muonssm::impl::OutlineLayersBase<OutlineLayersPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    llvm::StringMap<func::FuncOp> outlined;
    SmallVector<func::FuncOp> bodies(module.getOps<func::FuncOp>());
    for (func::FuncOp body : bodies) {
      SmallVector<Operation *> layers;
      // Static shapes only: a function returning a dynamically shaped
      // tensor cannot get an out-parameter from buffer-results-to-out-params
      // (the caller could not size it), so such layers stay inline.
      body.walk([&](Operation *op) {
        auto isStatic = [](Type type) {
          auto shaped = dyn_cast<ShapedType>(type);
          return !shaped || shaped.hasStaticShape();
        };
        if (isModelLayer(op) && llvm::all_of(op->getOperandTypes(), isStatic) &&
            llvm::all_of(op->getResultTypes(), isStatic))
          layers.push_back(op);
      });
      for (Operation *op : layers) {
        func::FuncOp &callee = outlined[signatureOf(op)];
        if (!callee)
          callee = outline(op, symbols);
        OpBuilder b(op);
        auto call =
            func::CallOp::create(b, op->getLoc(), callee, op->getOperands());
        op->replaceAllUsesWith(call.getResults());
        op->erase();
      }
    }
  }

  /// A private function `@<dialect>_<op>` holding a copy of `op`.
  func::FuncOp outline(Operation *op, SymbolTable &symbols) {
    ModuleOp module = getOperation();
    OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
    auto type = b.getFunctionType(op->getOperandTypes(), op->getResultTypes());
    std::string name = op->getName().getStringRef().str();
    std::replace(name.begin(), name.end(), '.', '_');
    auto func = func::FuncOp::create(b, op->getLoc(), name, type);
    func.setPrivate();
    symbols.insert(func); // renames on a clash
    Block *entry = func.addEntryBlock();
    b.setInsertionPointToStart(entry);
    IRMapping map;
    map.map(op->getOperands(), entry->getArguments());
    Operation *copy = b.clone(*op, map);
    func::ReturnOp::create(b, op->getLoc(), copy->getResults());
    return func;
  }
};

} // namespace
