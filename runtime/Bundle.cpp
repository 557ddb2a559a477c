//===- Bundle.cpp - manifest.json, grid expressions, arch names -----------===//
//
// Everything here is plain data: no driver call, so all of it is tested on
// machines without a GPU.
//
// manifest.json ("muonssm-bundle-1"):
//   {"format": "muonssm-bundle-1", "compiler": "...", "ir_hash": "<hex>",
//    "ptx": "kernels.ptx", "ptx_arch": "sm_90a",
//    "cubins": {"sm_90a": "kernels.sm_90a.cubin"},          (optional)
//    "kernels": [{"name": "...", "params": [{"name", "type"}, ...],
//                 "block": [x, y, z], "grid": ["expr", "expr", "expr"],
//                 "shared_bytes": n}]}                       (optional n)
// Unknown keys are ignored, so later compilers may add fields.
//
//===----------------------------------------------------------------------===//

#include "runtime/Runtime.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <limits>
#include <set>

using namespace muonssm::rt;
using json = nlohmann::json;
namespace fs = std::filesystem;

//===----------------------------------------------------------------------===//
// Architectures
//===----------------------------------------------------------------------===//

std::string muonssm::rt::archForComputeCapability(int major, int minor) {
  std::string arch = "sm_" + std::to_string(major * 10 + minor);
  // Hopper and later have architecture-specific features (wgmma, setmaxnreg)
  // that only "sm_XYa" targets may use; the project compiles for those.
  if (major >= 9)
    arch += "a";
  return arch;
}

std::optional<ArchName> muonssm::rt::parseArch(const std::string &arch) {
  if (arch.size() < 4 || arch.compare(0, 3, "sm_") != 0)
    return std::nullopt;
  size_t end = arch.size();
  ArchName out;
  if (arch.back() == 'a' || arch.back() == 'f') {
    out.suffix = arch.back();
    --end;
  }
  if (end == 3 || end - 3 > 4)
    return std::nullopt;
  for (size_t i = 3; i < end; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(arch[i])))
      return std::nullopt;
    out.cc = out.cc * 10 + (arch[i] - '0');
  }
  if (out.cc < 10)
    return std::nullopt;
  return out;
}

bool muonssm::rt::ptxRunsOn(const std::string &ptxArch, int major, int minor) {
  std::optional<ArchName> a = parseArch(ptxArch);
  if (!a)
    return false;
  int cc = major * 10 + minor;
  switch (a->suffix) {
  case 'a':
    return cc == a->cc;
  case 'f':
    return major == a->cc / 10 && cc >= a->cc;
  default:
    return cc >= a->cc;
  }
}

//===----------------------------------------------------------------------===//
// Param types
//===----------------------------------------------------------------------===//

const char *muonssm::rt::paramTypeName(ParamType type) {
  switch (type) {
  case ParamType::Ptr:
    return "ptr";
  case ParamType::I32:
    return "i32";
  case ParamType::I64:
    return "i64";
  case ParamType::F32:
    return "f32";
  case ParamType::F64:
    return "f64";
  case ParamType::TensorMap:
    return "tensormap";
  }
  return "?";
}

std::optional<ParamType> muonssm::rt::parseParamType(const std::string &name) {
  for (ParamType t : {ParamType::Ptr, ParamType::I32, ParamType::I64,
                      ParamType::F32, ParamType::F64, ParamType::TensorMap})
    if (name == paramTypeName(t))
      return t;
  return std::nullopt;
}

size_t muonssm::rt::paramTypeSize(ParamType type) {
  switch (type) {
  case ParamType::I32:
  case ParamType::F32:
    return 4;
  default:
    return 8;
  }
}

//===----------------------------------------------------------------------===//
// Grid expressions
//===----------------------------------------------------------------------===//

struct GridExpr::Node {
  enum Kind { Const, Name, Neg, Add, Sub, Mul, Div, CeilDiv, Min, Max };
  Kind kind = Const;
  int64_t value = 0;
  std::string name;
  std::shared_ptr<const Node> lhs, rhs;
};

namespace {

using NodePtr = std::shared_ptr<const GridExpr::Node>;
using Node = GridExpr::Node;

NodePtr makeNode(Node::Kind kind, NodePtr lhs = nullptr,
                 NodePtr rhs = nullptr) {
  auto n = std::make_shared<Node>();
  n->kind = kind;
  n->lhs = std::move(lhs);
  n->rhs = std::move(rhs);
  return n;
}

/// Recursive descent over
///   expr    := term (('+' | '-') term)*
///   term    := unary (('*' | '/') unary)*
///   unary   := '-' unary | primary
///   primary := INT | NAME | ('ceil' | 'min' | 'max') '(' ... ')' | '(' expr
///   ')'
class ExprParser {
public:
  explicit ExprParser(const std::string &text) : text_(text) {}

