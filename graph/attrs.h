// Node attributes: the compile-time parameters of an op (axes, flags, shapes, initializers).
#pragma once

#include "graph/tensor.h"
#include "graph/types.h"

#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace sj {

/// What an attribute holds. `name` is a bare identifier from a fixed list (e.g. an initializer).
enum class AttrKind : uint8_t { integer, real, boolean, name, ints, dtype, tensor };

using AttrValue =
    std::variant<int64_t, double, bool, std::string, std::vector<int64_t>, DType, Tensor>;

std::string_view attr_kind_name(AttrKind k);
AttrKind attr_kind_of(const AttrValue& v);

/// An ordered list of named attribute values. Nodes hold the complete list of their op's
/// attributes (defaults filled in), in the order the op table declares them.
class Attrs {
public:
  Attrs() = default;
  Attrs(std::initializer_list<std::pair<std::string, AttrValue>> items) : items_(items) {}

  void set(std::string_view name, AttrValue value);
  bool has(std::string_view name) const { return find(name) != nullptr; }
  const AttrValue* find(std::string_view name) const;
  const std::vector<std::pair<std::string, AttrValue>>& items() const { return items_; }

  // Typed getters for attributes the op table guarantees are present (a miss is a bug).
  int64_t integer(std::string_view name) const { return get<int64_t>(name); }
  double real(std::string_view name) const { return get<double>(name); }
  bool flag(std::string_view name) const { return get<bool>(name); }
  const std::string& name(std::string_view name) const { return get<std::string>(name); }
  const std::vector<int64_t>& ints(std::string_view name) const {
    return get<std::vector<int64_t>>(name);
  }
  DType dtype(std::string_view name) const { return get<DType>(name); }
  const Tensor& tensor(std::string_view name) const { return get<Tensor>(name); }

  bool operator==(const Attrs&) const = default;

private:
  template <typename T>
  const T& get(std::string_view name) const {
    const AttrValue* v = find(name);
    if (!v || !std::holds_alternative<T>(*v))
      internal_error("attribute '" + std::string(name) + "' missing or of the wrong kind");
    return std::get<T>(*v);
  }

  std::vector<std::pair<std::string, AttrValue>> items_;
};

/// `axes = [0,1]`-style rendering of one value (the text form's syntax; tensors print flat).
std::string attr_value_str(const AttrValue& v);

} // namespace sj
