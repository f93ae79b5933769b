// Every layer of frontend/layers.h in a small f64 graph x -> layer -> loss = reduce_sum(y * W),
// W a fixed random constant (so every output element matters):
// - the interpreter's y against the same layer written here as plain f64 loops, reading the
//   variables' values from the interpreter: at their initial values, then at random ones (a
//   zero bias or a unit gamma would hide a missing add or mul);
// - d loss / d every variable and d loss / d x (sj::gradients, interpreted) against central
//   differences (tests/passes/gradient_check_util.h: steps, norm-based error, 1e-6);
// - the same graph compiled (CompiledStep) against the interpreter: every output, within 1e-12
//   relative.
#include "frontend/layers.h"
#include "runtime/compiled_step.h"
#include "tests/passes/gradient_check_util.h"

#include <functional>
#include <memory>

namespace sj::test {
namespace {

constexpr DType f64 = DType::f64;

// ---- the layers, written independently in plain f64 loops --------------------------------

// Row-major values with `cols` columns: every layer here acts on the last axis, so all leading
// axes are rows.
struct Rows {
  std::vector<double> v;
  int64_t cols;
  int64_t rows() const { return static_cast<int64_t>(v.size()) / cols; }
  double& at(int64_t r, int64_t c) { return v[r * cols + c]; }
  double at(int64_t r, int64_t c) const { return v[r * cols + c]; }
};

Rows rows_of(const Tensor& t, int64_t cols) {
  Rows r{std::vector<double>(t.num_elements()), cols};
  for (int64_t i = 0; i < t.num_elements(); ++i)
    r.v[i] = t.as_double(i);
  return r;
}
Rows rows_of(const Tensor& t) { return rows_of(t, t.shape().back()); }

Rows activation_ref(Rows z, Activation a) {
  for (int64_t r = 0; r < z.rows(); ++r) {
    if (a == Activation::softmax) {
      // softmax(z)_c = e^(z_c - max) / sum_k e^(z_k - max)
      double m = z.at(r, 0), sum = 0;
      for (int64_t c = 0; c < z.cols; ++c)
        m = std::max(m, z.at(r, c));
      for (int64_t c = 0; c < z.cols; ++c)
        sum += std::exp(z.at(r, c) - m);
      for (int64_t c = 0; c < z.cols; ++c)
        z.at(r, c) = std::exp(z.at(r, c) - m) / sum;
      continue;
    }
    for (int64_t c = 0; c < z.cols; ++c) {
      double& x = z.at(r, c);
      switch (a) {
      case Activation::linear:
        break;
      case Activation::relu:
        // The finite differences must not straddle the kink.
        if (std::abs(x) < 1e-4) ADD_FAILURE() << "a relu input at " << x << ": pick other values";
        x = x > 0 ? x : 0;
        break;
      case Activation::sigmoid:
        x = 1 / (1 + std::exp(-x));
        break;
      case Activation::tanh:
        x = std::tanh(x);
        break;
      case Activation::gelu: // exact, as Keras's default: x Phi(x)
        x = 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
        break;
      case Activation::softmax:
        break;
      }
    }
  }
  return z;
}

// activation(sum_k x[r, k] W[k, u] + b[u]), W [in, units] (Keras's layout).
Rows dense_ref(const Rows& x, const Tensor& kernel, const Tensor* bias, Activation a) {
  int64_t in = kernel.shape()[0], units = kernel.shape()[1];
  EXPECT_EQ(x.cols, in);
  Rows z{std::vector<double>(x.rows() * units), units};
  for (int64_t r = 0; r < x.rows(); ++r)
    for (int64_t u = 0; u < units; ++u) {
      double s = bias ? bias->as_double(u) : 0;
      for (int64_t k = 0; k < in; ++k)
        s += x.at(r, k) * kernel.as_double(k * units + u);
      z.at(r, u) = s;
    }
  return activation_ref(std::move(z), a);
}

// (x - mean) / sqrt(var + epsilon) * gamma + beta over each row, var the biased variance.
Rows layer_norm_ref(Rows x, const Tensor& gamma, const Tensor& beta, double epsilon) {
  for (int64_t r = 0; r < x.rows(); ++r) {
    double mean = 0, var = 0;
    for (int64_t c = 0; c < x.cols; ++c)
      mean += x.at(r, c) / static_cast<double>(x.cols);
    for (int64_t c = 0; c < x.cols; ++c)
      var += (x.at(r, c) - mean) * (x.at(r, c) - mean) / static_cast<double>(x.cols);
    for (int64_t c = 0; c < x.cols; ++c)
      x.at(r, c) =
          (x.at(r, c) - mean) / std::sqrt(var + epsilon) * gamma.as_double(c) + beta.as_double(c);
  }
  return x;
}

// Row ids[i] of the table, for each id.
Rows embedding_ref(const Rows& ids, const Tensor& table) {
  int64_t dim = table.shape()[1];
  Rows out{{}, dim};
  for (double id : ids.v)
    for (int64_t c = 0; c < dim; ++c)
      out.v.push_back(table.as_double(static_cast<int64_t>(id) * dim + c));
  return out;
}

// [batch, ...] -> [batch, everything else]: the same row-major values.
Rows flatten_ref(const Tensor& x) { return rows_of(x, x.num_elements() / x.shape()[0]); }

// ---- images (NHWC), written independently ----------------------------------------------------

// The padding before (top or left) of one spatial axis: TensorFlow's `same` puts the odd pixel
// after; valid pads nothing.
int64_t pad_before(bool same, int64_t in, int64_t window, int64_t stride, int64_t dilation) {
  if (!same) return 0;
  int64_t out = (in + stride - 1) / stride, span = (window - 1) * dilation + 1;
  int64_t total = std::max<int64_t>((out - 1) * stride + span - in, 0);
  return total / 2;
}
int64_t out_size(bool same, int64_t in, int64_t window, int64_t stride, int64_t dilation) {
  int64_t span = (window - 1) * dilation + 1;
  return same ? (in + stride - 1) / stride : (in - span) / stride + 1;
}

struct ConvRef {
  int64_t stride = 1, dilation = 1, groups = 1;
  bool same = false;
};

// y[n,oh,ow,f] = sum over (kh, kw, c in f's group) x[n, oh*s - top + kh*d, ..., c] k[kh,kw,c',f]
// (+ bias), then the activation; x [N,H,W,C], k [KH,KW,C/groups,F].
Rows conv_ref(const Tensor& x, const Tensor& k, const Tensor* bias, ConvRef o, Activation a) {
  const Shape& xs = x.shape();
  int64_t N = xs[0], H = xs[1], W = xs[2], C = xs[3];
  int64_t KH = k.shape()[0], KW = k.shape()[1], CG = k.shape()[2], F = k.shape()[3];
  EXPECT_EQ(CG * o.groups, C);
  int64_t OH = out_size(o.same, H, KH, o.stride, o.dilation);
  int64_t OW = out_size(o.same, W, KW, o.stride, o.dilation);
  int64_t top = pad_before(o.same, H, KH, o.stride, o.dilation);
  int64_t left = pad_before(o.same, W, KW, o.stride, o.dilation);
  int64_t per_group = F / o.groups;
  Rows y{std::vector<double>(N * OH * OW * F), F};
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow)
        for (int64_t f = 0; f < F; ++f) {
          double s = bias ? bias->as_double(f) : 0;
          int64_t g = f / per_group;
          for (int64_t kh = 0; kh < KH; ++kh)
            for (int64_t kw = 0; kw < KW; ++kw) {
              int64_t h = oh * o.stride - top + kh * o.dilation;
              int64_t w = ow * o.stride - left + kw * o.dilation;
              if (h < 0 || h >= H || w < 0 || w >= W) continue;
              for (int64_t c = 0; c < CG; ++c)
                s += x.as_double(((n * H + h) * W + w) * C + g * CG + c) *
                     k.as_double(((kh * KW + kw) * CG + c) * F + f);
            }
          y.at((n * OH + oh) * OW + ow, f) = s;
        }
  return activation_ref(std::move(y), a);
}

// Max or mean over each window's real pixels; x [N,H,W,C].
Rows pool_ref(const Tensor& x, int64_t window, int64_t stride, bool same, bool max) {
  const Shape& xs = x.shape();
  int64_t N = xs[0], H = xs[1], W = xs[2], C = xs[3];
  int64_t OH = out_size(same, H, window, stride, 1), OW = out_size(same, W, window, stride, 1);
  int64_t top = pad_before(same, H, window, stride, 1),
          left = pad_before(same, W, window, stride, 1);
  Rows y{std::vector<double>(N * OH * OW * C), C};
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow)
        for (int64_t c = 0; c < C; ++c) {
          double best = -INFINITY, sum = 0;
          int64_t count = 0;
          for (int64_t i = 0; i < window; ++i)
            for (int64_t j = 0; j < window; ++j) {
              int64_t h = oh * stride - top + i, w = ow * stride - left + j;
              if (h < 0 || h >= H || w < 0 || w >= W) continue;
              double v = x.as_double(((n * H + h) * W + w) * C + c);
              best = std::max(best, v);
              sum += v;
              ++count;
            }
          y.at((n * OH + oh) * OW + ow, c) = max ? best : sum / static_cast<double>(count);
        }
  return y;
}

