//===- Plan.cpp - what a kernel bundle runs, and what it computes ---------===//

#include "lib/bundle/Plan.h"

#include "lib/data/Random.h"

#include <algorithm>
#include <charconv>

#include <nlohmann/json.hpp>

using json = nlohmann::json;
using namespace muonssm;
using namespace muonssm::bundle;

std::optional<int64_t> bundle::staticSize(const std::string &size) {
  int64_t n = 0;
  const char *end = size.data() + size.size();
  auto [at, ec] = std::from_chars(size.data(), end, n);
  if (size.empty() || size[0] == '-' || ec != std::errc() || at != end)
    return std::nullopt;
  return n;
}

size_t bundle::dtypeBytes(const std::string &dtype) {
  if (dtype == "f16" || dtype == "bf16")
    return 2;
  if (dtype == "f32" || dtype == "i32")
    return 4;
  if (dtype == "f64" || dtype == "i64")
    return 8;
  return 0;
}

//===----------------------------------------------------------------------===//
// Serialisation
//===----------------------------------------------------------------------===//

namespace {

json tensorJson(const TensorSpec &t, bool withRole) {
  json j = {{"name", t.name}, {"dtype", t.dtype}, {"shape", json::array()}};
  for (const std::string &d : t.shape) {
    if (std::optional<int64_t> n = staticSize(d))
      j["shape"].push_back(*n);
    else
      j["shape"].push_back(d);
  }
  if (withRole)
    j["role"] = data::roleKey(t.role);
  if (!t.aliasOf.empty())
    j["alias_of"] = t.aliasOf;
  return j;
}

json nsJson(const reference::NSConfig &ns) {
  return {{"polynomial",
           ns.polynomial == reference::Polynomial::Quintic ? "quintic"
                                                           : "cubic"},
          {"eps_mode", ns.epsMode == reference::EpsMode::Add ? "add" : "max"},
          {"eps", ns.eps},
          {"steps", ns.steps}};
}

const char *decayName(reference::Decay d) {
  switch (d) {
  case reference::Decay::None:
    return "none";
  case reference::Decay::Scalar:
    return "scalar";
  case reference::Decay::Diagonal:
    return "diagonal";
  case reference::Decay::Mamba:
    return "mamba";
  case reference::Decay::Longhorn:
    return "longhorn";
  }
  return "none";
}

json scanJson(const reference::ScanConfig &c) {
  json j = {{"decay", decayName(c.decay)},
            {"input", c.input == reference::Input::Update ? "update" : "error"},
            {"tau", c.tau},
            {"scale", c.scale}};
  if (c.deltaRule)
    j["delta_rule"] = *c.deltaRule;
  if (c.momentum)
    j["momentum"] = *c.momentum;
  if (c.ns) {
    j["newton_schulz"] = nsJson(*c.ns);
    j["ns_target"] =
        c.nsTarget == reference::NSTarget::Update ? "update" : "momentum";
    j["tau_placement"] = c.tauPlacement == reference::TauPlacement::Inside
                             ? "inside"
                             : "after";
  }
  return j;
}

/// Reads JSON fields with errors naming the path.
class Reader {
public:
  explicit Reader(std::string &error) : error(error) {}
  std::string &error;