  NodePtr parse() {
    skipSpace();
    if (pos_ == text_.size())
      return fail("empty expression");
    NodePtr n = parseExpr();
    if (!n)
      return nullptr;
    skipSpace();
    if (pos_ != text_.size())
      return fail(std::string("unexpected '") + text_[pos_] + "'");
    return n;
  }
  const std::string &error() const { return error_; }

private:
  NodePtr fail(const std::string &what) {
    if (error_.empty())
      error_ = what + " at column " + std::to_string(pos_ + 1);
    return nullptr;
  }
  void skipSpace() {
    while (pos_ < text_.size() &&
           std::isspace(static_cast<unsigned char>(text_[pos_])))
      ++pos_;
  }
  bool eat(char c) {
    skipSpace();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool expect(char c) {
    if (eat(c))
      return true;
    fail(std::string("expected '") + c + "'");
    return false;
  }

  NodePtr parseExpr() {
    NodePtr lhs = parseTerm();
    while (lhs) {
      if (eat('+'))
        lhs = combine(Node::Add, lhs, parseTerm());
      else if (eat('-'))
        lhs = combine(Node::Sub, lhs, parseTerm());
      else
        break;
    }
    return lhs;
  }
  NodePtr parseTerm() {
    NodePtr lhs = parseUnary();
    while (lhs) {
      if (eat('*'))
        lhs = combine(Node::Mul, lhs, parseUnary());
      else if (eat('/'))
        lhs = combine(Node::Div, lhs, parseUnary());
      else
        break;
    }
    return lhs;
  }
  static NodePtr combine(Node::Kind kind, NodePtr lhs, NodePtr rhs) {
    return rhs ? makeNode(kind, std::move(lhs), std::move(rhs)) : nullptr;
  }
  NodePtr parseUnary() {
    if (eat('-')) {
      NodePtr operand = parseUnary();
      return operand ? makeNode(Node::Neg, operand) : nullptr;
    }
    return parsePrimary();
  }
  NodePtr parsePrimary() {
    if (++depth_ > 64)
      return fail("expression nested too deeply");
    struct DepthGuard {
      int &depth;
      ~DepthGuard() { --depth; }
    } guard{depth_};

    skipSpace();
    if (pos_ == text_.size())
      return fail("expected a number, a size name or '(' but the "
                  "expression ended");
    char c = text_[pos_];
    if (std::isdigit(static_cast<unsigned char>(c))) {
      int64_t v = 0;
      size_t start = pos_;
      while (pos_ < text_.size() &&
             std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
        int digit = text_[pos_] - '0';
        if (v > (std::numeric_limits<int64_t>::max() - digit) / 10) {
          pos_ = start;
          return fail("integer literal too large");
        }
        v = v * 10 + digit;
        ++pos_;
      }
      if (pos_ < text_.size() &&
          (std::isalpha(static_cast<unsigned char>(text_[pos_])) ||
           text_[pos_] == '_' || text_[pos_] == '.'))
        return fail(std::string("unexpected '") + text_[pos_] +
                    "' after a number");
      auto n = std::make_shared<Node>();
      n->kind = Node::Const;
      n->value = v;
      return n;
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t start = pos_;
      while (pos_ < text_.size() &&
             (std::isalnum(static_cast<unsigned char>(text_[pos_])) ||
              text_[pos_] == '_'))
        ++pos_;
      std::string name = text_.substr(start, pos_ - start);
      size_t afterName = pos_;
      if (eat('('))
        return parseCall(name, start);
      pos_ = afterName;
      auto n = std::make_shared<Node>();
      n->kind = Node::Name;
      n->name = std::move(name);
      return n;
    }
    if (eat('(')) {
      NodePtr inner = parseExpr();
      if (!inner || !expect(')'))
        return nullptr;
      return inner;
    }
    return fail(std::string("expected a number, a size name or '(' but got "
                            "'") +
                c + "'");
  }
  NodePtr parseCall(const std::string &name, size_t start) {
    if (name == "ceil") {
      NodePtr arg = parseExpr();
      if (!arg || !expect(')'))
        return nullptr;
      if (arg->kind != Node::Div) {
        pos_ = start;
        return fail("ceil() takes a division, as in ceil(a/b)");
      }
      return makeNode(Node::CeilDiv, arg->lhs, arg->rhs);
    }
    if (name == "min" || name == "max") {
      NodePtr a = parseExpr();
      if (!a || !expect(','))
        return nullptr;
      NodePtr b = parseExpr();
      if (!b || !expect(')'))
        return nullptr;
      return makeNode(name == "min" ? Node::Min : Node::Max, a, b);
    }
    pos_ = start;
    return fail("unknown function '" + name + "' (expected ceil, min or max)");
  }

  const std::string &text_;
  size_t pos_ = 0;
  int depth_ = 0;
  std::string error_;
};

std::string joinNames(const Sizes &sizes) {
  if (sizes.empty())
    return "none";
  std::string out;
  for (const auto &[name, value] : sizes)
    out += (out.empty() ? "" : ", ") + name + "=" + std::to_string(value);
  return out;
}

struct Evaluator {
  const Sizes &sizes;
  const std::string &text;
  Status error;