// Per channel over every other axis: (x - mean) / sqrt(biased var + epsilon) * gamma + beta.
Rows batch_norm_ref(Rows x, const Tensor& gamma, const Tensor& beta, double epsilon) {
  for (int64_t c = 0; c < x.cols; ++c) {
    double mean = 0, var = 0, n = static_cast<double>(x.rows());
    for (int64_t r = 0; r < x.rows(); ++r)
      mean += x.at(r, c) / n;
    for (int64_t r = 0; r < x.rows(); ++r)
      var += (x.at(r, c) - mean) * (x.at(r, c) - mean) / n;
    for (int64_t r = 0; r < x.rows(); ++r)
      x.at(r, c) =
          (x.at(r, c) - mean) / std::sqrt(var + epsilon) * gamma.as_double(c) + beta.as_double(c);
  }
  return x;
}

// ---- the cases -----------------------------------------------------------------------------

// A layer (or Sequential) applied to x: its output and its variables.
using Model = std::function<std::pair<Value, std::vector<Value>>(Value)>;
std::vector<Value> variables_of(const Layer& l) { return l.trainable_variables(); }
std::vector<Value> variables_of(const Sequential& s) { return s.trainable_variables(); }
template <typename L>
Model model(std::shared_ptr<L> layer, CallMode mode = CallMode::inference) {
  return [layer, mode](Value x) {
    Value y = (*layer)(x, mode);
    return std::pair{y, variables_of(*layer)};
  };
}

