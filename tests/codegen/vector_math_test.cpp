// codegen/vector_math.h: the exp and tanh that compiled loops compute inline. Dense sweeps
// against the C library in f64 (the accuracy each function's comment claims, in ulps), the
// special values, the bits independent of an element's position (vector lane or scalar
// remainder), and that the loops do vectorize, which is what the functions are for.
#include "graph/parse.h"
#include "runtime/compiled_step.h"

#include <bit>
#include <cmath>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <limits>
#include <string>
#include <vector>

namespace sj {
namespace {

// The distance in representable values between two floats of one sign-magnitude type.
template <typename T>
double ulps(T a, T b) {
  using I = std::conditional_t<sizeof(T) == 4, int32_t, int64_t>;
  auto ordered = [](T v) {
    I i = std::bit_cast<I>(v);
    return i < 0 ? std::numeric_limits<I>::min() - i : i;
  };
  I x = ordered(a), y = ordered(b); // subtracted as integers: f64's exceed a double's precision
  return double(x > y ? uint64_t(x) - uint64_t(y) : uint64_t(y) - uint64_t(x));
}

template <typename T>
constexpr const char* dtype_text() {
  return sizeof(T) == 4 ? "f32" : "f64";
}

// `op` applied by a compiled step to `xs`, with IEEE subnormals (as the C library computes).
template <typename T>
std::vector<T> compiled(const std::string& op, const std::vector<T>& xs) {
  std::string type = fmt::format("{}[{}]", dtype_text<T>(), xs.size());
  Graph g = parse(fmt::format("graph f {{\n  %x = input : {0}\n  %y = {1}(%x) : {0}\n"
                              "  output y = %y\n}}\n",
                              type, op),
                  "vector_math.sj");
  CompileOptions options;
  options.flush_denormals = false;
  CompiledStep step = CompiledStep::compile(g, options);
  auto values =
      step.run({{"x", Tensor::from<T>({int64_t(xs.size())}, xs)}}).at("y").template values<T>();
  return {values.begin(), values.end()};
}

template <typename T>
std::vector<T> sweep(double lo, double hi, int n) {
  std::vector<T> xs;
  for (int i = 0; i <= n; ++i)
    xs.push_back(T(lo + (hi - lo) * i / n));
  return xs;
}

// The worst distance of the compiled results from `reference` (computed in f64, rounded once),
// and where.
template <typename T, typename F>
std::pair<double, T> worst_ulps(const std::vector<T>& xs, const std::vector<T>& got, F reference) {
  std::pair<double, T> worst{0, 0};
  for (size_t i = 0; i < xs.size(); ++i) {
    double d = ulps(got[i], T(reference(double(xs[i]))));
    if (d > worst.first) worst = {d, xs[i]};
  }
  return worst;
}

template <typename T>
void expect_exp_within_2_ulps() {
  double lo = sizeof(T) == 4 ? -105 : -750, hi = sizeof(T) == 4 ? 90 : 712;
  std::vector<T> xs = sweep<T>(lo, hi, 1 << 20);
  // Around 0, where e^x - 1 is the information, and at the reduction's boundaries.
  for (T x : sweep<T>(-1e-3, 1e-3, 4096))
    xs.push_back(x);
  auto [d, at] = worst_ulps(xs, compiled("exp", xs), [](double x) { return std::exp(x); });
  std::printf("[ measured  ] exp %s: worst %g ulps, at x = %.17g\n", dtype_text<T>(), d,
              double(at));
  EXPECT_LE(d, 2) << "at x = " << at;
}

TEST(VectorMath, ExpF32IsWithin2UlpsFromUnderflowToOverflow) { expect_exp_within_2_ulps<float>(); }
TEST(VectorMath, ExpF64IsWithin2UlpsFromUnderflowToOverflow) { expect_exp_within_2_ulps<double>(); }

TEST(VectorMath, TanhF32IsWithin3Ulps) {
  std::vector<float> xs = sweep<float>(-12, 12, 1 << 20);
  for (float x : {1e-30f, -1e-30f, 1e-40f, 3e-8f, 0.5499f, 0.55f, 0.5501f, 9.0f, 10.0f})
    xs.push_back(x);
  auto [d, at] = worst_ulps(xs, compiled("tanh", xs), [](double x) { return std::tanh(x); });
  std::printf("[ measured  ] tanh f32: worst %g ulps, at x = %.9g\n", d, double(at));
  EXPECT_LE(d, 3) << "at x = " << at;
}

template <typename T>
using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;

template <typename T>
void expect_specials(const std::string& op, std::vector<T> xs) {
  std::vector<T> got = compiled(op, xs);
  for (size_t i = 0; i < xs.size(); ++i) {
    T want = T(op == "exp" ? std::exp(double(xs[i])) : std::tanh(double(xs[i])));
    if (std::isnan(want))
      EXPECT_TRUE(std::isnan(got[i])) << op << "(" << xs[i] << ") = " << got[i];
    else
      EXPECT_EQ(std::bit_cast<Bits<T>>(got[i]), std::bit_cast<Bits<T>>(want))
          << op << "(" << xs[i] << ") = " << got[i] << ", want " << want;
  }
}

TEST(VectorMath, SpecialValuesAreTheCLibrarys) {
  auto specials = []<typename T>(T) {
    using L = std::numeric_limits<T>;
    return std::vector<T>{
        0,        -T(0),     L::infinity(), -L::infinity(), L::quiet_NaN(), -L::quiet_NaN(),
        L::max(), -L::max(), L::min(),      L::denorm_min()};
  };
  expect_specials<float>("exp", specials(0.0f));
  expect_specials<double>("exp", specials(0.0));
  expect_specials<float>("tanh", specials(0.0f));
}

// The same element gives the same bits whether it lands in a vector lane or in the scalar loop
// after the last full vector: loops are split differently for other sizes and thread counts.
TEST(VectorMath, BitsDoNotDependOnTheElementsPosition) {
  std::vector<float> values = sweep<float>(-20, 20, 70);
  for (const char* op : {"exp", "tanh", "sigmoid"}) {
    std::vector<float> all = compiled(op, values);
    for (size_t n : {1, 3, 7, 17, 33}) {
      std::vector<float> tail(values.end() - long(n), values.end());
      std::vector<float> got = compiled(op, tail);
      for (size_t i = 0; i < n; ++i)
        EXPECT_EQ(std::bit_cast<uint32_t>(got[i]),
                  std::bit_cast<uint32_t>(all[values.size() - n + i]))
            << op << "(" << tail[i] << ") in a loop of " << n;
    }
  }
}

TEST(VectorMath, LoopsOverExpTanhSigmoidAndGeluVectorize) {
  for (const char* op : {"exp(%x)", "tanh(%x)", "sigmoid(%x)", "gelu(%x) {approximate = true}"}) {
    Graph g = parse(fmt::format("graph f {{\n  %x = input : f32[4096]\n  %y = {} : f32[4096]\n"
                                "  output y = %y\n}}\n",
                                op),
                    "vector_math.sj");
    std::vector<StageText> stages;
    CompileOptions options;
    options.stages = &stages;
    CompiledStep::compile(g, options);
    bool vectorized = false, calls_libm = false;
    for (const StageText& s : stages)
      if (s.stage == "llvm-opt") {
        vectorized = s.text.find(" x float>") != std::string::npos ||
                     s.text.find(" x double>") != std::string::npos;
        calls_libm =
            s.text.find("@tanh") != std::string::npos || s.text.find("@exp") != std::string::npos;
      }
    EXPECT_TRUE(vectorized) << op << ": no vector type in the optimized LLVM IR";
    EXPECT_FALSE(calls_libm) << op << ": the optimized LLVM IR calls the C library";
  }
}

} // namespace
} // namespace sj
