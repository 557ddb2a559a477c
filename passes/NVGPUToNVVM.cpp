//===- NVGPUToNVVM.cpp - nvgpu → nvvm at a chosen index bitwidth ----------===//
//
// The one workaround for MLIR 22's convert-nvgpu-to-nvvm, which builds its
// LLVMTypeConverter with the default (64-bit) index: see NVGPUToNVVM in
// Passes.td. test/passes/nvgpu-to-nvvm.mlir shows the upstream pass failing
// on a 32-bit kernel and this one converting it.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Conversion/LLVMCommon/ConversionTarget.h"
#include "mlir/Conversion/LLVMCommon/LoweringOptions.h"
#include "mlir/Conversion/LLVMCommon/TypeConverter.h"
#include "mlir/Conversion/NVGPUToNVVM/NVGPUToNVVM.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::muonssm {
#define GEN_PASS_DEF_NVGPUTONVVM
#include "passes/Passes.h.inc"
} // namespace mlir::muonssm

using namespace mlir;

namespace {

struct NVGPUToNVVMPass
    : muonssm::impl::NVGPUToNVVMBase<NVGPUToNVVMPass> {
  using NVGPUToNVVMBase::NVGPUToNVVMBase;

  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    LowerToLLVMOptions options(ctx);
    options.overrideIndexBitwidth(indexBitwidth);
    LLVMTypeConverter converter(ctx, options);
    // As upstream: gpu address spaces as NVVM's, async tokens without a
    // runtime value.
    nvgpu::populateCommonGPUTypeAndAttributeConversions(converter);
    converter.addConversion([&](nvgpu::DeviceAsyncTokenType type) -> Type {
      return converter.convertType(IntegerType::get(type.getContext(), 32));
    });
    RewritePatternSet patterns(ctx);
    populateNVGPUToNVVMConversionPatterns(converter, patterns);
    LLVMConversionTarget target(*ctx);
    target.addLegalDialect<LLVM::LLVMDialect, NVVM::NVVMDialect,
                           arith::ArithDialect, memref::MemRefDialect,
                           vector::VectorDialect>();
    target.addIllegalDialect<nvgpu::NVGPUDialect>();
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