  bool fail(ErrorCode code, const std::string &what) {
    error = Status::error(code, what + " in '" + text + "'");
    return false;
  }

  bool eval(const Node &n, int64_t &out) {
    int64_t a = 0, b = 0;
    switch (n.kind) {
    case Node::Const:
      out = n.value;
      return true;
    case Node::Name: {
      auto it = sizes.find(n.name);
      if (it == sizes.end())
        return fail(ErrorCode::NotFound,
                    "unknown size '" + n.name +
                        "' (sizes given: " + joinNames(sizes) + ")");
      out = it->second;
      return true;
    }
    case Node::Neg:
      if (!eval(*n.lhs, a))
        return false;
      if (a == std::numeric_limits<int64_t>::min())
        return fail(ErrorCode::InvalidArgument, "integer overflow");
      out = -a;
      return true;
    default:
      break;
    }
    if (!eval(*n.lhs, a) || !eval(*n.rhs, b))
      return false;
    switch (n.kind) {
    case Node::Add:
      if (__builtin_add_overflow(a, b, &out))
        return fail(ErrorCode::InvalidArgument, "integer overflow");
      return true;
    case Node::Sub:
      if (__builtin_sub_overflow(a, b, &out))
        return fail(ErrorCode::InvalidArgument, "integer overflow");
      return true;
    case Node::Mul:
      if (__builtin_mul_overflow(a, b, &out))
        return fail(ErrorCode::InvalidArgument, "integer overflow");
      return true;
    case Node::Div:
    case Node::CeilDiv: {
      if (b == 0)
        return fail(ErrorCode::InvalidArgument, "division by zero");
      if (a == std::numeric_limits<int64_t>::min() && b == -1)
        return fail(ErrorCode::InvalidArgument, "integer overflow");
      int64_t q = a / b;
      bool inexact = a % b != 0;
      bool negative = (a < 0) != (b < 0);
      if (inexact && n.kind == Node::Div && negative)
        --q; // floor
      if (inexact && n.kind == Node::CeilDiv && !negative)
        ++q; // ceiling
      out = q;
      return true;
    }
    case Node::Min:
      out = std::min(a, b);
      return true;
    case Node::Max:
      out = std::max(a, b);
      return true;
    default:
      return fail(ErrorCode::InvalidArgument, "internal error: bad node");
    }
  }
};

void collectNames(const Node &n, std::set<std::string> &names) {
  if (n.kind == Node::Name)
    names.insert(n.name);
  if (n.lhs)
    collectNames(*n.lhs, names);
  if (n.rhs)
    collectNames(*n.rhs, names);
}

} // namespace

GridExpr::GridExpr() : text_("1") {
  auto n = std::make_shared<Node>();
  n->kind = Node::Const;
  n->value = 1;
  root_ = std::move(n);
}

StatusOr<GridExpr> GridExpr::parse(const std::string &text) {
  ExprParser parser(text);
  NodePtr root = parser.parse();
  if (!root)
    return Status::error(ErrorCode::InvalidArgument,
                         "bad grid expression '" + text +
                             "': " + parser.error());
  GridExpr e;
  e.text_ = text;
  e.root_ = std::move(root);
  return e;
}

StatusOr<int64_t> GridExpr::evaluate(const Sizes &sizes) const {
  Evaluator ev{sizes, text_, Status::success()};
  int64_t out = 0;
  if (!ev.eval(*root_, out))
    return ev.error;
  return out;
}

std::vector<std::string> GridExpr::names() const {
  std::set<std::string> names;
  collectNames(*root_, names);
  return {names.begin(), names.end()};
}

StatusOr<std::array<unsigned, 3>>
KernelInfo::gridDims(const Sizes &sizes) const {
  static const int64_t limits[3] = {std::numeric_limits<int32_t>::max(), 65535,
                                    65535};
  std::array<unsigned, 3> dims{};
  for (int i = 0; i < 3; ++i) {
    std::string what =
        "grid[" + std::to_string(i) + "] '" + grid[i].text() + "'";
    StatusOr<int64_t> v = grid[i].evaluate(sizes);
    if (!v.ok())
      return Status::error(v.status().code(),
                           what + ": " + v.status().message());
    if (*v < 1 || *v > limits[i])
      return Status::error(ErrorCode::InvalidArgument,
                           what + " is " + std::to_string(*v) + " with sizes " +
                               joinNames(sizes) + " (it must be in [1, " +
                               std::to_string(limits[i]) + "])");
    dims[i] = static_cast<unsigned>(*v);
  }
  return dims;
}

std::string KernelInfo::signature() const {
  std::string out = name + "(";
  for (size_t i = 0; i < params.size(); ++i)
    out +=
        (i ? ", " : "") + params[i].name + ": " + paramTypeName(params[i].type);
  return out + ")";
}

//===----------------------------------------------------------------------===//
// manifest.json
//===----------------------------------------------------------------------===//

namespace {

/// Thrown inside the parser only; fromManifest() turns it into a Status.
struct ManifestError {
  std::string field;
  std::string message;
};

[[noreturn]] void fail(const std::string &field, const std::string &message) {
  throw ManifestError{field, message};
}

const char *jsonTypeName(const json &j) {
  switch (j.type()) {
  case json::value_t::null:
    return "null";
  case json::value_t::object:
    return "an object";
  case json::value_t::array:
    return "an array";
  case json::value_t::string:
    return "a string";
  case json::value_t::boolean:
    return "a boolean";
  case json::value_t::number_integer:
  case json::value_t::number_unsigned:
    return "an integer";
  case json::value_t::number_float:
    return "a float";
  default:
    return "something else";
  }
}

std::string quoteJson(const json &j) {
  std::string s = j.dump();
  return s.size() > 40 ? s.substr(0, 37) + "..." : s;
}

const json &member(const json &object, const std::string &key,
                   const std::string &field, const char *expected) {
  auto it = object.find(key);
  if (it == object.end())
    fail(field, std::string("missing (expected ") + expected + ")");
  return *it;
}

std::string stringMember(const json &object, const std::string &key,
                         const std::string &field) {
  const json &v = member(object, key, field, "a string");
  if (!v.is_string())
    fail(field, std::string("expected a string, got ") + jsonTypeName(v));
  std::string s = v.get<std::string>();
  if (s.empty())
    fail(field, "is empty");
  return s;
}

int64_t integerValue(const json &v, const std::string &field, int64_t lo,
                     int64_t hi) {
  if (!v.is_number_integer())
    fail(field, std::string("expected an integer, got ") + jsonTypeName(v) +
                    " " + quoteJson(v));
  if (v.is_number_unsigned() &&
      v.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
    fail(field, quoteJson(v) + " is out of range [" + std::to_string(lo) +
                    ", " + std::to_string(hi) + "]");
  int64_t x = v.get<int64_t>();
  if (x < lo || x > hi)
    fail(field, std::to_string(x) + " is out of range [" + std::to_string(lo) +
                    ", " + std::to_string(hi) + "]");
  return x;
}

bool isHex(const std::string &s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isxdigit(static_cast<unsigned char>(c));
  });
}

bool isIdentifier(const std::string &s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0])))
    return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$';
  });
}

