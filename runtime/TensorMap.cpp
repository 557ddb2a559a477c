//===- TensorMap.cpp - TMA descriptors (cuTensorMapEncodeTiled) -----------===//
//
// Host-side tensor maps for the kernels' TMA loads (GPU-CODEGEN.md, "Host
// side"): upstream's mgpuTensorMapEncodeTiledMemref lives in a library
// Debian does not ship, so the runtime encodes the maps itself. The
// driver's documented constraints are checked first, so a bad request gets
// a message naming the field instead of a bare CUDA_ERROR_INVALID_VALUE.
//
//===----------------------------------------------------------------------===//

#include "runtime/Internal.h"

#include <cstring>
#include <sstream>

using namespace muonssm::rt;
using namespace muonssm::rt::detail;

size_t muonssm::rt::tmaElementSize(TmaDataType type) {
  switch (type) {
  case TmaDataType::BF16:
  case TmaDataType::F16:
    return 2;
  case TmaDataType::F32:
    return 4;
  }
  return 0;
}

namespace {

const char *dataTypeName(TmaDataType type) {
  switch (type) {
  case TmaDataType::BF16:
    return "bf16";
  case TmaDataType::F16:
    return "f16";
  case TmaDataType::F32:
    return "f32";
  }
  return "?";
}

uint64_t swizzleSpan(TmaSwizzle swizzle) {
  switch (swizzle) {
  case TmaSwizzle::None:
    return 0;
  case TmaSwizzle::B32:
    return 32;
  case TmaSwizzle::B64:
    return 64;
  case TmaSwizzle::B128:
    return 128;
  }
  return 0;
}

Status invalid(const std::string &message) {
  return Status::error(ErrorCode::InvalidArgument, "tensor map: " + message);
}

std::string hexAddress(DevicePtr p) {
  std::ostringstream os;
  os << "0x" << std::hex << p;
  return os.str();
}

template <typename T> std::string at(const char *field, size_t i, T value) {
  return std::string(field) + "[" + std::to_string(i) +
         "] = " + std::to_string(value);
}

} // namespace

TensorMapDesc TensorMapDesc::matrix(TmaDataType type, uint64_t rows,
                                    uint64_t cols, uint32_t boxRows,
                                    uint32_t boxCols, TmaSwizzle swizzle) {
  TensorMapDesc d;
  d.dataType = type;
  d.globalDims = {cols, rows};
  d.globalStrides = {cols * tmaElementSize(type)};
  d.boxDims = {boxCols, boxRows};
  d.swizzle = swizzle;
  return d;
}

