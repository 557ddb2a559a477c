// RUN: muonssm-opt %s --convert-nvgpu-to-nvvm --convert-gpu-to-nvvm='index-bitwidth=32' --reconcile-unrealized-casts | FileCheck %s --check-prefix=UPSTREAM
// RUN: muonssm-opt %s --pass-pipeline='builtin.module(gpu.module(muonssm-nvgpu-to-nvvm,convert-gpu-to-nvvm{index-bitwidth=32},reconcile-unrealized-casts))' | FileCheck %s

// The upstream defect this pass works around (MLIR 22): convert-nvgpu-to-nvvm
// always lowers with a 64-bit index, so after convert-gpu-to-nvvm with 32-bit
// indices the ldmatrix address still reads a 64-bit memref descriptor and an
// unrealized cast between the two descriptors survives (LLVM translation
// then fails on it).
// UPSTREAM: builtin.unrealized_conversion_cast {{.*}} to !llvm.struct<(ptr<3>, ptr<3>, i64, array<2 x i64>, array<2 x i64>)>

// muonssm-nvgpu-to-nvvm runs the same upstream patterns at the kernels'
// index width: one descriptor, 32-bit address arithmetic, no casts left.
// CHECK-LABEL: llvm.func @load(
// CHECK-NOT:     unrealized_conversion_cast
// CHECK:         llvm.getelementptr {{.*}} : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, bf16
// CHECK:         nvvm.ldmatrix
// CHECK-NOT:     unrealized_conversion_cast
gpu.module @kernels {
  gpu.func @load(%tile: memref<16x24xbf16, #gpu.address_space<workgroup>>, %out: memref<?xi32>) kernel {
    %c0 = arith.constant 0 : index
    %f = nvgpu.ldmatrix %tile[%c0, %c0] {numTiles = 1 : i32, transpose = false}
        : memref<16x24xbf16, #gpu.address_space<workgroup>> -> vector<1x2xbf16>
    %p = vector.extract %f[0] : vector<2xbf16> from vector<1x2xbf16>
    %i = vector.bitcast %p : vector<2xbf16> to vector<1xi32>
    %x = vector.extract %i[0] : i32 from vector<1xi32>
    memref.store %x, %out[%c0] : memref<?xi32>
    gpu.return
  }
}