  bool fail(const std::string &path, const std::string &what) {
    if (error.empty())
      error = path + ": " + what;
    return false;
  }
  bool string(const json &j, const char *key, const std::string &path,
              std::string &out) {
    if (!j.contains(key) || !j[key].is_string())
      return fail(path + "." + key, "expected a string");
    out = j[key].get<std::string>();
    return true;
  }
  bool number(const json &j, const char *key, const std::string &path,
              double &out) {
    if (!j.contains(key) || !j[key].is_number())
      return fail(path + "." + key, "expected a number");
    out = j[key].get<double>();
    return true;
  }
  bool tensor(const json &j, const std::string &path, TensorSpec &t) {
    if (!j.is_object())
      return fail(path, "expected an object");
    if (!string(j, "name", path, t.name) || !string(j, "dtype", path, t.dtype))
      return false;
    if (dtypeBytes(t.dtype) == 0)
      return fail(path + ".dtype", "unknown element type '" + t.dtype + "'");
    if (!j.contains("shape") || !j["shape"].is_array())
      return fail(path + ".shape", "expected an array");
    for (const json &d : j["shape"]) {
      if (d.is_number_integer() && d.get<int64_t>() >= 0)
        t.shape.push_back(std::to_string(d.get<int64_t>()));
      // A string is a name or an expression: a static size is a number.
      else if (d.is_string() && !d.get<std::string>().empty() &&
               d.get<std::string>().find_first_not_of("0123456789") !=
                   std::string::npos)
        t.shape.push_back(d.get<std::string>());
      else
        return fail(path + ".shape", "expected sizes (integers >= 0 or names)");
    }
    if (j.contains("role")) {
      auto role = j["role"].is_string()
                      ? data::roleFromKey(j["role"].get<std::string>())
                      : std::nullopt;
      if (!role)
        return fail(path + ".role", "unknown role");
      t.role = *role;
    }
    if (j.contains("alias_of") &&
        !string(j, "alias_of", path, t.aliasOf))
      return false;
    return true;
  }
  bool ns(const json &j, const std::string &path, reference::NSConfig &out) {
    std::string poly, mode;
    double eps, steps;
    if (!string(j, "polynomial", path, poly) ||
        !string(j, "eps_mode", path, mode) || !number(j, "eps", path, eps) ||
        !number(j, "steps", path, steps))
      return false;
    if (poly != "quintic" && poly != "cubic")
      return fail(path + ".polynomial", "expected quintic or cubic");
    if (mode != "add" && mode != "max")
      return fail(path + ".eps_mode", "expected add or max");
    out.polynomial = poly == "quintic" ? reference::Polynomial::Quintic
                                       : reference::Polynomial::Cubic;
    out.epsMode =
        mode == "add" ? reference::EpsMode::Add : reference::EpsMode::Max;
    out.eps = eps;
    out.steps = static_cast<int64_t>(steps);
    return true;
  }
  bool scan(const json &j, const std::string &path,
            reference::ScanConfig &c) {
    std::string decay, input;
    if (!string(j, "decay", path, decay) || !string(j, "input", path, input) ||
        !number(j, "tau", path, c.tau) || !number(j, "scale", path, c.scale))
      return false;
    const std::pair<const char *, reference::Decay> decays[] = {
        {"none", reference::Decay::None},
        {"scalar", reference::Decay::Scalar},
        {"diagonal", reference::Decay::Diagonal},
        {"mamba", reference::Decay::Mamba},
        {"longhorn", reference::Decay::Longhorn}};
    bool found = false;
    for (auto &[name, d] : decays)
      if (decay == name)
        c.decay = d, found = true;
    if (!found)
      return fail(path + ".decay", "unknown decay '" + decay + "'");
    c.input = input == "error" ? reference::Input::Error
                               : reference::Input::Update;
    double x;
    if (j.contains("delta_rule") && number(j, "delta_rule", path, x))
      c.deltaRule = x;
    if (j.contains("momentum") && number(j, "momentum", path, x))
      c.momentum = x;
    if (j.contains("newton_schulz")) {
      reference::NSConfig config;
      if (!ns(j["newton_schulz"], path + ".newton_schulz", config))
        return false;
      c.ns = config;
      std::string target, place;
      if (!string(j, "ns_target", path, target) ||
          !string(j, "tau_placement", path, place))
        return false;
      c.nsTarget = target == "momentum" ? reference::NSTarget::Momentum
                                        : reference::NSTarget::Update;
      c.tauPlacement = place == "after" ? reference::TauPlacement::After
                                        : reference::TauPlacement::Inside;
    }
    return error.empty();
  }
};

json namesJson(const std::map<std::string, std::string> &m) {
  json j = json::object();
  for (auto &[k, v] : m)
    j[k] = v;
  return j;
}

} // namespace