using Reference = std::function<Rows(const Tensor& x, const Interpreter& run)>;

struct LayerCase {
  std::string name;
  std::function<Model()> make; // a fresh layer per run
  Shape input, output;
  Reference reference;
  bool ids = false; // x holds integer ids (i32), not differentiated
};

// gtest prints a case by its name, not its bytes.
void PrintTo(const LayerCase& c, std::ostream* os) { *os << c.name; }

Reference dense_reference(Activation a, bool use_bias = true) {
  return [=](const Tensor& x, const Interpreter& run) {
    const Tensor* bias = use_bias ? &run.variable("dense_0/bias") : nullptr;
    return dense_ref(rows_of(x), run.variable("dense_0/kernel"), bias, a);
  };
}

std::vector<LayerCase> layer_cases() {
  std::vector<LayerCase> cases;
  const std::pair<const char*, Activation> activations[] = {
      {"linear", Activation::linear}, {"relu", Activation::relu}, {"sigmoid", Activation::sigmoid},
      {"tanh", Activation::tanh},     {"gelu", Activation::gelu}, {"softmax", Activation::softmax}};
  for (auto [name, a] : activations)
    cases.push_back({fmt::format("dense_{}", name),
                     [a] { return model(std::make_shared<Dense>(4, a)); },
                     {3, 5},
                     {3, 4},
                     dense_reference(a)});
  cases.push_back({"dense_without_bias",
                   [] {
                     return model(std::make_shared<Dense>(4, Activation::tanh,
                                                          DenseOptions{.use_bias = false}));
                   },
                   {3, 5},
                   {3, 4},
                   dense_reference(Activation::tanh, false)});
  // Leading axes are batch axes: [2, 3, 4] x [4, 3] -> [2, 3, 3].
  cases.push_back({"dense_rank3_input",
                   [] { return model(std::make_shared<Dense>(3, Activation::sigmoid)); },
                   {2, 3, 4},
                   {2, 3, 3},
                   dense_reference(Activation::sigmoid)});
  cases.push_back({"flatten",
                   [] { return model(std::make_shared<Flatten>()); },
                   {2, 3, 4},
                   {2, 12},
                   [](const Tensor& x, const Interpreter&) { return flatten_ref(x); }});
  // Ids [2, 3] with repeats (1 and 4 twice): their gradient rows accumulate.
  cases.push_back({"embedding",
                   [] { return model(std::make_shared<Embedding>(6, 4)); },
                   {2, 3},
                   {2, 3, 4},
                   [](const Tensor& ids, const Interpreter& run) {
                     return embedding_ref(rows_of(ids), run.variable("embedding_0/embeddings"));
                   },
                   /*ids=*/true});
  for (double epsilon : {1e-3, 0.5})
    cases.push_back({fmt::format("layer_norm_epsilon_{}", epsilon == 0.5 ? "0_5" : "default"),
                     [epsilon] { return model(std::make_shared<LayerNorm>(epsilon)); },
                     {2, 3, 5},
                     {2, 3, 5},
                     [epsilon](const Tensor& x, const Interpreter& run) {
                       return layer_norm_ref(rows_of(x), run.variable("layer_norm_0/gamma"),
                                             run.variable("layer_norm_0/beta"), epsilon);
                     }});
  cases.push_back(
      {"sequential_flatten_dense_layer_norm_dense",
       [] {
         return model(std::make_shared<Sequential>(Flatten(), Dense(5, Activation::gelu),
                                                   LayerNorm(), Dense(3, Activation::softmax)));
       },
       {2, 3, 4},
       {2, 3},
       [](const Tensor& x, const Interpreter& run) {
         auto v = [&](const char* name) -> const Tensor& { return run.variable(name); };
         Rows h =
             dense_ref(flatten_ref(x), v("dense_0/kernel"), &v("dense_0/bias"), Activation::gelu);
         h = layer_norm_ref(h, v("layer_norm_0/gamma"), v("layer_norm_0/beta"), 1e-3);
         return dense_ref(h, v("dense_1/kernel"), &v("dense_1/bias"), Activation::softmax);
       }});
  cases.push_back({"sequential_relu_relu_linear",
                   [] {
                     return model(std::make_shared<Sequential>(
                         Dense(4, Activation::relu), Dense(4, Activation::relu), Dense(2)));
                   },
                   {3, 5},
                   {3, 2},
                   [](const Tensor& x, const Interpreter& run) {
                     Rows h = rows_of(x);
                     for (const char* layer : {"dense_0", "dense_1", "dense_2"}) {
                       std::string l = layer;
                       h = dense_ref(h, run.variable(l + "/kernel"), &run.variable(l + "/bias"),
                                     l == "dense_2" ? Activation::linear : Activation::relu);
                     }
                     return h;
                   }});
  // Convolutions: valid, same with stride 2 on odd sizes, dilation, groups, depthwise.
  struct ConvCase {
    const char* name;
    int64_t filters, kernel;
    ConvRef o;
    Activation a;
    Shape input;
  };
  for (const ConvCase& c : std::initializer_list<ConvCase>{
           {"conv2d_valid_relu", 3, 2, {}, Activation::relu, {2, 4, 3, 2}},
           {"conv2d_same_stride2_odd",
            2,
            3,
            {.stride = 2, .same = true},
            Activation::tanh,
            {1, 5, 5, 2}},
           {"conv2d_dilated", 2, 2, {.dilation = 2}, Activation::linear, {1, 5, 4, 1}},
           {"conv2d_groups",
            4,
            3,
            {.groups = 2, .same = true},
            Activation::sigmoid,
            {1, 3, 4, 4}}}) {
    Shape out = {c.input[0], out_size(c.o.same, c.input[1], c.kernel, c.o.stride, c.o.dilation),
                 out_size(c.o.same, c.input[2], c.kernel, c.o.stride, c.o.dilation), c.filters};
    cases.push_back({c.name,
                     [c] {
                       return model(std::make_shared<Conv2D>(
                           c.filters, std::vector<int64_t>{c.kernel, c.kernel},
                           Conv2DOptions{.strides = {c.o.stride, c.o.stride},
                                         .padding = c.o.same ? Padding::same() : Padding::valid(),
                                         .dilation_rate = {c.o.dilation, c.o.dilation},
                                         .groups = c.o.groups,
                                         .activation = c.a}));
                     },
                     c.input, out,
                     [c](const Tensor& x, const Interpreter& run) {
                       return conv_ref(x, run.variable("conv2d_0/kernel"),
                                       &run.variable("conv2d_0/bias"), c.o, c.a);
                     }});
  }
  // Depthwise, multiplier 2: kernel [2,2,3,2] is conv2d's [2,2,1,6] with filter c*2 + m.
  cases.push_back(
      {"depthwise_conv2d_multiplier_2",
       [] {
         return model(std::make_shared<DepthwiseConv2D>(
             std::vector<int64_t>{2, 2},
             DepthwiseConv2DOptions{.depth_multiplier = 2, .padding = Padding::same()}));
       },
       {2, 3, 3, 3},
       {2, 3, 3, 6},
       [](const Tensor& x, const Interpreter& run) {
         Tensor k = run.variable("depthwise_conv2d_0/kernel");
         Tensor as_conv({k.dtype(), {2, 2, 1, 6}});
         for (int64_t i = 0; i < k.num_elements(); ++i)
           as_conv.data<double>()[i] = k.as_double(i); // the same row-major order
         return conv_ref(x, as_conv, &run.variable("depthwise_conv2d_0/bias"),
                         {.groups = 3, .same = true}, Activation::linear);
       }});
  cases.push_back(
      {"max_pooling2d",
       [] { return model(std::make_shared<MaxPooling2D>()); },
       {2, 4, 5, 2},
       {2, 2, 2, 2},
       [](const Tensor& x, const Interpreter&) { return pool_ref(x, 2, 2, false, true); }});
  cases.push_back(
      {"average_pooling2d_same_3x3_stride_2",
       [] {
         return model(std::make_shared<AveragePooling2D>(
             std::vector<int64_t>{3, 3},
             Pooling2DOptions{.strides = {2, 2}, .padding = Padding::same()}));
       },
       {1, 5, 4, 2},
       {1, 3, 2, 2},
       [](const Tensor& x, const Interpreter&) { return pool_ref(x, 3, 2, true, false); }});
  cases.push_back(
      {"global_average_pooling2d",
       [] { return model(std::make_shared<GlobalAveragePooling2D>()); },
       {2, 3, 3, 3},
       {2, 3},
       [](const Tensor& x, const Interpreter&) { return pool_ref(x, 3, 3, false, false); }});
  cases.push_back(
      {"global_max_pooling2d",
       [] { return model(std::make_shared<GlobalMaxPooling2D>()); },
       {2, 3, 3, 2},
       {2, 2},
       [](const Tensor& x, const Interpreter&) { return pool_ref(x, 3, 3, false, true); }});
  cases.push_back({"zero_padding2d",
                   [] {
                     return model(std::make_shared<ZeroPadding2D>(
                         std::array<std::array<int64_t, 2>, 2>{{{1, 0}, {2, 1}}}));
                   },
                   {1, 2, 2, 2},
                   {1, 3, 5, 2},
                   [](const Tensor& x, const Interpreter&) {
                     Rows y{std::vector<double>(3 * 5 * 2), 2};
                     for (int64_t h = 0; h < 2; ++h)
                       for (int64_t w = 0; w < 2; ++w)
                         for (int64_t c = 0; c < 2; ++c)
                           y.at((h + 1) * 5 + w + 2, c) = x.as_double((h * 2 + w) * 2 + c);
                     return y;
                   }});
  // Training mode: the batch's statistics over N, H and W.
  cases.push_back({"batch_normalization_training",
                   [] {
                     return model(std::make_shared<BatchNormalization>(
                                      BatchNormalizationOptions{.epsilon = 0.01}),
                                  CallMode::training);
                   },
                   {2, 3, 2, 3},
                   {2, 3, 2, 3},
                   [](const Tensor& x, const Interpreter& run) {
                     return batch_norm_ref(rows_of(x), run.variable("batch_normalization_0/gamma"),
                                           run.variable("batch_normalization_0/beta"), 0.01);
                   }});
  cases.push_back(
      {"sequential_conv_bn_pool_dense",
       [] {
         return model(std::make_shared<Sequential>(
                          // (No bias before a batch norm: its gradient is 0.)
                          Conv2D(3, {2, 2}, {.padding = Padding::same(), .use_bias = false}),
                          BatchNormalization(), MaxPooling2D(), Flatten(), Dense(2)),
                      CallMode::training);
       },
       {2, 4, 4, 1},
       {2, 2},
       [](const Tensor& x, const Interpreter& run) {
         auto v = [&](const char* name) -> const Tensor& { return run.variable(name); };
         Rows h = conv_ref(x, v("conv2d_0/kernel"), nullptr, {.same = true}, Activation::linear);
         h = batch_norm_ref(h, v("batch_normalization_0/gamma"), v("batch_normalization_0/beta"),
                            1e-3);
         Tensor image({f64, {2, 4, 4, 3}});
         for (int64_t i = 0; i < image.num_elements(); ++i)
           image.data<double>()[i] = h.v[i];
         Rows pooled = pool_ref(image, 2, 2, false, true);
         return dense_ref(rows_of(float_tensor(f64, {2, 12}, pooled.v)), v("dense_0/kernel"),
                          &v("dense_0/bias"), Activation::linear);
       }});
  return cases;
}

