//===- Random.cpp - seeded inputs from the model domains ------------------===//

#include "lib/data/Random.h"

#include <algorithm>
#include <cmath>
#include <unistd.h>

using namespace muonssm;
using namespace muonssm::data;

const char *data::roleName(Role role) {
  switch (role) {
  case Role::Normal:
    return "normal";
  case Role::UnitVector:
    return "unit vector per head";
  case Role::LogDecay:
    return "log-sigmoid(normal)";
  case Role::Softplus:
    return "softplus(normal)";
  case Role::Sigmoid:
    return "sigmoid(normal)";
  case Role::NegativeExp:
    return "-exp(normal/2)";
  case Role::Offsets:
    return "sequence offsets";
  case Role::Slots:
    return "distinct pool slots";
  case Role::Weight:
    return "normal/sqrt(fan-in)";
  case Role::TokenIds:
    return "token ids below the vocabulary";
  }
  return "?";
}

static const std::pair<Role, const char *> kRoleKeys[] = {
    {Role::Normal, "normal"},       {Role::UnitVector, "unit"},
    {Role::LogDecay, "logdecay"},   {Role::Softplus, "softplus"},
    {Role::Sigmoid, "sigmoid"},     {Role::NegativeExp, "negexp"},
    {Role::Offsets, "offsets"},     {Role::Slots, "slots"},
    {Role::Weight, "weight"},       {Role::TokenIds, "tokens"}};

const char *data::roleKey(Role role) {
  for (auto &[r, key] : kRoleKeys)
    if (r == role)
      return key;
  return "normal";
}

std::optional<Role> data::roleFromKey(const std::string &key) {
  for (auto &[r, k] : kRoleKeys)
    if (key == k)
      return r;
  return std::nullopt;
}

Normal data::generatorFor(uint64_t seed, unsigned index) {
  return Normal(seed * 0x9E3779B97F4A7C15ull + index + 1);
}

double Normal::operator()() {
    if (spare) {
      double s = *spare;
      spare.reset();
      return s;
    }
    double u1 = uniform(), u2 = uniform();
    double r = std::sqrt(-2.0 * std::log(u1));
    spare = r * std::sin(2.0 * M_PI * u2);
    return r * std::cos(2.0 * M_PI * u2);
}

double Normal::uniform() {
  return (static_cast<double>(engine() >> 11) + 1.0) * 0x1.0p-53;
}

static double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

npy::Array data::randomArray(Role role, npy::DType dtype,
                             const std::vector<int64_t> &shape,
                       Normal &normal) {
  npy::Array array = npy::Array::zeros(dtype, shape);
  size_t n = array.numElements();
  std::vector<double> values(n);
  for (double &x : values) {
    double z = normal();
    switch (role) {
    case Role::Normal:
    case Role::UnitVector:
    case Role::Offsets:  // drawn by randomOffsets
    case Role::Slots:    // drawn by randomSlots
    case Role::TokenIds: // drawn by the caller
      x = z;
      break;
    case Role::LogDecay:
      x = -std::log1p(std::exp(-z));
      break;
    case Role::Softplus:
      x = z > 20.0 ? z : std::log1p(std::exp(z));
      break;
    case Role::Sigmoid:
      x = sigmoid(z);
      break;
    case Role::NegativeExp:
      x = -std::exp(0.5 * z);
      break;
    case Role::Weight:
      x = shape.empty() || shape.back() <= 0
              ? z
              : z / std::sqrt(static_cast<double>(shape.back()));
      break;
    }
  }
  if (role == Role::UnitVector && !shape.empty() && shape.back() > 0) {
    size_t width = static_cast<size_t>(shape.back());
    for (size_t base = 0; base < n; base += width) {
      double sum = 0.0;
      for (size_t i = 0; i < width; ++i)
        sum += values[base + i] * values[base + i];
      double inv = sum > 0.0 ? 1.0 / std::sqrt(sum) : 0.0;
      for (size_t i = 0; i < width; ++i)
        values[base + i] *= inv;
    }
  }
  for (size_t i = 0; i < n; ++i)
    array.setFromDouble(i, values[i]);
  return array;
}