Status muonssm::rt::validateTensorMap(const TensorMapDesc &desc,
                                      DevicePtr globalAddress) {
  const size_t rank = desc.globalDims.size();
  const uint64_t elementSize = tmaElementSize(desc.dataType);
  if (rank < 1 || rank > 5)
    return invalid("rank " + std::to_string(rank) +
                   " (globalDims.size()) must be in [1, 5]");
  if (globalAddress == 0)
    return invalid("the global address is null");
  if (globalAddress % 16 != 0)
    return invalid("the global address " + hexAddress(globalAddress) +
                   " is not 16-byte aligned");
  for (size_t i = 0; i < rank; ++i)
    if (desc.globalDims[i] == 0 || desc.globalDims[i] > (uint64_t(1) << 32))
      return invalid(at("globalDims", i, desc.globalDims[i]) +
                     " must be in [1, 2^32]");
  if (desc.globalStrides.size() != rank - 1)
    return invalid("globalStrides has " +
                   std::to_string(desc.globalStrides.size()) +
                   " entries; rank " + std::to_string(rank) + " needs " +
                   std::to_string(rank - 1) + " (the byte strides of dims 1.." +
                   std::to_string(rank - 1) + ")");
  for (size_t i = 0; i < rank - 1; ++i) {
    uint64_t s = desc.globalStrides[i];
    if (s % 16 != 0)
      return invalid(at("globalStrides", i, s) +
                     " bytes is not a multiple of 16");
    if (s >= (uint64_t(1) << 40))
      return invalid(at("globalStrides", i, s) + " bytes must be < 2^40");
  }
  if (rank > 1 && desc.globalStrides[0] < desc.globalDims[0] * elementSize)
    return invalid(at("globalStrides", 0, desc.globalStrides[0]) +
                   " bytes is smaller than a row of globalDims[0] = " +
                   std::to_string(desc.globalDims[0]) + " " +
                   dataTypeName(desc.dataType) + " elements");
  if (desc.boxDims.size() != rank)
    return invalid("boxDims has " + std::to_string(desc.boxDims.size()) +
                   " entries; rank is " + std::to_string(rank));
  for (size_t i = 0; i < rank; ++i)
    if (desc.boxDims[i] == 0 || desc.boxDims[i] > 256)
      return invalid(at("boxDims", i, desc.boxDims[i]) +
                     " must be in [1, 256]");
  const uint64_t innerBytes = desc.boxDims[0] * elementSize;
  if (innerBytes % 16 != 0)
    return invalid(at("boxDims", 0, desc.boxDims[0]) + " " +
                   dataTypeName(desc.dataType) +
                   " elements = " + std::to_string(innerBytes) +
                   " bytes is not a multiple of 16 bytes");
  if (uint64_t span = swizzleSpan(desc.swizzle); span && innerBytes > span)
    return invalid(
        at("boxDims", 0, desc.boxDims[0]) + " " + dataTypeName(desc.dataType) +
        " elements = " + std::to_string(innerBytes) + " bytes exceeds the " +
        std::to_string(span) + "B swizzle span (" +
        std::to_string(span / elementSize) + " elements)");
  if (!desc.elementStrides.empty()) {
    if (desc.elementStrides.size() != rank)
      return invalid("elementStrides has " +
                     std::to_string(desc.elementStrides.size()) +
                     " entries; rank is " + std::to_string(rank) +
                     " (or leave it empty for all 1)");
    for (size_t i = 0; i < rank; ++i)
      if (desc.elementStrides[i] == 0 || desc.elementStrides[i] > 8)
        return invalid(at("elementStrides", i, desc.elementStrides[i]) +
                       " must be in [1, 8]");
  }
  return Status::success();
}