// ---- the checks ----------------------------------------------------------------------------

/// Central differences of `loss()` with respect to every element of `value`, which `install`
/// puts in place (as a feed or a variable) before each evaluation. As check_gradients: the step
/// of fd_step, the perturbed value rounded to its dtype, divided by the step actually taken.
/// `value` is a copy: `install` may overwrite the tensor it came from; it is restored at the end.
Tensor central_differences(Tensor value, const std::function<void(const Tensor&)>& install,
                           const std::function<double()>& loss) {
  std::vector<double> v(value.num_elements());
  for (int64_t k = 0; k < value.num_elements(); ++k)
    v[k] = value.as_double(k);
  auto at = [&](int64_t k, double x) {
    std::vector<double> moved = v;
    moved[k] = x;
    Tensor t = float_tensor(value.dtype(), value.shape(), moved);
    install(t);
    return std::pair{t.as_double(k), loss()};
  };
  Tensor numeric({f64, value.shape()});
  for (int64_t k = 0; k < value.num_elements(); ++k) {
    double h = fd_step(value.dtype(), v[k]);
    auto [plus, f_plus] = at(k, v[k] + h);
    auto [minus, f_minus] = at(k, v[k] - h);
    numeric.data<double>()[k] = (f_plus - f_minus) / (plus - minus);
  }
  install(value);
  return numeric;
}

