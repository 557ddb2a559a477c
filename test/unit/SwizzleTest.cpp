//===- SwizzleTest.cpp - the swizzled tile layouts wgmma reads ------------===//
//
// gpu_codegen::tileIndices places element (row, col) of a swizzled shared-
// memory tile. wgmma reads such a tile through a descriptor whose swizzle
// mode names the layout, so the two must agree, and a GPU only shows a
// disagreement as wrong numbers. Here the indices, evaluated for every
// element, are checked against the hardware's definition as CUTLASS writes
// it (Swizzle<B, 4, 3>: byte-address bits 4 … 4+B−1 XORed with bits
// 7 … 7+B−1; B = 3, 2, 1 for the 128-, 64- and 32-byte swizzles), and for
// the property the layouts are chosen for: an ldmatrix's eight 16-byte rows
// of one column chunk hit eight different 16-byte bank groups.
//
//===----------------------------------------------------------------------===//

#include "passes/GPUMma.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

#include <gtest/gtest.h>

#include <set>

using namespace mlir;
using namespace mlir::muonssm::gpu_codegen;

namespace {

/// The value of an index expression of constants and the integer ops
/// KernelBuilder and tileIndices emit.
int64_t evaluate(Value v) {
  Operation *op = v.getDefiningOp();
  if (auto c = dyn_cast<arith::ConstantIndexOp>(op))
    return c.value();
  int64_t x = evaluate(op->getOperand(0)), y = evaluate(op->getOperand(1));
  if (isa<arith::AddIOp>(op))
    return x + y;
  if (isa<arith::SubIOp>(op))
    return x - y;
  if (isa<arith::MulIOp>(op))
    return x * y;
  if (isa<arith::DivUIOp>(op))
    return x / y;
  if (isa<arith::RemUIOp>(op))
    return x % y;
  if (isa<arith::XOrIOp>(op))
    return x ^ y;
  ADD_FAILURE() << "unexpected op " << op->getName().getStringRef().str();
  return 0;
}

class Swizzle : public ::testing::TestWithParam<int64_t> {};

TEST_P(Swizzle, MatchesTheHardwareLayoutAndAvoidsBankConflicts) {
  const int64_t width = GetParam(), rows = 64, cols = 2 * width;
  const int64_t rowBytes = 2 * width;
  const int64_t bits = width == 64 ? 3 : width == 32 ? 2 : 1;

  MLIRContext ctx;
  ctx.loadDialect<arith::ArithDialect, func::FuncDialect, memref::MemRefDialect,
                  gpu::GPUDialect>();
  ImplicitLocOpBuilder b(UnknownLoc::get(&ctx), &ctx);
  auto module = ModuleOp::create(b.getLoc());
  b.setInsertionPointToEnd(module.getBody());
  MemRefType type = swizzledTileType(&ctx, rows, cols, b.getBF16Type(), width);
  auto func = func::FuncOp::create(b, "f", b.getFunctionType({type}, {}));
  Block *body = func.addEntryBlock();
  b.setInsertionPointToEnd(body);
  KernelBuilder e(b, b.getF32Type());
  Value tile = body->getArgument(0);

  // Byte offset of (row, col) in the tile as tileIndices places it.
  std::vector<int64_t> offset(rows * cols);
  std::set<int64_t> seen;
  for (int64_t row = 0; row < rows; ++row)
    for (int64_t col = 0; col < cols; ++col) {
      SmallVector<Value, 3> at = tileIndices(e, tile, e.idx(row), e.idx(col));
      ASSERT_EQ(at.size(), 3u);
      int64_t panel = evaluate(at[0]), r = evaluate(at[1]), c = evaluate(at[2]);
      ASSERT_GE(c, 0);
      ASSERT_LT(c, width);
      int64_t bytes = (panel * rows + r) * rowBytes + 2 * c;
      offset[row * cols + col] = bytes;
      seen.insert(bytes);

      // The hardware's layout: the unswizzled address, its 16-byte chunk
      // bits XORed with the bits of its 128-byte line.
      int64_t linear =
          ((col / width) * rows + row) * rowBytes + 2 * (col % width);
      int64_t mask = (int64_t(1) << bits) - 1;
      int64_t expected = linear ^ (((linear >> 7) & mask) << 4);
      EXPECT_EQ(bytes, expected)
          << "W = " << width << ", row " << row << ", col " << col;
    }
  EXPECT_EQ(seen.size(), size_t(rows * cols)) << "every element its own place";

  // ldmatrix reads eight rows' 16 bytes of one column chunk at once.
  for (int64_t chunk = 0; chunk < cols / 8; ++chunk)
    for (int64_t row0 = 0; row0 < rows; row0 += 8) {
      std::set<int64_t> groups;
      for (int64_t row = row0; row < row0 + 8; ++row) {
        int64_t first = offset[row * cols + 8 * chunk];
        EXPECT_EQ(first % 16, 0);
        for (int64_t i = 1; i < 8; ++i)
          EXPECT_EQ(offset[row * cols + 8 * chunk + i], first + 2 * i)
              << "a chunk of eight stays contiguous";
        groups.insert((first % 128) / 16);
      }
      EXPECT_EQ(groups.size(), 8u)
          << "W = " << width << ", chunk " << chunk << ", rows from " << row0;
    }
  module->erase();
}

INSTANTIATE_TEST_SUITE_P(Widths, Swizzle, ::testing::Values(64, 32, 16),
                         [](const auto &info) {
                           return std::to_string(2 * info.param) + "B";
                         });

} // namespace