std::string bundle::planToJson(const Plan &plan) {
  json entry = {{"name", plan.entry},
                {"args", json::array()},
                {"results", json::array()},
                {"temporaries", json::array()},
                {"launches", json::array()}};
  for (const TensorSpec &t : plan.args)
    entry["args"].push_back(tensorJson(t, true));
  for (const TensorSpec &t : plan.results)
    entry["results"].push_back(tensorJson(t, false));
  for (const TensorSpec &t : plan.temporaries)
    entry["temporaries"].push_back(tensorJson(t, false));
  for (const Launch &l : plan.launches) {
    json launch = {{"kernel", l.kernel}, {"args", json::array()}};
    if (!l.products.empty())
      launch["products"] = l.products;
    for (const LaunchArg &a : l.args)
      launch["args"].push_back(
          a.buffer.empty() ? json{{"type", a.type}, {"value", a.value}}
                           : json{{"buffer", a.buffer}});
    entry["launches"].push_back(launch);
  }
  json ops = json::array();
  for (const ReferenceOp &op : plan.reference) {
    json j = {{"operands", namesJson(op.operands)},
              {"results", namesJson(op.results)}};
    switch (op.kind) {
    case ReferenceOp::Kind::Scan:
      j["op"] = "scan";
      j["config"] = scanJson(op.scan);
      break;
    case ReferenceOp::Kind::Rank1Gain:
      j["op"] = "rank1_gain";
      j["config"] = {{"newton_schulz", nsJson(op.gain.ns)},
                     {"tau_in", op.gain.tauIn},
                     {"tau_out", op.gain.tauOut}};
      break;
    case ReferenceOp::Kind::NewtonSchulz:
      j["op"] = "newton_schulz";
      j["config"] = {{"newton_schulz", nsJson(op.ns)}};
      break;
    }
    ops.push_back(j);
  }
  json out = {{"entry", entry}, {"reference", {{"ops", ops}}}};
  std::string text = out.dump(2);
  // The two members without the enclosing braces, to splice into a manifest.
  return text.substr(2, text.size() - 4);
}