void expect_values(const Tensor& got, const Rows& want, const std::string& what) {
  ASSERT_EQ(got.num_elements(), static_cast<int64_t>(want.v.size())) << what;
  for (int64_t i = 0; i < got.num_elements(); ++i)
    EXPECT_NEAR(got.as_double(i), want.v[i], 1e-12 * std::max(1.0, std::abs(want.v[i])))
        << what << ", element " << i;
}

class Layers : public ::testing::TestWithParam<LayerCase> {};

TEST_P(Layers, ValuesGradientsAndCompiled) {
  const LayerCase& lc = GetParam();
  Rng rng(seed_of(lc.name));
  Graph g("layer");
  std::map<std::string, Tensor> feeds;
  if (lc.ids) {
    feeds["x"] = Tensor::from<int32_t>(lc.input, {1, 4, 1, 0, 5, 4});
  } else {
    // Magnitudes in [0.2, 1.5): no relu input lands on its kink by accident.
    std::vector<double> x(num_elements(lc.input));
    for (double& e : x)
      e = rng.signed_uniform(0.2, 1.5);
    feeds["x"] = float_tensor(f64, lc.input, x);
  }
  Value x = input(g, "x", feeds["x"].type());
  auto [y, vars] = lc.make()(x);
  ASSERT_EQ(y.shape(), lc.output);
  // The embedding table is f32 whatever the graph (Keras's default): the loss is f64 all the
  // same, and exact in the table's values (it is linear in them).
  Value y64 = y.dtype() == f64 ? y : cast(y, f64);
  std::vector<double> w(num_elements(lc.output));
  for (double& e : w)
    e = rng.signed_uniform(0.5, 1.5);
  Value loss = reduce_sum(y64 * constant(g, float_tensor(f64, lc.output, w)));
  output("y", y64);
  output("loss", loss);
  std::vector<Value> wrt = vars;
  if (!lc.ids) wrt.push_back(x);
  std::vector<Value> grads = gradients(loss, wrt);
  for (size_t i = 0; i < grads.size(); ++i) {
    EXPECT_EQ(grads[i].type().str(), wrt[i].type().str()) << wrt[i].node().name;
    output("d_" + wrt[i].node().name, grads[i]);
  }

  // Forward values: at the initial values, then at random ones.
  Interpreter run(g);
  expect_values(run.run(feeds).at("y"), lc.reference(feeds["x"], run), "initial variables");
  std::map<std::string, Tensor> values;
  for (const Value& v : vars) {
    std::vector<double> r(v.type().num_elements());
    for (double& e : r)
      e = rng.signed_uniform(0.3, 1.2);
    values[v.node().name] = float_tensor(v.dtype(), v.shape(), r);
    run.set_variable(v.node().name, values[v.node().name]);
  }
  std::map<std::string, Tensor> out = run.run(feeds);
  expect_values(out.at("y"), lc.reference(feeds["x"], run), "random variables");

  // Gradients against central differences of the loss, with respect to each variable and x.
  for (const Value& v : wrt) {
    const std::string& name = v.node().name;
    auto loss_now = [&] { return run.run(feeds).at("loss").as_double(0); };
    Tensor numeric =
        v.node().op == Op::input
            ? central_differences(
                  feeds.at(name), [&](const Tensor& t) { feeds[name] = t; }, loss_now)
            : central_differences(
                  values.at(name), [&](const Tensor& t) { run.set_variable(name, t); }, loss_now);
    EXPECT_LT(relative_error(out.at("d_" + name), numeric), 1e-6) << "d loss / d " << name;
  }

  // Compiled, on the same variable values: the interpreter's outputs.
  CompiledStep step = CompiledStep::compile(g);
  for (const auto& [name, value] : values)
    step.set_variable(name, value);
  const std::map<std::string, Tensor>& compiled = step.run(feeds);
  ASSERT_EQ(compiled.size(), out.size());
  for (const auto& [name, value] : out) {
    EXPECT_EQ(compiled.at(name).type().str(), value.type().str()) << name;
    EXPECT_LE(relative_error(compiled.at(name), value), 1e-12) << "compiled " << name;
  }
}

INSTANTIATE_TEST_SUITE_P(EveryLayer, Layers, ::testing::ValuesIn(layer_cases()),
                         [](const auto& info) { return info.param.name; });

} // namespace
} // namespace sj::test
