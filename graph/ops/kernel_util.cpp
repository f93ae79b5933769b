#include "graph/ops/kernel_util.h"

#include <cstring>
#include <fmt/format.h>
#include <fmt/ranges.h>

namespace sj::ops {

void copy_element(Tensor& out, int64_t to, const Tensor& x, int64_t from) {
  SJ_ASSERT(out.dtype() == x.dtype());
  size_t size = dtype_size(x.dtype());
  std::memcpy(out.bytes().data() + static_cast<size_t>(to) * size,
              x.bytes().data() + static_cast<size_t>(from) * size, size);
}

std::vector<int64_t> strides_of(const Shape& shape) {
  std::vector<int64_t> strides(shape.size());
  int64_t stride = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    strides[d] = stride;
    stride *= shape[d];
  }
  return strides;
}

IndexMap::IndexMap(Shape shape, std::vector<int64_t> strides, int64_t base)
    : shape_(std::move(shape)), strides_(std::move(strides)), base_(base) {
  SJ_ASSERT(shape_.size() == strides_.size());
}

int64_t IndexMap::operator()(int64_t index) const {
  // Peel off the row-major coordinates from the last dimension. (No dimension is 0 here: a
  // shape with a 0 has no elements to map.)
  int64_t offset = base_;
  for (size_t d = shape_.size(); d-- > 0;) {
    offset += index % shape_[d] * strides_[d];
    index /= shape_[d];
  }
  return offset;
}

IndexMap broadcast_map(const Shape& from, const Shape& to) {
  SJ_ASSERT(from.size() <= to.size());
  std::vector<int64_t> from_strides = strides_of(from);
  std::vector<int64_t> strides(to.size(), 0); // missing leading dimensions repeat
  size_t lead = to.size() - from.size();
  for (size_t d = 0; d < from.size(); ++d) {
    SJ_ASSERT(from[d] == to[lead + d] || from[d] == 1);
    if (from[d] != 1) strides[lead + d] = from_strides[d]; // size-1 dimensions repeat
  }
  return IndexMap(to, std::move(strides));
}

Tensor copy_elements(const Tensor& x, const TensorType& type, const IndexMap& map) {
  SJ_ASSERT(type.dtype == x.dtype());
  Tensor out(type);
  for (int64_t i = 0; i < out.num_elements(); ++i)
    copy_element(out, i, x, map(i));
  return out;
}

int axis_index(int64_t axis, int rank) {
  SJ_ASSERT(axis >= -rank && axis < rank);
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

std::string position_str(const Shape& shape, int64_t index) {
  std::vector<int64_t> coords(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    coords[d] = index % shape[d];
    index /= shape[d];
  }
  return fmt::format("[{}]", fmt::join(coords, ", "));
}

} // namespace sj::ops