std::string readBundleFile(const std::string &dir, const std::string &file,
                           const std::string &field) {
  std::string path = (fs::path(dir) / file).string();
  StatusOr<std::string> bytes = cache::readFile(path);
  if (!bytes.ok())
    fail(field, bytes.status().message());
  return std::move(bytes).value();
}

/// The first operand of the PTX's .target directive ("sm_90a"), or "".
std::string ptxTarget(const std::string &ptx) {
  size_t pos = 0;
  while (pos < ptx.size()) {
    size_t eol = ptx.find('\n', pos);
    if (eol == std::string::npos)
      eol = ptx.size();
    size_t i = pos;
    while (i < eol && std::isspace(static_cast<unsigned char>(ptx[i])))
      ++i;
    if (ptx.compare(i, 7, ".target") == 0 && i + 7 < eol &&
        std::isspace(static_cast<unsigned char>(ptx[i + 7]))) {
      i += 7;
      while (i < eol && std::isspace(static_cast<unsigned char>(ptx[i])))
        ++i;
      size_t j = i;
      while (j < eol && ptx[j] != ',' &&
             !std::isspace(static_cast<unsigned char>(ptx[j])))
        ++j;
      return ptx.substr(i, j - i);
    }
    pos = eol + 1;
  }
  return "";
}

