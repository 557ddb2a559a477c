// RUN: muonssm-opt %s --convert-nvgpu-to-nvvm | FileCheck %s

// Why the chunked kernel builds its wgmma descriptors itself
// (WarpgroupMma, passes/GPUMma.h) instead of using nvgpu.warpgroup.mma:
// MLIR 22's lowering steps an M-major A operand ({transposeA}: A stored
// [k][m], as Kᵀ in the state update Kᵀ sY is) like a K-major one, by 32
// bytes (2 in the descriptor's 16-byte units) per k16 step, where 16 rows
// of 128 bytes are 2048 (128), as it steps the MN-major B of the same
// layout. (GPU-CODEGEN.md: K-major B has the mirror defect; the op also
// needs a TMA descriptor for the layout.) If this test fails, upstream
// has changed the stepping and the workaround can be revisited.

// CHECK-LABEL: gpu.func @steps(
// CHECK:         nvvm.wgmma.mma_async %[[A:[^,]+]], %[[B:[^,]+]], {{.*}} A[<bf16>, <one>, <col>], B[<bf16>, <one>, <row>]
// CHECK-NEXT:    %[[TWO:.*]] = llvm.mlir.constant(2 : i32) : i64
// CHECK-NEXT:    llvm.add %[[A]], %[[TWO]] : i64
// CHECK-NEXT:    %[[ROWS:.*]] = llvm.mlir.constant(128 : i32) : i64
// CHECK-NEXT:    llvm.add %[[B]], %[[ROWS]] : i64

!tm = !nvgpu.tensormap.descriptor<tensor = memref<64x64xbf16, 3>, swizzle = swizzle_128b, l2promo = none, oob = zero, interleave = none>
!wd = !nvgpu.warpgroup.descriptor<tensor = memref<64x64xbf16, 3>>
!acc = !nvgpu.warpgroup.accumulator<fragmented = vector<64x64xf32>>
gpu.module @kernels {
  memref.global "private" @a : memref<64x64xbf16, 3> {alignment = 1024 : i64}
  memref.global "private" @b : memref<64x64xbf16, 3> {alignment = 1024 : i64}
  gpu.func @steps(%p: !llvm.ptr, %out: memref<64x64xf32>) kernel {
    %map = builtin.unrealized_conversion_cast %p : !llvm.ptr to !tm
    %a = memref.get_global @a : memref<64x64xbf16, 3>
    %b = memref.get_global @b : memref<64x64xbf16, 3>
    %da = nvgpu.warpgroup.generate.descriptor %a, %map : memref<64x64xbf16, 3>, !tm -> !wd
    %db = nvgpu.warpgroup.generate.descriptor %b, %map : memref<64x64xbf16, 3>, !tm -> !wd
    %z = nvgpu.warpgroup.mma.init.accumulator -> !acc
    %r = nvgpu.warpgroup.mma %da, %db, %z {transposeA, transposeB, waitGroup = 0 : i64} : !wd, !wd, !acc -> !acc
    nvgpu.warpgroup.mma.store %r, %out : !acc to memref<64x64xf32>
    gpu.return
  }
}
