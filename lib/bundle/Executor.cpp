//===- Executor.cpp - run a kernel bundle on a GPU and check it -----------===//

#include "lib/bundle/Executor.h"

#include "lib/bundle/Plan.h"
#include "lib/data/Random.h"
#include "lib/npy/Npy.h"
#include "lib/reference/Reference.h"
#include "runtime/Runtime.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <map>
#include <memory>
#include <new>
#include <sstream>
#include <sys/stat.h>

using namespace muonssm;
using namespace muonssm::bundle;

namespace {

using reference::shapeString;

bool fileExists(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::optional<npy::DType> dtypeOf(const std::string &name) {
  for (npy::DType t : {npy::DType::F16, npy::DType::BF16, npy::DType::F32,
                       npy::DType::F64, npy::DType::I32, npy::DType::I64})
    if (name == npy::dtypeName(t))
      return t;
  return std::nullopt;
}

/// Evaluates a size (an integer, or an expression over bound names).
rt::StatusOr<int64_t> evaluateSize(const std::string &text,
                                   const rt::Sizes &sizes) {
  rt::StatusOr<rt::GridExpr> expr = rt::GridExpr::parse(text);
  if (!expr)
    return expr.status();
  return expr->evaluate(sizes);
}

struct Value {
  npy::Array host;
  rt::DeviceBuffer device;
};

class Execution {
public:
  Execution(const std::string &dir, const ExecuteOptions &options,
            std::ostream &out, std::ostream &err)
      : dir(dir), options(options), out(out), err(err) {}

  int run() {
    rt::StatusOr<rt::Bundle> loaded = rt::Bundle::load(dir);
    if (!loaded)
      return fail(loaded.status().message());
    bundle = std::move(*loaded);
    std::ifstream manifest(bundle.manifestPath);
    std::stringstream text;
    text << manifest.rdbuf();
    std::string error;
    if (!planFromJson(text.str(), plan, error))
      return fail(bundle.manifestPath + ": " + error);

    if (!prepareInputs() || !bindShapes())
      return 1;
    if (!options.quiet) {
      out << options.tool << ": " << dir << " @" << plan.entry << "\n";
      for (const TensorSpec &a : plan.args)
        out << "  input  " << std::left << std::setw(18) << a.name << " "
            << std::setw(5) << a.dtype << " "
            << shapeString(values[a.name].host.shape) << "  "
            << (fromFile.count(a.name) ? "from file"
                                       : std::string("random: ") +
                                             data::roleName(a.role))
            << "\n";
    }
    if (options.dryRun) {
      if (!options.quiet)
        out << "  inputs checked; no device opened (--dry-run)\n";
      return 0;
    }

    rt::StatusOr<rt::Device> device = rt::Device::open(options.device);
    if (!device)
      return fail(device.status().message());
    rt::StatusOr<rt::Module> module = rt::Module::load(*device, bundle);
    if (!module)
      return fail(module.status().message());
    rt::StatusOr<rt::Stream> stream =
        rt::Stream::create(*device, /*nonBlocking=*/true);
    if (!stream)
      return fail(stream.status().message());
    if (!options.quiet)
      out << "  device " << device->info().name << " ("
          << device->info().arch << "), kernels from "
          << (module->source() == rt::ModuleSource::Cubin ? "a cubin"
                                                          : "JIT-compiled PTX")
          << "\n";

    // Device buffers: arguments (copied in), results and temporaries.
    for (auto &[name, v] : values) {
      if (!aliasOf(name).empty())
        continue; // the argument's buffer, updated in place
      size_t bytes = v.host.data.size();
      rt::StatusOr<rt::DeviceBuffer> buffer =
          rt::DeviceBuffer::allocate(*device, std::max<size_t>(bytes, 16));
      if (!buffer)
        return fail(buffer.status().message() + " (for '" + name + "')");
      v.device = std::move(*buffer);
      if (isArgument(name) && bytes)
        if (rt::Status s = v.device.copyFromHostAsync(v.host.data.data(),
                                                      bytes, *stream);
            !s.ok())
          return fail(s.message());
    }

    std::vector<std::pair<rt::Kernel, std::vector<rt::KernelArg>>> launches;
    for (const Launch &l : plan.launches) {
      rt::StatusOr<rt::Kernel> kernel = module->kernel(l.kernel);
      if (!kernel)
        return fail(kernel.status().message());
      std::vector<rt::KernelArg> args;
      for (const LaunchArg &a : l.args) {
        if (!a.buffer.empty()) {
          std::string alias = aliasOf(a.buffer); // in place: the argument
          auto it = values.find(alias.empty() ? a.buffer : alias);
          if (it == values.end())
            return fail("launch of " + l.kernel + ": unknown buffer '" +
                        a.buffer + "'");
          // A memref<?xT> kernel argument: allocated and aligned pointers,
          // offset, size, stride, the integers as wide as the kernel's index
          // (32 bits for muonssm-to-gpu: then every element must be
          // addressable with 31 bits).
          rt::DevicePtr p = it->second.device.ptr();
          int64_t elements =
              static_cast<int64_t>(it->second.host.numElements());
          size_t at = args.size() + 2;
          const auto &params = kernel->info().params;
          bool narrow = at < params.size() &&
                        params[at].type == rt::ParamType::I32;
          if (narrow && elements > INT32_MAX)
            return fail("launch of " + l.kernel + ": '" + a.buffer +
                        "' has " + std::to_string(elements) +
                        " elements; the kernel indexes with 32 bits (at "
                        "most 2^31 - 1 elements per tensor)");
          auto integer = [&](int64_t v) {
            return narrow ? rt::KernelArg::i32(static_cast<int32_t>(v))
                          : rt::KernelArg::i64(v);
          };
          args.push_back(rt::KernelArg::ptr(p));
          args.push_back(rt::KernelArg::ptr(p));
          args.push_back(integer(0));
          args.push_back(integer(elements));
          args.push_back(integer(1));
          continue;
        }
        rt::StatusOr<int64_t> v = evaluateSize(a.value, sizes);
        if (!v)
          return fail("launch of " + l.kernel + ": " + v.status().message());
        args.push_back(a.type == "i32"
                           ? rt::KernelArg::i32(static_cast<int32_t>(*v))
                           : rt::KernelArg::i64(*v));
      }
      launches.push_back({*kernel, args});
    }
    auto runAll = [&]() -> rt::Status {
      for (auto &[kernel, args] : launches)
        if (rt::Status s = rt::launch(kernel, sizes, args, *stream); !s.ok())
          return s;
      return rt::Status::success();
    };

    if (rt::Status s = runAll(); !s.ok())
      return fail(s.message());
    for (const TensorSpec &r : plan.results) {
      Value &v = values[r.name];
      rt::DeviceBuffer &from =
          r.aliasOf.empty() ? v.device : values[r.aliasOf].device;
      if (rt::Status s = from.copyToHostAsync(v.host.data.data(),
                                              v.host.data.size(), *stream);
          !s.ok())
        return fail(s.message());
    }
    if (rt::Status s = stream->synchronize(options.timeoutSeconds); !s.ok())
      return fail(s.message());
    if (!options.quiet)
      for (const TensorSpec &r : plan.results)
        out << "  result " << std::left << std::setw(18) << r.name << " "
            << std::setw(5) << r.dtype << " "
            << shapeString(values[r.name].host.shape) << "\n";

    int code = 0;
    if (options.bench)
      code |= bench(*device, *stream, runAll);
    if (!options.dumpDir.empty())
      code |= dump();
    if (options.check)
      code |= check();
    return code;
  }

private:
  int fail(const std::string &message) {
    err << options.tool << ": error: " << message << "\n";
    return 1;
  }

  /// Why the host cannot hold an array of `shape` of `dtype` beside those
  /// already made, or "" (and the array counted): its size overflows, or
  /// exceeds the host's physical memory (an allocation that large can
  /// succeed and then get the process killed as it is filled), or with the
  /// others exceeds options.maxHostBytes.
  std::string hostArrayProblem(const std::vector<int64_t> &shape,
                               npy::DType dtype) {
    uint64_t bytes = 0;
    std::string problem =
        npy::checkedDataBytes(shape, shapeString(shape), npy::dtypeName(dtype),
                              npy::dtypeSize(dtype), bytes);
    if (!problem.empty())
      return problem;
    auto tooLarge = [&](const std::string &than) {
      return "shape " + shapeString(shape) + " of " + npy::dtypeName(dtype) +
             " needs " + std::to_string(bytes) + " bytes, more than " + than;
    };
    uint64_t memory = data::hostMemoryBytes();
    if (memory != 0 && bytes > memory)
      return tooLarge("this host's memory");
    uint64_t limit = options.maxHostBytes;
    if (limit != 0 && (bytes > limit || hostBytes > limit - bytes))
      return tooLarge(
          "the " + std::to_string(hostBytes < limit ? limit - hostBytes : 0) +
          " left of the " + std::to_string(limit) + " allowed");
    hostBytes += bytes;
    return "";
  }

  /// The argument a result aliases (computed in place), or "".
  std::string aliasOf(const std::string &name) const {
    for (const TensorSpec &r : plan.results)
      if (r.name == name)
        return r.aliasOf;
    return "";
  }

  bool isArgument(const std::string &name) const {
    for (const TensorSpec &a : plan.args)
      if (a.name == name)
        return true;
    return false;
  }

  /// Loads NAME.npy where present, binds every "<arg>_d<i>" size.
  bool prepareInputs() {
    for (const TensorSpec &a : plan.args) {
      std::optional<npy::DType> dtype = dtypeOf(a.dtype);
      if (!dtype)
        return fail("argument '" + a.name + "': unsupported element type " +
                    a.dtype) == 0;
      std::string path = options.inputsDir + "/" + a.name + ".npy";
      if (options.inputsDir.empty() || !fileExists(path))
        continue;
      npy::Array array;
      std::string error;
      if (!npy::readNpy(path, array, error, *dtype == npy::DType::BF16))
        return fail("argument '" + a.name + "': " + error) == 0;
      if (array.dtype != *dtype)
        return fail("argument '" + a.name + "' is " + a.dtype + " but " +
                    path + " holds " + npy::dtypeName(array.dtype)) == 0;
      if (array.shape.size() != a.shape.size())
        return fail("argument '" + a.name + "' has rank " +
                    std::to_string(a.shape.size()) + " but " + path +
                    " has shape " + shapeString(array.shape)) == 0;
      hostBytes += array.data.size();
      values[a.name].host = std::move(array);
      fromFile.insert({a.name, true});
    }
    // Sizes: static ones, then those the files fix.
    for (const TensorSpec &a : plan.args)
      for (size_t i = 0; i < a.shape.size(); ++i) {
        std::string name = a.name + "_d" + std::to_string(i);
        std::optional<int64_t> fixed = staticSize(a.shape[i]);
        if (fromFile.count(a.name)) {
          int64_t got = values[a.name].host.shape[i];
          if (fixed && *fixed != got)
            return fail("argument '" + a.name + "' needs dimension " +
                        std::to_string(i) + " = " + std::to_string(*fixed) +
                        ", the file has " + std::to_string(got)) == 0;
          sizes[name] = got;
        } else if (fixed) {
          sizes[name] = *fixed;
        }
      }
    // Random data for the rest (static shapes only).
    for (size_t index = 0; index < plan.args.size(); ++index) {
      const TensorSpec &a = plan.args[index];
      if (fromFile.count(a.name))
        continue;
      std::vector<int64_t> shape;
      for (size_t i = 0; i < a.shape.size(); ++i) {
        auto it = sizes.find(a.name + "_d" + std::to_string(i));
        if (it == sizes.end())
          return fail("argument '" + a.name +
                      "' has a dynamic size: give " + a.name +
                      ".npy with --inputs DIR") == 0;
        shape.push_back(it->second);
      }
      npy::DType dtype = *dtypeOf(a.dtype);
      if (std::string problem = hostArrayProblem(shape, dtype);
          !problem.empty())
        return fail("argument '" + a.name + "': " + problem) == 0;
      data::Normal normal =
          data::generatorFor(options.seed, static_cast<unsigned>(index));
      if (a.role == data::Role::Offsets) {
        int64_t total = offsetsTotal(a.name);
        if (total < 0 || shape.size() != 1 || shape[0] < 2)
          return fail("cannot draw cu_seqlens '" + a.name +
                      "' at random: give " + a.name + ".npy") == 0;
        values[a.name].host = data::randomOffsets(dtype, shape[0], total, normal);
      } else if (a.role == data::Role::Slots) {
        int64_t pool = poolSlots(a.name);
        if (pool < 0 || shape.size() != 1 || shape[0] > pool)
          return fail("cannot draw state_indices '" + a.name +
                      "' at random (it needs a pool of at least as many "
                      "slots as sequences): give " +
                      a.name + ".npy") == 0;
        values[a.name].host = data::randomSlots(dtype, shape[0], pool, normal);
      } else {
        values[a.name].host = data::randomArray(a.role, dtype, shape, normal);
      }
    }
    return true;
  }

  /// P, the pool's slots, of the scan whose state_indices is `name`.
  int64_t poolSlots(const std::string &name) {
    for (const ReferenceOp &op : plan.reference) {
      auto slots = op.operands.find("state_indices");
      auto pool = op.operands.find("initial_state");
      if (slots == op.operands.end() || slots->second != name ||
          pool == op.operands.end())
        continue;
      auto it = sizes.find(pool->second + "_d0");
      return it == sizes.end() ? -1 : it->second;
    }
    return -1;
  }

  /// T of the scan whose cu_seqlens is `name`.
  int64_t offsetsTotal(const std::string &name) {
    for (const ReferenceOp &op : plan.reference) {
      auto cu = op.operands.find("cu_seqlens");
      auto v = op.operands.find("v");
      if (cu == op.operands.end() || cu->second != name ||
          v == op.operands.end())
        continue;
      auto it = sizes.find(v->second + "_d1");
      return it == sizes.end() ? -1 : it->second;
    }
    return -1;
  }

  /// Result and temporary shapes; checks argument shapes and cu_seqlens
  /// values with the reference's rules before anything runs.
  bool bindShapes() {
    std::map<std::string, std::vector<int64_t>> shapes;
    for (const TensorSpec &a : plan.args)
      shapes[a.name] = values[a.name].host.shape;
    std::string problem = inferShapes(plan, shapes);
    if (problem.empty()) {
      // The oracle's shape rules, on shapes alone (and the offsets).
      std::map<std::string, reference::Tensor> none;
      for (const ReferenceOp &op : plan.reference) {
        if (op.kind != ReferenceOp::Kind::Scan)
          continue;
        reference::ScanShapes s;
        auto shapeOf = [&](const char *key) -> const std::vector<int64_t> * {
          auto it = op.operands.find(key);
          return it == op.operands.end() ? nullptr : &shapes[it->second];
        };
        s.q = shapeOf("q"), s.k = shapeOf("k"), s.v = shapeOf("v"),
        s.g = shapeOf("g"), s.dt = shapeOf("dt"), s.a = shapeOf("A"),
        s.beta = shapeOf("beta"), s.gain = shapeOf("gain");
        s.skip = shapeOf("D"), s.gate = shapeOf("z");
        s.initialState = shapeOf("initial_state");
        s.initialMomentum = shapeOf("initial_momentum");
        // Integer operands: their values, checked with the shapes.
        for (auto [key, slot] :
             std::vector<std::pair<const char *, const std::vector<int64_t> **>>{
                 {"cu_seqlens", &s.cuSeqlens},
                 {"state_indices", &s.stateIndices}}) {
          auto c = op.operands.find(key);
          if (c == op.operands.end() || !values.count(c->second))
            continue;
          const npy::Array &array = values[c->second].host;
          std::vector<int64_t> &ints = integers[c->second];
          ints.clear();
          for (size_t i = 0; i < array.numElements(); ++i)
            ints.push_back(static_cast<int64_t>(array.getAsDouble(i)));
          *slot = &ints;
        }
        problem = reference::checkScan(op.scan, s);
        if (!problem.empty())
          break;
      }
    }
    if (!problem.empty())
      return fail("the inputs do not fit: " + problem) == 0;
    for (const TensorSpec &r : plan.results) {
      auto it = shapes.find(r.name);
      if (it == shapes.end())
        return fail("no shape for result '" + r.name + "'") == 0;
      if (std::string problem = hostArrayProblem(it->second, *dtypeOf(r.dtype));
          !problem.empty())
        return fail("result '" + r.name + "': " + problem) == 0;
      values[r.name].host = npy::Array::zeros(*dtypeOf(r.dtype), it->second);
      for (size_t i = 0; i < it->second.size(); ++i)
        sizes[r.name + "_d" + std::to_string(i)] = it->second[i];
    }
    for (const TensorSpec &t : plan.temporaries) {
      std::vector<int64_t> shape;
      for (const std::string &d : t.shape) {
        rt::StatusOr<int64_t> v = evaluateSize(d, sizes);
        if (!v)
          return fail("temporary '" + t.name + "': " + v.status().message()) ==
                 0;
        shape.push_back(*v);
      }
      if (std::string problem = hostArrayProblem(shape, *dtypeOf(t.dtype));
          !problem.empty())
        return fail("temporary '" + t.name + "': " + problem) == 0;
      values[t.name].host = npy::Array::zeros(*dtypeOf(t.dtype), shape);
    }
    return true;
  }

  int bench(const rt::Device &device, const rt::Stream &stream,
            const std::function<rt::Status()> &runAll) {
    // The launches as one CUDA graph, replayed: no host launch overhead in
    // the timings, as torch.cuda.CUDAGraph for flash-linear-attention.
    rt::StatusOr<rt::Graph> graph = rt::Graph::capture(stream, runAll);
    if (!graph)
      return fail(graph.status().message());
    for (int warm = 0; warm < 3; ++warm)
      if (rt::Status s = graph->launch(stream); !s.ok())
        return fail(s.message());
    std::vector<double> ms;
    for (unsigned r = 0; r < options.bench; ++r) {
      rt::StatusOr<rt::Event> start = rt::Event::create(device),
                              end = rt::Event::create(device);
      if (!start || !end)
        return fail("events: " + (start ? end : start).status().message());
      if (rt::Status s = start->record(stream); !s.ok())
        return fail(s.message());
      if (rt::Status s = graph->launch(stream); !s.ok())
        return fail(s.message());
      if (rt::Status s = end->record(stream); !s.ok())
        return fail(s.message());
      if (rt::Status s = end->synchronize(options.timeoutSeconds); !s.ok())
        return fail(s.message());
      rt::StatusOr<float> t = rt::Event::elapsedMs(*start, *end);
      if (!t)
        return fail(t.status().message());
      ms.push_back(*t);
    }
    std::sort(ms.begin(), ms.end());
    double median = ms[ms.size() / 2];
    int64_t tokens = 0;
    for (const ReferenceOp &op : plan.reference) {
      auto q = op.operands.find(op.kind == ReferenceOp::Kind::Scan ? "q" : "");
      if (q != op.operands.end())
        tokens = std::max(tokens, sizes[q->second + "_d0"] *
                                      sizes[q->second + "_d1"]);
    }
    out << std::fixed << std::setprecision(4) << "bench: " << options.bench
        << " CUDA-graph replays after 3 warm-ups, median " << median
        << " ms, min " << ms.front() << " ms, "
        << std::setprecision(0)
        << (median > 0 ? tokens / (median * 1e-3) : 0.0)
        << " tokens/s (" << tokens << " tokens)\n"
        << std::defaultfloat;
    return 0;
  }

  int dump() {
    ::mkdir(options.dumpDir.c_str(), 0755);
    for (const auto *list : {&plan.args, &plan.results})
      for (const TensorSpec &t : *list) {
        std::string error;
        if (!npy::writeNpy(options.dumpDir + "/" + t.name + ".npy",
                           values[t.name].host, error))
          return fail(error);
      }
    return 0;
  }

  int check() {
    std::map<std::string, reference::Tensor> f64;
    for (const TensorSpec &a : plan.args) {
      const npy::Array &array = values[a.name].host;
      reference::Tensor t(array.shape);
      for (size_t i = 0; i < array.numElements(); ++i)
        t.data()[i] = array.getAsDouble(i);
      f64[a.name] = std::move(t);
    }
    std::string problem = evaluateReference(plan, f64, integers);
    if (!problem.empty())
      return fail("reference: " + problem);
    out << "check against the float64 oracle (normwise relative error "
           "‖out − ref‖/‖ref‖):\n";
    bool ok = true;
    for (const TensorSpec &r : plan.results) {
      auto it = f64.find(r.name);
      if (it == f64.end())
        return fail("the reference defines no '" + r.name + "'");
      data::Comparison c = data::compare(values[r.name].host,
                                         it->second.data());
      double tolerance = data::checkTolerance(r.dtype);
      for (const bundle::Launch &l : plan.launches)
        if (!l.products.empty())
          tolerance =
              std::max(tolerance, data::productTolerance(l.products));
      bool pass = c.relative <= tolerance;
      ok &= pass;
      char line[256];
      std::snprintf(line, sizeof(line),
                    "  %-18s max abs err %.3e  rel err %.3e  tolerance %.1e "
                    "(%s)  %s\n",
                    r.name.c_str(), c.maxAbs, c.relative, tolerance,
                    r.dtype.c_str(), pass ? "ok" : "FAIL");
      out << line;
    }
    if (!ok)
      return fail("results differ from the float64 oracle by more than the "
                  "tolerance");
    return 0;
  }

  std::string dir;
  const ExecuteOptions &options;
  std::ostream &out, &err;
  rt::Bundle bundle;
  Plan plan;
  std::map<std::string, Value> values;
  std::map<std::string, bool> fromFile;
  std::map<std::string, std::vector<int64_t>> integers; ///< cu_seqlens, state_indices values
  rt::Sizes sizes;
  uint64_t hostBytes = 0; ///< taken by the host arrays (hostArrayProblem)
};

} // namespace

int bundle::executeBundle(const std::string &dir,
                          const ExecuteOptions &options, std::ostream &out,
                          std::ostream &err) {
  // Each array fits the host's memory alone (hostArrayProblem); together,
  // or with the oracle's float64 copies, they may not.
  try {
    return Execution(dir, options, out, err).run();
  } catch (const std::bad_alloc &) {
    err << options.tool << ": error: out of host memory for " << dir << "\n";
    return 1;
  }
}