KernelInfo parseKernel(const json &k, const std::string &field) {
  if (!k.is_object())
    fail(field, std::string("expected an object, got ") + jsonTypeName(k));
  KernelInfo info;
  info.name = stringMember(k, "name", field + ".name");
  if (!isIdentifier(info.name))
    fail(field + ".name", "'" + info.name + "' is not a valid kernel name");

  const json &params = member(k, "params", field + ".params",
                              "an array of {\"name\", \"type\"} objects");
  if (!params.is_array())
    fail(field + ".params",
         std::string("expected an array, got ") + jsonTypeName(params));
  std::set<std::string> paramNames;
  for (size_t i = 0; i < params.size(); ++i) {
    std::string pf = field + ".params[" + std::to_string(i) + "]";
    const json &p = params[i];
    if (!p.is_object())
      fail(pf, std::string("expected an object, got ") + jsonTypeName(p));
    KernelParam param;
    param.name = stringMember(p, "name", pf + ".name");
    if (!paramNames.insert(param.name).second)
      fail(pf + ".name", "duplicate param name '" + param.name + "'");
    std::string type = stringMember(p, "type", pf + ".type");
    std::optional<ParamType> t = parseParamType(type);
    if (!t)
      fail(pf + ".type", "unknown param type '" + type +
                             "' (expected ptr, i32, i64, f32, f64 or "
                             "tensormap)");
    param.type = *t;
    info.params.push_back(std::move(param));
  }

  const json &block =
      member(k, "block", field + ".block", "an array of 3 positive integers");
  if (!block.is_array() || block.size() != 3)
    fail(field + ".block",
         std::string("expected an array of 3 positive integers, got ") +
             jsonTypeName(block) + " " + quoteJson(block));
  static const int64_t blockLimits[3] = {1024, 1024, 64};
  int64_t threads = 1;
  for (int i = 0; i < 3; ++i) {
    info.block[i] = static_cast<unsigned>(
        integerValue(block[i], field + ".block[" + std::to_string(i) + "]", 1,
                     blockLimits[i]));
    threads *= info.block[i];
  }
  if (threads > 1024)
    fail(field + ".block", quoteJson(block) + " is " + std::to_string(threads) +
                               " threads (at most 1024)");

  const json &grid =
      member(k, "grid", field + ".grid", "an array of 3 expressions");
  if (!grid.is_array() || grid.size() != 3)
    fail(field + ".grid",
         std::string("expected an array of 3 expressions, got ") +
             jsonTypeName(grid) + " " + quoteJson(grid));
  for (int i = 0; i < 3; ++i) {
    std::string gf = field + ".grid[" + std::to_string(i) + "]";
    std::string text;
    if (grid[i].is_string())
      text = grid[i].get<std::string>();
    else if (grid[i].is_number_integer())
      text = std::to_string(
          integerValue(grid[i], gf, 1, std::numeric_limits<int32_t>::max()));
    else
      fail(gf, std::string("expected an expression string or an integer, "
                           "got ") +
                   jsonTypeName(grid[i]));
    StatusOr<GridExpr> e = GridExpr::parse(text);
    if (!e.ok())
      fail(gf, e.status().message());
    info.grid[i] = std::move(e).value();
  }

  if (k.contains("shared_bytes"))
    info.sharedBytes = static_cast<unsigned>(
        integerValue(k["shared_bytes"], field + ".shared_bytes", 0,
                     std::numeric_limits<int32_t>::max()));
  return info;
}