StatusOr<std::array<uint8_t, 128>>
muonssm::rt::encodeTensorMap(const TensorMapDesc &desc,
                             DevicePtr globalAddress) {
  if (Status s = validateTensorMap(desc, globalAddress); !s.ok())
    return s;
  if (Status s = requireDriver(); !s.ok())
    return s;
  const DriverApi &d = api();
  if (!d.cuTensorMapEncodeTiled_)
    return Status::error(ErrorCode::NoDriver,
                         "tensor map: the CUDA driver is too old (libcuda.so.1 "
                         "lacks cuTensorMapEncodeTiled; CUDA 12.0+ needed)");

  const uint32_t rank = static_cast<uint32_t>(desc.globalDims.size());
  cuuint64_t dims[5] = {}, strides[5] = {};
  cuuint32_t box[5] = {}, elementStrides[5] = {1, 1, 1, 1, 1};
  for (uint32_t i = 0; i < rank; ++i) {
    dims[i] = desc.globalDims[i];
    box[i] = desc.boxDims[i];
    if (!desc.elementStrides.empty())
      elementStrides[i] = desc.elementStrides[i];
  }
  for (uint32_t i = 0; i + 1 < rank; ++i)
    strides[i] = desc.globalStrides[i];

  CUtensorMapDataType type = CU_TENSOR_MAP_DATA_TYPE_BFLOAT16;
  switch (desc.dataType) {
  case TmaDataType::BF16:
    type = CU_TENSOR_MAP_DATA_TYPE_BFLOAT16;
    break;
  case TmaDataType::F16:
    type = CU_TENSOR_MAP_DATA_TYPE_FLOAT16;
    break;
  case TmaDataType::F32:
    type = CU_TENSOR_MAP_DATA_TYPE_FLOAT32;
    break;
  }
  CUtensorMapSwizzle swizzle = CU_TENSOR_MAP_SWIZZLE_NONE;
  switch (desc.swizzle) {
  case TmaSwizzle::None:
    swizzle = CU_TENSOR_MAP_SWIZZLE_NONE;
    break;
  case TmaSwizzle::B32:
    swizzle = CU_TENSOR_MAP_SWIZZLE_32B;
    break;
  case TmaSwizzle::B64:
    swizzle = CU_TENSOR_MAP_SWIZZLE_64B;
    break;
  case TmaSwizzle::B128:
    swizzle = CU_TENSOR_MAP_SWIZZLE_128B;
    break;
  }
  CUtensorMapL2promotion l2 = CU_TENSOR_MAP_L2_PROMOTION_NONE;
  switch (desc.l2Promotion) {
  case TmaL2Promotion::None:
    l2 = CU_TENSOR_MAP_L2_PROMOTION_NONE;
    break;
  case TmaL2Promotion::B64:
    l2 = CU_TENSOR_MAP_L2_PROMOTION_L2_64B;
    break;
  case TmaL2Promotion::B128:
    l2 = CU_TENSOR_MAP_L2_PROMOTION_L2_128B;
    break;
  case TmaL2Promotion::B256:
    l2 = CU_TENSOR_MAP_L2_PROMOTION_L2_256B;
    break;
  }
  CUtensorMapFloatOOBfill oob =
      desc.oobFill == TmaOobFill::Nan
          ? CU_TENSOR_MAP_FLOAT_OOB_FILL_NAN_REQUEST_ZERO_FMA
          : CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE;

  CUtensorMap map; // alignas(64) in cuda.h, as the driver requires
  std::memset(&map, 0, sizeof(map));
  static_assert(sizeof(CUtensorMap) == 128, "CUtensorMap is 128 bytes");
  if (Status s = cudaStatus(
          d.cuTensorMapEncodeTiled_(
              &map, type, rank, reinterpret_cast<void *>(globalAddress), dims,
              strides, box, elementStrides, CU_TENSOR_MAP_INTERLEAVE_NONE,
              swizzle, l2, oob),
          "tensor map: cuTensorMapEncodeTiled (rank " + std::to_string(rank) +
              ", " + dataTypeName(desc.dataType) + ")");
      !s.ok())
    return s;
  std::array<uint8_t, 128> bytes;
  std::memcpy(bytes.data(), &map, sizeof(map));
  return bytes;
}

StatusOr<TensorMap> muonssm::rt::makeTensorMap(const Device &device,
                                               DevicePtr globalAddress,
                                               const TensorMapDesc &desc) {
  if (Status s = validateTensorMap(desc, globalAddress); !s.ok())
    return s;
  if (Status s = requireDevice(device.state(), "making a tensor map"); !s.ok())
    return s;
  StatusOr<std::array<uint8_t, 128>> bytes =
      encodeTensorMap(desc, globalAddress);
  if (!bytes.ok())
    return bytes.status();
  // cuMemAlloc returns 256-byte aligned memory: more than the 64 bytes a
  // tensor map needs.
  StatusOr<DeviceBuffer> buffer = DeviceBuffer::allocate(device, 128);
  if (!buffer.ok())
    return buffer.status().withContext("making a tensor map");
  if (Status s = buffer->copyFromHost(bytes->data(), 128); !s.ok())
    return s.withContext("making a tensor map");
  TensorMap map;
  map.buffer_ = std::move(buffer).value();
  map.bytes_ = *bytes;
  map.desc_ = desc;
  return map;
}
