// The geometry of a 2-D sliding window over NHWC tensors, shared by conv2d, its two gradients
// and the pooling ops: output sizes and the padding on each side, from the op's attributes
// (`strides`, `dilations`, `padding = valid | same | explicit`, `pads`), with TensorFlow's
// conventions: `same` gives ceil(in / stride) outputs and puts the odd pixel of padding at the
// bottom/right, also for strides > 1.
#pragma once

#include "graph/op_table.h"

#include <array>
#include <optional>
#include <string>

namespace sj::ops {

struct Window2d {
  std::array<int64_t, 2> in{};     // H, W of the input
  std::array<int64_t, 2> window{}; // KH, KW, before dilation
  std::array<int64_t, 2> stride{1, 1};
  std::array<int64_t, 2> dilation{1, 1};
  std::array<int64_t, 2> pad_before{}; // top, left
  std::array<int64_t, 2> pad_after{};  // bottom, right
  std::array<int64_t, 2> out{};        // OH, OW

  /// The window's span along d once dilated: (window - 1) * dilation + 1.
  int64_t extent(int d) const { return (window[d] - 1) * dilation[d] + 1; }
  /// The input row (d = 0) or column (d = 1) that tap k of output position o reads: in
  /// [0, in[d]) for a real pixel, outside it for padding.
  int64_t input_at(int d, int64_t o, int64_t k) const {
    return o * stride[d] - pad_before[d] + k * dilation[d];
  }
  /// The number of taps of output position (oh, ow) that read real pixels (avg_pool2d's divisor).
  int64_t real_taps(int64_t oh, int64_t ow) const;
};

/// The geometry for an input of spatial size h x w and a window of kh x kw, from `attrs`
/// (`strides` empty means the window's size, as pooling defaults; `dilations` absent means 1).
/// nullopt and `error` set (naming the attribute and what is expected) when the attributes are
/// malformed or the window does not fit the padded input.
std::optional<Window2d> window2d(const Attrs& attrs, int64_t h, int64_t w, int64_t kh, int64_t kw,
                                 std::string* error);
/// The same for a shape rule: fails through `call`.
Window2d window2d(const OpCall& call, int64_t h, int64_t w, int64_t kh, int64_t kw);
/// The same for a node whose attributes its shape rule checked (kernels, gradients, lowering).
Window2d window2d(const Node& node, int64_t h, int64_t w, int64_t kh, int64_t kw);

/// The attribute schema the windowed ops share: strides, padding, pads (and dilations for conv).
std::vector<AttrSpec> window_attrs(bool dilations, bool strides_default_to_window);

/// The sizes of one convolution, for conv2d and both its gradients: x [N,H,W,C], kernel
/// [KH,KW,C/groups,F], y [N,OH,OW,F].
struct ConvGeometry {
  Shape x, kernel, y;
  int64_t groups;
  Window2d window;
};
/// A checked conv2d, conv2d_backprop_input or conv2d_backprop_kernel node's geometry.
ConvGeometry conv_geometry(const Graph& graph, const Node& node);

/// A checked pooling node's input shape [N,H,W,C] and window geometry.
struct PoolGeometry {
  Shape x;
  Window2d window;
};
PoolGeometry pool_geometry(const Graph& graph, const Node& node);

} // namespace sj::ops
