// What a step returns: its outputs by name. A std::map, whose at() of a name the step does not
// have is an sj::Error at the caller's line listing the outputs it has (std::map's own says
// only "map::at"), with scalar<T>(name) for the common `float loss = out.scalar<float>("loss")`.
#pragma once

#include "graph/tensor.h"

#include <map>
#include <source_location>
#include <string>

namespace sj {

class Outputs : public std::map<std::string, Tensor> {
public:
  using std::map<std::string, Tensor>::map;

  /// Output `name`; sj::Error at the caller's line naming the outputs there are otherwise.
  const Tensor& at(const std::string& name,
                   std::source_location loc = std::source_location::current()) const;
  Tensor& at(const std::string& name, std::source_location loc = std::source_location::current());

  /// The value of scalar output `name` (one element) as T, which must be its element type (a
  /// float output read as double is an sj::Error naming both, as Tensor::data<T> is).
  template <typename T>
  T scalar(const std::string& name,
           std::source_location loc = std::source_location::current()) const {
    const Tensor& t = at(name, loc);
    check_scalar(name, t, loc);
    return t.data<T>(loc)[0];
  }

private:
  static void check_scalar(const std::string& name, const Tensor& t, std::source_location loc);
};

} // namespace sj