bool bundle::planFromJson(const std::string &text, Plan &plan,
                          std::string &error) {
  json manifest = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (manifest.is_discarded())
    return error = "manifest.json: not valid JSON", false;
  Reader r(error);
  if (!manifest.contains("entry") || !manifest["entry"].is_object())
    return r.fail("entry", "expected an object (a bundle from "
                           "muonssm-translate --emit-bundle)");
  const json &entry = manifest["entry"];
  if (!r.string(entry, "name", "entry", plan.entry))
    return false;
  for (const char *list : {"args", "results", "temporaries"}) {
    if (!entry.contains(list) || !entry[list].is_array())
      return r.fail(std::string("entry.") + list, "expected an array");
    std::vector<TensorSpec> &out = std::string(list) == "args" ? plan.args
                                   : std::string(list) == "results"
                                       ? plan.results
                                       : plan.temporaries;
    for (size_t i = 0; i < entry[list].size(); ++i) {
      TensorSpec t;
      if (!r.tensor(entry[list][i],
                    "entry." + std::string(list) + "[" + std::to_string(i) +
                        "]",
                    t))
        return false;
      out.push_back(t);
    }
  }
  for (size_t i = 0; i < plan.results.size(); ++i) {
    const TensorSpec &t = plan.results[i];
    if (t.aliasOf.empty())
      continue;
    auto arg = std::find_if(plan.args.begin(), plan.args.end(),
                            [&](const TensorSpec &a) {
                              return a.name == t.aliasOf;
                            });
    if (arg == plan.args.end() || arg->dtype != t.dtype ||
        arg->shape != t.shape)
      return r.fail("entry.results[" + std::to_string(i) + "].alias_of",
                    "'" + t.aliasOf +
                        "' is not an argument of the result's type and shape");
  }
  if (!entry.contains("launches") || !entry["launches"].is_array())
    return r.fail("entry.launches", "expected an array");
  for (size_t i = 0; i < entry["launches"].size(); ++i) {
    const json &l = entry["launches"][i];
    std::string path = "entry.launches[" + std::to_string(i) + "]";
    Launch launch;
    if (!r.string(l, "kernel", path, launch.kernel))
      return false;
    if (!l.contains("args") || !l["args"].is_array())
      return r.fail(path + ".args", "expected an array");
    if (l.contains("products")) {
      if (!r.string(l, "products", path, launch.products))
        return false;
      // A rounding the check has a tolerance for (data::productTolerance).
      if (data::productTolerance(launch.products) == 0.0)
        return r.fail(path + ".products", "expected bf16, f16 or tf32");
    }
    for (size_t a = 0; a < l["args"].size(); ++a) {
      const json &arg = l["args"][a];
      std::string apath = path + ".args[" + std::to_string(a) + "]";
      LaunchArg la;
      if (arg.contains("buffer")) {
        if (!r.string(arg, "buffer", apath, la.buffer))
          return false;
      } else if (!r.string(arg, "type", apath, la.type) ||
                 !r.string(arg, "value", apath, la.value)) {
        return false;
      } else if (la.type != "i32" && la.type != "i64") {
        return r.fail(apath + ".type", "expected i32 or i64");
      }
      launch.args.push_back(la);
    }
    plan.launches.push_back(launch);
  }
  if (!manifest.contains("reference") ||
      !manifest["reference"].contains("ops") ||
      !manifest["reference"]["ops"].is_array())
    return r.fail("reference.ops", "expected an array");
  const json &ops = manifest["reference"]["ops"];
  for (size_t i = 0; i < ops.size(); ++i) {
    std::string path = "reference.ops[" + std::to_string(i) + "]";
    const json &j = ops[i];
    ReferenceOp op;
    std::string kind;
    if (!r.string(j, "op", path, kind))
      return false;
    for (const char *part : {"operands", "results"}) {
      if (!j.contains(part) || !j[part].is_object())
        return r.fail(path + "." + part, "expected an object");
      for (auto it = j[part].begin(); it != j[part].end(); ++it) {
        if (!it.value().is_string())
          return r.fail(path + "." + part + "." + it.key(),
                        "expected a value name");
        (std::string(part) == "operands" ? op.operands
                                         : op.results)[it.key()] =
            it.value().get<std::string>();
      }
    }
    if (!j.contains("config") || !j["config"].is_object())
      return r.fail(path + ".config", "expected an object");
    const json &config = j["config"];
    if (kind == "scan") {
      op.kind = ReferenceOp::Kind::Scan;
      if (!r.scan(config, path + ".config", op.scan))
        return false;
    } else if (kind == "rank1_gain") {
      op.kind = ReferenceOp::Kind::Rank1Gain;
      if (!r.ns(config["newton_schulz"], path + ".config.newton_schulz",
                op.gain.ns) ||
          !r.number(config, "tau_in", path + ".config", op.gain.tauIn) ||
          !r.number(config, "tau_out", path + ".config", op.gain.tauOut))
        return false;
    } else if (kind == "newton_schulz") {
      op.kind = ReferenceOp::Kind::NewtonSchulz;
      if (!r.ns(config["newton_schulz"], path + ".config.newton_schulz",
                op.ns))
        return false;
    } else {
      return r.fail(path + ".op", "unknown op '" + kind + "'");
    }
    plan.reference.push_back(op);
  }
  return true;
}

//===----------------------------------------------------------------------===//
// The reference, in float64
//===----------------------------------------------------------------------===//

namespace {
const reference::Tensor *find(std::map<std::string, reference::Tensor> &values,
                              const std::map<std::string, std::string> &names,
                              const char *key) {
  auto it = names.find(key);
  if (it == names.end())
    return nullptr;
  auto v = values.find(it->second);
  return v == values.end() ? nullptr : &v->second;
}
} // namespace

