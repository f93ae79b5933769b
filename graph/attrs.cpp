#include "graph/attrs.h"

#include "graph/format_number.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace sj {

std::string_view attr_kind_name(AttrKind k) {
  switch (k) {
  case AttrKind::integer:
    return "integer";
  case AttrKind::real:
    return "number";
  case AttrKind::boolean:
    return "boolean";
  case AttrKind::name:
    return "name";
  case AttrKind::ints:
    return "integer list";
  case AttrKind::dtype:
    return "dtype";
  case AttrKind::tensor:
    return "tensor";
  }
  return "?";
}

AttrKind attr_kind_of(const AttrValue& v) { return static_cast<AttrKind>(v.index()); }

void Attrs::set(std::string_view name, AttrValue value) {
  for (auto& [n, v] : items_)
    if (n == name) {
      v = std::move(value);
      return;
    }
  items_.emplace_back(std::string(name), std::move(value));
}

const AttrValue* Attrs::find(std::string_view name) const {
  for (const auto& [n, v] : items_)
    if (n == name) return &v;
  return nullptr;
}

std::string attr_value_str(const AttrValue& v) {
  struct Visitor {
    std::string operator()(int64_t i) const { return fmt::format("{}", i); }
    std::string operator()(double d) const { return format_number(d); }
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(const std::string& s) const { return s; }
    std::string operator()(const std::vector<int64_t>& l) const {
      return fmt::format("[{}]", fmt::join(l, ", "));
    }
    std::string operator()(DType t) const { return std::string(dtype_name(t)); }
    std::string operator()(const Tensor& t) const { return format_tensor_values(t); }
  };
  return std::visit(Visitor{}, v);
}

} // namespace sj
