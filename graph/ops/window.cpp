#include "graph/ops/window.h"

#include "graph/graph.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace sj::ops {

int64_t Window2d::real_taps(int64_t oh, int64_t ow) const {
  int64_t taps[2];
  for (int d = 0; d < 2; ++d) {
    int64_t o = d == 0 ? oh : ow;
    taps[d] = 0;
    for (int64_t k = 0; k < window[d]; ++k) {
      int64_t i = input_at(d, o, k);
      taps[d] += i >= 0 && i < in[d];
    }
  }
  return taps[0] * taps[1];
}

std::optional<Window2d> window2d(const Attrs& attrs, int64_t h, int64_t w, int64_t kh, int64_t kw,
                                 std::string* error) {
  auto fail = [&](std::string message) -> std::optional<Window2d> {
    *error = std::move(message);
    return std::nullopt;
  };
  Window2d g;
  g.in = {h, w};
  g.window = {kh, kw};
  if (kh < 1 || kw < 1)
    return fail(fmt::format("the window is {}x{}: both sides must be 1 or more", kh, kw));
  const std::vector<int64_t>& strides = attrs.ints("strides");
  if (strides.empty()) {
    g.stride = g.window; // pooling's default: windows side by side
  } else {
    if (strides.size() != 2)
      return fail(fmt::format("strides = [{}] must have 2 entries, [rows, columns]",
                              fmt::join(strides, ", ")));
    g.stride = {strides[0], strides[1]};
  }
  if (g.stride[0] < 1 || g.stride[1] < 1)
    return fail(fmt::format("strides = [{}, {}] must be 1 or more", g.stride[0], g.stride[1]));
  if (const AttrValue* d = attrs.find("dilations")) {
    const auto& dilations = std::get<std::vector<int64_t>>(*d);
    if (dilations.size() != 2 || dilations[0] < 1 || dilations[1] < 1)
      return fail(fmt::format("dilations = [{}] must be 2 entries of 1 or more",
                              fmt::join(dilations, ", ")));
    g.dilation = {dilations[0], dilations[1]};
  }
  // Window extents and strides are bounded by the dimensions below, so nothing here overflows.
  if (g.window[0] > kMaxElements || g.window[1] > kMaxElements || g.stride[0] > kMaxElements ||
      g.stride[1] > kMaxElements || g.dilation[0] > kMaxElements || g.dilation[1] > kMaxElements)
    return fail("the window, strides or dilations exceed 2^40");
  const std::string& padding = attrs.name("padding");
  const std::vector<int64_t>& pads = attrs.ints("pads");
  if (padding != "explicit" && !pads.empty())
    return fail(fmt::format("pads = [{}] are given but padding = {}: write padding = explicit "
                            "to use them",
                            fmt::join(pads, ", "), padding));
  for (int d = 0; d < 2; ++d) {
    auto extent = checked_add(checked_mul(g.window[d] - 1, g.dilation[d]).value_or(-2), 1);
    if (!extent) return fail("the dilated window spans more than 2^40 pixels");
    int64_t span = *extent, size = g.in[d];
    if (padding == "same") {
      g.out[d] = (size + g.stride[d] - 1) / g.stride[d];
      int64_t total = std::max<int64_t>(0, (g.out[d] - 1) * g.stride[d] + span - size);
      g.pad_before[d] = total / 2;
      g.pad_after[d] = total - total / 2; // the odd pixel at the bottom/right, as TensorFlow
      continue;
    }
    if (padding == "explicit") {
      if (pads.size() != 4)
        return fail(fmt::format("pads = [{}] must have 4 entries, [top, bottom, left, right]",
                                fmt::join(pads, ", ")));
      g.pad_before[d] = pads[2 * d];
      g.pad_after[d] = pads[2 * d + 1];
      if (g.pad_before[d] < 0 || g.pad_after[d] < 0 || g.pad_before[d] > kMaxElements ||
          g.pad_after[d] > kMaxElements)
        return fail(fmt::format("pads = [{}] must be in [0, 2^40]", fmt::join(pads, ", ")));
    }
    int64_t padded = size + g.pad_before[d] + g.pad_after[d];
    if (padded < span)
      return fail(fmt::format(
          "the window spans {} {}{}, more than the {} input's {}{}", span,
          d == 0 ? "rows" : "columns",
          g.dilation[d] > 1 ? fmt::format(" ({} dilated by {})", g.window[d], g.dilation[d]) : "",
          padding == "valid" ? "unpadded" : "padded", padded,
          padding == "valid" ? " (padding = same keeps every pixel)" : ""));
    g.out[d] = (padded - span) / g.stride[d] + 1;
  }
  return g;
}

Window2d window2d(const OpCall& call, int64_t h, int64_t w, int64_t kh, int64_t kw) {
  std::string error;
  auto g = window2d(call.attrs, h, w, kh, kw, &error);
  if (!g) call.fail(error);
  return *g;
}

Window2d window2d(const Node& node, int64_t h, int64_t w, int64_t kh, int64_t kw) {
  std::string error;
  auto g = window2d(node.attrs, h, w, kh, kw, &error);
  if (!g) internal_error("window2d on a checked node: " + error);
  return *g;
}

std::vector<AttrSpec> window_attrs(bool dilations, bool strides_default_to_window) {
  std::vector<int64_t> strides;
  if (!strides_default_to_window) strides = {1, 1};
  std::vector<AttrSpec> attrs;
  attrs.push_back({"strides", AttrKind::ints, AttrValue(std::move(strides))});
  attrs.push_back(
      {.name = "padding",
       .kind = AttrKind::name,
       .default_value = AttrValue(std::string("valid")),
       .choices = {"valid", "same", "explicit"},
       .list_into = "pads",
       .list_choice = "explicit"});
  attrs.push_back({"pads", AttrKind::ints, AttrValue(std::vector<int64_t>{})});
  if (dilations)
    attrs.push_back({"dilations", AttrKind::ints, AttrValue(std::vector<int64_t>{1, 1})});
  return attrs;
}

ConvGeometry conv_geometry(const Graph& g, const Node& n) {
  auto shape = [&](size_t i) { return g.type(n.operands[i]).shape; };
  Shape x = n.op == Op::conv2d_backprop_input ? n.attrs.ints("input_shape") : shape(0);
  Shape kernel = n.op == Op::conv2d_backprop_kernel ? n.attrs.ints("kernel_shape") : shape(1);
  Window2d w = window2d(n, x[1], x[2], kernel[0], kernel[1]);
  return {x, kernel, {x[0], w.out[0], w.out[1], kernel[3]}, n.attrs.integer("groups"), w};
}

PoolGeometry pool_geometry(const Graph& g, const Node& n) {
  Shape x =
      n.op == Op::avg_pool2d_backprop ? n.attrs.ints("input_shape") : g.type(n.operands[0]).shape;
  const auto& window = n.attrs.ints("window");
  return {x, window2d(n, x[1], x[2], window[0], window[1])};
}

} // namespace sj::ops