std::string bundle::evaluateReference(
    const Plan &plan, std::map<std::string, reference::Tensor> &values,
    const std::map<std::string, std::vector<int64_t>> &integers) {
  for (const ReferenceOp &op : plan.reference) {
    auto define = [&](const char *key, reference::Tensor t) {
      auto it = op.results.find(key);
      if (it != op.results.end())
        values[it->second] = std::move(t);
    };
    switch (op.kind) {
    case ReferenceOp::Kind::Scan: {
      reference::ScanInputs in;
      for (auto [key, slot] :
           std::vector<std::pair<const char *, const reference::Tensor **>>{
               {"q", &in.q}, {"k", &in.k}, {"v", &in.v}, {"g", &in.g},
               {"dt", &in.dt}, {"A", &in.a}, {"beta", &in.beta},
               {"gain", &in.gain}, {"D", &in.skip}, {"z", &in.gate},
               {"initial_state", &in.initialState},
               {"initial_momentum", &in.initialMomentum}})
        *slot = find(values, op.operands, key);
      for (auto [key, slot] :
           std::vector<std::pair<const char *, const std::vector<int64_t> **>>{
               {"cu_seqlens", &in.cuSeqlens},
               {"state_indices", &in.stateIndices}}) {
        auto name = op.operands.find(key);
        if (name == op.operands.end())
          continue;
        auto it = integers.find(name->second);
        if (it == integers.end())
          return std::string(key) + " '" + name->second + "' has no values";
        *slot = &it->second;
      }
      std::string problem = reference::checkScan(op.scan, in);
      if (!problem.empty())
        return "the inputs do not fit the scan: " + problem;
      reference::ScanOutputs out = reference::scan(op.scan, in);
      define("o", std::move(out.o));
      define("final_state", std::move(out.finalState));
      define("final_momentum", std::move(out.finalMomentum));
      break;
    }
    case ReferenceOp::Kind::Rank1Gain: {
      const reference::Tensor *k = find(values, op.operands, "k"),
                              *v = find(values, op.operands, "v");
      if (!k || !v)
        return "rank1_gain needs k and v";
      define("gain", reference::rank1GainTensor(
                         op.gain, *k, *v, find(values, op.operands, "beta"),
                         find(values, op.operands, "dt")));
      break;
    }
    case ReferenceOp::Kind::NewtonSchulz: {
      const reference::Tensor *x = find(values, op.operands, "input");
      if (!x)
        return "newton_schulz needs its input";
      define("result", reference::newtonSchulzBatched(*x, op.ns));
      break;
    }
    }
  }
  return "";
}

std::string
bundle::inferShapes(const Plan &plan,
                    std::map<std::string, std::vector<int64_t>> &shapes) {
  auto shapeOf = [&](const ReferenceOp &op,
                     const char *key) -> const std::vector<int64_t> * {
    auto it = op.operands.find(key);
    if (it == op.operands.end())
      return nullptr;
    auto s = shapes.find(it->second);
    return s == shapes.end() ? nullptr : &s->second;
  };
  for (const ReferenceOp &op : plan.reference) {
    auto define = [&](const char *key, std::vector<int64_t> shape) {
      auto it = op.results.find(key);
      if (it != op.results.end())
        shapes[it->second] = std::move(shape);
    };
    if (op.kind == ReferenceOp::Kind::Scan) {
      const auto *q = shapeOf(op, "q"), *v = shapeOf(op, "v"),
                 *cu = shapeOf(op, "cu_seqlens");
      if (!q || !v || q->size() != 4 || v->size() != 4)
        return "scan operands q and v must have rank 4";
      int64_t n = cu ? (*cu)[0] - 1 : (*v)[0];
      // State pools: the final states are the pools [P, …].
      const auto *pool = shapeOf(op, "initial_state");
      if (op.operands.count("state_indices") && pool && !pool->empty())
        n = (*pool)[0];
      define("o", *v);
      define("final_state", {n, (*v)[2], (*q)[3], (*v)[3]});
      define("final_momentum", {n, (*v)[2], (*q)[3], (*v)[3]});
    } else if (op.kind == ReferenceOp::Kind::Rank1Gain) {
      const auto *v = shapeOf(op, "v");
      if (!v || v->size() != 4)
        return "rank1_gain's v must have rank 4";
      define("gain", {(*v)[0], (*v)[1], (*v)[2]});
    } else {
      const auto *x = shapeOf(op, "input");
      if (!x)
        return "newton_schulz needs its input";
      define("result", *x);
    }
  }
  return "";
}