Bundle parseManifest(const std::string &text, const std::string &dir) {
  json root;
  try {
    root = json::parse(text);
  } catch (const json::exception &e) {
    fail("", std::string("bad JSON: ") + e.what());
  }
  if (!root.is_object())
    fail("", std::string("expected a JSON object at the top level, got ") +
                 jsonTypeName(root));

  Bundle b;
  b.format = stringMember(root, "format", "format");
  if (b.format != Bundle::kFormat)
    fail("format", "unsupported format '" + b.format + "' (expected '" +
                       Bundle::kFormat + "')");
  b.compiler = stringMember(root, "compiler", "compiler");
  b.irHash = stringMember(root, "ir_hash", "ir_hash");
  if (!isHex(b.irHash))
    fail("ir_hash", "'" + b.irHash + "' is not a hex string");
  b.ptxFile = stringMember(root, "ptx", "ptx");
  b.ptxArch = stringMember(root, "ptx_arch", "ptx_arch");
  if (!parseArch(b.ptxArch))
    fail("ptx_arch",
         "'" + b.ptxArch + "' is not an arch name like sm_90 or sm_90a");

  if (root.contains("cubins")) {
    const json &cubins = root["cubins"];
    if (!cubins.is_object())
      fail("cubins", std::string("expected an object {arch: file}, got ") +
                         jsonTypeName(cubins));
    for (auto it = cubins.begin(); it != cubins.end(); ++it) {
      std::string cf = "cubins." + it.key();
      if (!parseArch(it.key()))
        fail(cf, "'" + it.key() + "' is not an arch name like sm_90a");
      if (!it.value().is_string() || it.value().get<std::string>().empty())
        fail(cf, std::string("expected a file name, got ") +
                     jsonTypeName(it.value()));
      b.cubins[it.key()].file = it.value().get<std::string>();
    }
  }

  const json &kernels =
      member(root, "kernels", "kernels", "an array of kernel objects");
  if (!kernels.is_array())
    fail("kernels",
         std::string("expected an array, got ") + jsonTypeName(kernels));
  if (kernels.empty())
    fail("kernels", "is empty");
  std::set<std::string> names;
  for (size_t i = 0; i < kernels.size(); ++i) {
    std::string kf = "kernels[" + std::to_string(i) + "]";
    KernelInfo info = parseKernel(kernels[i], kf);
    if (!names.insert(info.name).second)
      fail(kf + ".name", "duplicate kernel name '" + info.name + "'");
    b.kernels.push_back(std::move(info));
  }

  // Files last, so that a manifest error is reported before an I/O error.
  b.ptx = readBundleFile(dir, b.ptxFile, "ptx");
  std::string target = ptxTarget(b.ptx);
  if (target.empty())
    fail("ptx", "'" + b.ptxFile + "' has no .target directive (not PTX?)");
  if (target != b.ptxArch)
    fail("ptx_arch",
         "is " + b.ptxArch + " but '" + b.ptxFile + "' says .target " + target);
  for (auto &[arch, cubin] : b.cubins) {
    cubin.bytes = readBundleFile(dir, cubin.file, "cubins." + arch);
    if (!cache::looksLikeCubin(cubin.bytes))
      fail("cubins." + arch, "'" + cubin.file + "' is not an ELF CUDA cubin");
  }
  return b;
}

} // namespace

StatusOr<Bundle> Bundle::fromManifest(const std::string &manifestText,
                                      const std::string &dir) {
  std::string manifestPath = (fs::path(dir) / "manifest.json").string();
  try {
    Bundle b = parseManifest(manifestText, dir);
    b.dir = dir;
    b.manifestPath = manifestPath;
    return b;
  } catch (const ManifestError &e) {
    return Status::error(ErrorCode::BadBundle,
                         manifestPath + ": " +
                             (e.field.empty() ? "" : e.field + ": ") +
                             e.message);
  } catch (const std::exception &e) {
    return Status::error(ErrorCode::BadBundle, manifestPath + ": " + e.what());
  }
}

StatusOr<Bundle> Bundle::load(const std::string &dir) {
  std::string manifestPath = (fs::path(dir) / "manifest.json").string();
  StatusOr<std::string> text = cache::readFile(manifestPath);
  if (!text.ok())
    return Status::error(ErrorCode::BadBundle,
                         "not a kernel bundle: " + text.status().message());
  return fromManifest(*text, dir);
}

const KernelInfo *Bundle::findKernel(const std::string &name) const {
  for (const KernelInfo &k : kernels)
    if (k.name == name)
      return &k;
  return nullptr;
}

std::string Bundle::selectCubin(int major, int minor) const {
  std::string specific = archForComputeCapability(major, minor);
  if (cubins.count(specific))
    return specific;
  std::string plain = "sm_" + std::to_string(major * 10 + minor);
  if (cubins.count(plain))
    return plain;
  return "";
}
