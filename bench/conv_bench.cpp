// The f32 convolutions of kernels/conv.h against oneDNN (when CMake finds it: Debian's
// libdnnl-dev), in GFLOP/s and as a fraction of the machine's GEMM peak (gemm_peak.h), on 1
// and 2 threads. Shapes: the two convolutions of Keras's simple MNIST convnet at batch 128
// (28x28x1 -> conv 3x3x32 -> maxpool 2 -> conv 3x3x64), forward and both gradients.
//
//   conv/<impl>/T<threads>/<layer>/<fwd|bwd_input|bwd_kernel>
//
// oneDNN gets NHWC activations (our layout) and the weights in the layout it prefers
// (format_tag::any, reordered once outside the timed loop): its best case. It runs on its
// OpenMP threads (omp_set_num_threads), ours on a sj::ThreadPool. conv1's bwd_input is not
// part of a training step (x is an input) but is measured for completeness.
#include "gemm_peak.h"
#include "kernels/conv.h"
#include "kernels/thread_pool.h"

#include <benchmark/benchmark.h>
#include <memory>
#include <string>
#include <vector>

#ifdef SJ_HAVE_DNNL
#include <omp.h>
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace {

struct Layer {
  const char* name;
  int64_t n, h, w, c, kh, kw, f;
  int64_t oh() const { return h - kh + 1; } // valid padding, stride 1
  int64_t ow() const { return w - kw + 1; }
  double flops() const { return 2.0 * double(n * oh() * ow() * f * kh * kw * c); }
};

const Layer kLayers[] = {{"conv1_28x28x1_3x3x32", 128, 28, 28, 1, 3, 3, 32},
                         {"conv2_13x13x32_3x3x64", 128, 13, 13, 32, 3, 3, 64}};

enum class Op { fwd, bwd_input, bwd_kernel };
const char* op_name(Op op) {
  return op == Op::fwd ? "fwd" : op == Op::bwd_input ? "bwd_input" : "bwd_kernel";
}

std::vector<float> values(int64_t n, float scale) {
  std::vector<float> v(static_cast<size_t>(n));
  for (size_t i = 0; i < v.size(); ++i)
    v[i] = scale * float(int64_t(i * 7919 % 2003) - 1001) / 1001.0f;
  return v;
}

sj::ThreadPool* pool_of(int threads) {
  static std::unique_ptr<sj::ThreadPool> pools[3];
  if (!pools[threads]) pools[threads] = std::make_unique<sj::ThreadPool>(threads);
  return threads == 1 ? nullptr : pools[threads].get();
}

void set_counters(benchmark::State& state, const Layer& l, int threads) {
  state.counters["GFLOP/s"] =
      benchmark::Counter(1e-9 * l.flops(), benchmark::Counter::kIsIterationInvariantRate);
  // The fraction of the GEMM peak, from the mean time per iteration.
  state.counters["peak"] = benchmark::Counter(1e-9 * l.flops() / bench::gemm_peak_gflops(threads),
                                              benchmark::Counter::kIsIterationInvariantRate);
}

void bm_sj(benchmark::State& state, Layer l, Op op, int threads) {
  std::vector<float> x = values(l.n * l.h * l.w * l.c, 1.0f);
  std::vector<float> k = values(l.kh * l.kw * l.c * l.f, 0.1f);
  std::vector<float> y = values(l.n * l.oh() * l.ow() * l.f, 1.0f);
  SjConvArgs a{};
  a.n = l.n, a.h = l.h, a.w = l.w, a.c = l.c, a.oh = l.oh(), a.ow = l.ow(), a.f = l.f;
  a.kh = l.kh, a.kw = l.kw, a.stride_h = a.stride_w = a.dilation_h = a.dilation_w = 1;
  a.groups = 1;
  a.x = x.data(), a.kernel = k.data(), a.y = y.data();
  a.pool = pool_of(threads);
  bench::gemm_peak_gflops(threads); // measured before the timing, not inside it
  for (auto _ : state) {
    if (op == Op::fwd)
      sj_conv2d_f32(&a);
    else if (op == Op::bwd_input)
      sj_conv2d_backprop_input_f32(&a);
    else
      sj_conv2d_backprop_kernel_f32(&a);
    benchmark::ClobberMemory();
  }
  set_counters(state, l, threads);
}

#ifdef SJ_HAVE_DNNL
void bm_dnnl(benchmark::State& state, Layer l, Op op, int threads) {
  using namespace dnnl;
  using tag = memory::format_tag;
  using dt = memory::data_type;
  omp_set_num_threads(threads);
  bench::gemm_peak_gflops(threads);
  engine eng(engine::kind::cpu, 0);
  stream s(eng);
  memory::dims src_dims = {l.n, l.c, l.h, l.w}, wei_dims = {l.f, l.c, l.kh, l.kw},
               dst_dims = {l.n, l.f, l.oh(), l.ow()}, strides = {1, 1}, pad = {0, 0};
  memory::desc src_md(src_dims, dt::f32, tag::nhwc), dst_md(dst_dims, dt::f32, tag::nhwc);
  memory::desc wei_any(wei_dims, dt::f32, tag::any), wei_hwio(wei_dims, dt::f32, tag::hwio);
  convolution_forward::primitive_desc fwd_pd(
      convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, src_md,
                                wei_any, dst_md, strides, pad, pad),
      eng);
  std::vector<float> xv = values(l.n * l.h * l.w * l.c, 1.0f);
  std::vector<float> kv = values(l.kh * l.kw * l.c * l.f, 0.1f);
  std::vector<float> yv = values(l.n * l.oh() * l.ow() * l.f, 1.0f);
  memory src(src_md, eng, xv.data()), dst(dst_md, eng, yv.data());
  memory wei_user(wei_hwio, eng, kv.data());
  auto run_loop = [&](primitive p, std::unordered_map<int, memory> args) {
    p.execute(s, args); // warm up
    s.wait();
    for (auto _ : state) {
      p.execute(s, args);
      s.wait();
    }
  };
  if (op == Op::fwd) {
    memory wei(fwd_pd.weights_desc(), eng);
    reorder(wei_user, wei).execute(s, wei_user, wei);
    run_loop(convolution_forward(fwd_pd),
             {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}});
  } else if (op == Op::bwd_input) {
    convolution_backward_data::primitive_desc pd(
        convolution_backward_data::desc(algorithm::convolution_direct, src_md, wei_any, dst_md,
                                        strides, pad, pad),
        eng, fwd_pd);
    memory wei(pd.weights_desc(), eng);
    reorder(wei_user, wei).execute(s, wei_user, wei);
    run_loop(convolution_backward_data(pd),
             {{DNNL_ARG_DIFF_DST, dst}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DIFF_SRC, src}});
  } else {
    convolution_backward_weights::primitive_desc pd(
        convolution_backward_weights::desc(algorithm::convolution_direct, src_md, wei_any, dst_md,
                                           strides, pad, pad),
        eng, fwd_pd);
    memory wei(pd.diff_weights_desc(), eng);
    run_loop(convolution_backward_weights(pd),
             {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, dst}, {DNNL_ARG_DIFF_WEIGHTS, wei}});
  }
  s.wait();
  set_counters(state, l, threads);
}
#endif

const bool registered = [] {
  for (const Layer& l : kLayers)
    for (Op op : {Op::fwd, Op::bwd_input, Op::bwd_kernel})
      for (int threads : {1, 2}) {
        std::string suffix = "/T" + std::to_string(threads) + "/" + l.name + "/" + op_name(op);
        benchmark::RegisterBenchmark(("conv/sj" + suffix).c_str(), bm_sj, l, op, threads)
            ->UseRealTime()
            ->MinTime(0.3);
#ifdef SJ_HAVE_DNNL
        benchmark::RegisterBenchmark(("conv/onednn" + suffix).c_str(), bm_dnnl, l, op, threads)
            ->UseRealTime()
            ->MinTime(0.3);
#endif
      }
  return true;
}();

} // namespace