/// Random cu_seqlens: N + 1 sorted offsets from 0 to T.
npy::Array data::randomSlots(npy::DType dtype, int64_t count, int64_t pool,
                             Normal &normal) {
  // A partial Fisher–Yates shuffle of 0 .. pool − 1.
  std::vector<int64_t> slots(static_cast<size_t>(pool));
  for (int64_t i = 0; i < pool; ++i)
    slots[i] = i;
  npy::Array array = npy::Array::zeros(dtype, {count});
  for (int64_t i = 0; i < count; ++i) {
    int64_t j = i + static_cast<int64_t>(normal.below(pool - i));
    std::swap(slots[i], slots[j]);
    array.setFromDouble(i, static_cast<double>(slots[i]));
  }
  return array;
}

npy::Array data::randomOffsets(npy::DType dtype, int64_t count,
                               int64_t total,
                         Normal &normal) {
  npy::Array array = npy::Array::zeros(dtype, {count});
  std::vector<int64_t> cuts;
  for (int64_t i = 1; i + 1 < count; ++i)
    cuts.push_back(static_cast<int64_t>(normal.below(total + 1)));
  std::sort(cuts.begin(), cuts.end());
  array.setFromDouble(0, 0.0);
  for (size_t i = 0; i < cuts.size(); ++i)
    array.setFromDouble(i + 1, static_cast<double>(cuts[i]));
  array.setFromDouble(count - 1, static_cast<double>(total));
  return array;
}


uint64_t data::hostMemoryBytes() {
  long pages = ::sysconf(_SC_PHYS_PAGES), pageSize = ::sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || pageSize <= 0 ||
      static_cast<uint64_t>(pages) >
          UINT64_MAX / static_cast<uint64_t>(pageSize))
    return 0;
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(pageSize);
}

Comparison data::compare(const npy::Array &out, const std::vector<double> &ref) {
  Comparison c;
  double diff2 = 0.0, ref2 = 0.0;
  for (size_t i = 0; i < ref.size(); ++i) {
    double a = out.getAsDouble(i), b = ref[i];
    double d = a - b;
    if (std::isnan(d))
      d = INFINITY;
    c.maxAbs = std::max(c.maxAbs, std::fabs(d));
    diff2 += d * d;
    ref2 += b * b;
  }
  c.relative = ref2 > 0.0 ? std::sqrt(diff2 / ref2)
                          : (diff2 > 0.0 ? INFINITY : 0.0);
  return c;
}

double data::checkTolerance(const std::string &dtype) {
  // f64: the bound, far above the ~1e-15·√T of double rounding.
  if (dtype == "f64")
    return 1e-10;
  // f32 accumulation: ~6e-8 per operation, growing like √T over a scan,
  // stays below 1e-5 up to T ~ 1e4; 1e-4 leaves a decade of headroom.
  if (dtype == "f32")
    return 1e-4;
  // 16-bit outputs are rounded once from f32: the normwise error is at most
  // the unit roundoff u (f16 2^-11 ≈ 4.9e-4, bf16 2^-8 ≈ 3.9e-3); allow 2u.
  if (dtype == "f16")
    return 1e-3;
  if (dtype == "bf16")
    return 8e-3;
  return 0.0; // integers are exact
}

double data::productTolerance(const std::string &dtype) {
  // The tensor-core chunked kernels (docs/gpu.md §3.3) round the operands
  // of their products to the input type, as flash-linear-attention does:
  // the state copy, T, W', U and P. Each rounding adds at most u to the
  // relative error of the terms it enters, and the longest chain to any
  // result has four (W' → U = T W' → P U → o; the f32 state likewise sees
  // K S, T, W', U): a normwise bound of 4u, for f32 states too.
  if (dtype == "bf16")
    return 4 * 3.90625e-3; // u = 2^-8
  // The Newton–Schulz-of-the-momentum kernel (docs/gpu.md §4) rounds R and
  // M' of each token's R M' to tf32 (u = 2^-11, as f16) for bf16/f16 inputs:
  // two roundings per term of S, inside the same 4u.
  if (dtype == "f16" || dtype == "tf32")
    return 4 * 4.8828125e-4; // u = 2^-11
  return 0.0;
}
