// sj_gemm_f32 against references computed here: a naive f64 product (error bound
// K * eps * sum |a||b|) and, on the FMA paths, the exact f32 FMA chain the kernel promises.
#include "kernels/gemm.h"
#include "kernels/thread_pool.h"
#include "tests/support/rng.h"

#include <cmath>
#include <cstring>
#include <gtest/gtest.h>
#include <limits>
#include <mutex>
#include <string>
#include <vector>

namespace sj {
namespace {

struct Shape {
  int64_t m, k, n;
};

// A GEMM problem with padded rows (stride = width + pad) and a sentinel in the padding.
struct Problem {
  Shape s;
  bool ta, tb, acc;
  int64_t pad;
  int64_t lda, ldb, ldc;
  std::vector<float> a, b, c0;

  Problem(Shape s_, bool ta_, bool tb_, bool acc_, int64_t pad_, uint64_t seed)
      : s(s_), ta(ta_), tb(tb_), acc(acc_), pad(pad_) {
    test::Rng rng(seed);
    lda = (ta ? s.m : s.k) + pad;
    ldb = (tb ? s.k : s.n) + pad;
    ldc = s.n + pad;
    auto fill = [&](std::vector<float>& v, int64_t rows, int64_t ld) {
      v.assign(size_t(std::max<int64_t>(rows * ld, 1)), kSentinel);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < ld - pad; ++j)
          v[size_t(r * ld + j)] = float(rng.uniform(-1, 1));
    };
    fill(a, ta ? s.k : s.m, lda);
    fill(b, tb ? s.n : s.k, ldb);
    fill(c0, s.m, ldc);
  }

  static constexpr float kSentinel = 12345.0f;

  double at_a(int64_t i, int64_t p) const { return a[size_t(ta ? p * lda + i : i * lda + p)]; }
  double at_b(int64_t p, int64_t j) const { return b[size_t(tb ? j * ldb + p : p * ldb + j)]; }

  SjGemmArgs args(float* c, void* pool = nullptr) const {
    return SjGemmArgs{s.m, s.n, s.k, a.data(), lda,     ta,      b.data(), ldb,
                      tb,  c,   ldc, acc,      nullptr, nullptr, pool};
  }

  std::vector<float> run(void* pool = nullptr) const {
    std::vector<float> c = c0;
    SjGemmArgs g = args(c.data(), pool);
    sj_gemm_f32(&g);
    return c;
  }

  std::string name() const {
    return std::to_string(s.m) + "x" + std::to_string(s.k) + "x" + std::to_string(s.n) +
           (ta ? " A^T" : "") + (tb ? " B^T" : "") + (acc ? " +=" : "") +
           (pad ? " pad " + std::to_string(pad) : "");
  }

  // Checks c against the f64 product within K * eps * sum |a||b| (+ |c0| when accumulating),
  // that the row padding is untouched and, when `exact`, that every element is bit for bit
  // the f32 FMA chain fma(a[i][p], b[p][j], ...) in p order.
  void check(const std::vector<float>& c, bool exact) const {
    const double eps = std::numeric_limits<float>::epsilon();
    int bad = 0;
    for (int64_t i = 0; i < s.m && bad < 5; ++i) {
      for (int64_t j = 0; j < s.n && bad < 5; ++j) {
        double ref = acc ? c0[size_t(i * ldc + j)] : 0.0, mag = std::fabs(ref);
        float chain = acc ? c0[size_t(i * ldc + j)] : 0.0f;
        for (int64_t p = 0; p < s.k; ++p) {
          ref += at_a(i, p) * at_b(p, j);
          mag += std::fabs(at_a(i, p) * at_b(p, j));
          chain = std::fma(float(at_a(i, p)), float(at_b(p, j)), chain);
        }
        float got = c[size_t(i * ldc + j)];
        double tol = double(s.k + 1) * eps * mag;
        if (!(std::fabs(got - ref) <= tol)) {
          ++bad;
          ADD_FAILURE() << name() << ": C[" << i << "][" << j << "] = " << got << ", expected "
                        << ref << " within " << tol;
        } else if (exact && std::memcmp(&got, &chain, sizeof got) != 0) {
          ++bad;
          ADD_FAILURE() << name() << ": C[" << i << "][" << j << "] = " << got
                        << " is not the FMA chain " << chain;
        }
      }
      for (int64_t j = s.n; j < ldc; ++j)
        if (c[size_t(i * ldc + j)] != kSentinel) {
          ++bad;
          ADD_FAILURE() << name() << ": padding of row " << i << " written";
        }
    }
  }
};

// The paths this machine supports, each forced for the scope of a test.
std::vector<GemmPath> supported_paths() {
  std::vector<GemmPath> paths;
  for (GemmPath p : {GemmPath::avx512, GemmPath::avx2, GemmPath::portable})
    if (gemm_path_supported(p)) paths.push_back(p);
  return paths;
}

class GemmPathTest : public ::testing::TestWithParam<GemmPath> {
protected:
  void SetUp() override { ASSERT_TRUE(force_gemm_path(GetParam())); }
  void TearDown() override { reset_gemm_path(); }
  bool exact() const { return GetParam() != GemmPath::portable; }
};

std::string path_name(const ::testing::TestParamInfo<GemmPath>& info) {
  return gemm_path_name(info.param);
}

INSTANTIATE_TEST_SUITE_P(Paths, GemmPathTest, ::testing::ValuesIn(supported_paths()), path_name);

TEST_P(GemmPathTest, AllTransposesAndAccumulateOnSmallAndOddShapes) {
  const Shape shapes[] = {{1, 1, 1},   {37, 53, 61}, {2, 3, 5},  {32, 100, 10},
                          {13, 1, 17}, {1, 300, 1},  {70, 7, 1}, {1, 9, 90}};
  uint64_t seed = 1;
  for (Shape s : shapes)
    for (int flags = 0; flags < 8; ++flags)
      for (int64_t pad : {0, 3}) {
        Problem p(s, flags & 1, flags & 2, flags & 4, pad, seed++);
        p.check(p.run(), exact());
      }
}

TEST_P(GemmPathTest, KZeroGivesZeroOrLeavesC) {
  for (bool acc : {false, true}) {
    Problem p({5, 0, 7}, false, false, acc, 2, 7);
    std::vector<float> c = p.run();
    for (int64_t i = 0; i < 5; ++i)
      for (int64_t j = 0; j < 7; ++j)
        EXPECT_EQ(c[size_t(i * p.ldc + j)], acc ? p.c0[size_t(i * p.ldc + j)] : 0.0f);
    p.check(c, exact());
  }
}

TEST_P(GemmPathTest, EmptyMOrNTouchesNothing) {
  for (Shape s : {Shape{0, 4, 3}, Shape{3, 4, 0}}) {
    Problem p(s, false, false, false, 1, 3);
    std::vector<float> c = p.c0;
    SjGemmArgs g = p.args(c.data());
    int calls = 0;
    g.epilogue = [](void* ctx, int64_t, int64_t, int64_t, int64_t) { ++*static_cast<int*>(ctx); };
    g.epilogue_ctx = &calls;
    sj_gemm_f32(&g);
    EXPECT_EQ(c, p.c0);
    EXPECT_EQ(calls, 0);
  }
}

// Sizes one below, at and one above every block size of every path (MR, NR, MC, KC, NC), with
// the other two dimensions kept small so the test stays fast.
TEST_P(GemmPathTest, SizesStraddlingEveryBlockSize) {
  const int64_t m_sizes[] = {3,   4,   5,   6,   7,   13,  14,  15,  16,  17,  127,
                             128, 129, 143, 144, 145, 319, 320, 321, 335, 336, 337};
  const int64_t n_sizes[] = {7,  8,   9,   15,  16,   17,   31,   32,
                             33, 127, 128, 129, 2047, 2049, 4095, 4097};
  const int64_t k_sizes[] = {255, 256, 257, 513};
  uint64_t seed = 100;
  for (int64_t m : m_sizes)
    for (int64_t n : {45, 10, 16}) { // wide, and narrow C (A read in place)
      Problem p({m, 19, n}, seed & 1, seed & 2, seed & 4, 1, seed);
      ++seed;
      p.check(p.run(), exact());
    }
  for (int64_t n : n_sizes) {
    Problem p({5, 11, n}, seed & 1, seed & 2, seed & 4, 2, seed);
    ++seed;
    p.check(p.run(), exact());
  }
  for (int64_t k : k_sizes) {
    Problem p({17, k, 35}, seed & 1, seed & 2, seed & 4, 0, seed);
    ++seed;
    p.check(p.run(), exact());
  }
}

TEST_P(GemmPathTest, LargeAllTransposes) {
  uint64_t seed = 500;
  for (int flags = 0; flags < 8; ++flags) {
    Problem p({350, 530, 300}, flags & 1, flags & 2, flags & 4, 5, seed++);
    p.check(p.run(), exact());
  }
}

// Two or three threads give the same bits as one: threads split C, never K.
TEST_P(GemmPathTest, ThreadCountDoesNotChangeBits) {
  ThreadPool two(2), three(3);
  const Shape shapes[] = {{256, 300, 1000}, {1000, 300, 40}, {128, 784, 512}, {61, 250, 97}};
  uint64_t seed = 900;
  for (Shape s : shapes)
    for (int flags = 0; flags < 8; ++flags) {
      Problem p(s, flags & 1, flags & 2, flags & 4, 1, seed++);
      std::vector<float> one = p.run();
      EXPECT_EQ(p.run(&two), one) << p.name();
      EXPECT_EQ(p.run(&three), one) << p.name();
    }
  Problem p({256, 300, 1000}, false, false, false, 0, 1);
  p.check(p.run(&two), exact());
}

// The epilogue sees every element of C in exactly one block, with its final value, and what
// it writes there stays.
TEST_P(GemmPathTest, EpilogueSeesFinalBlocksThatPartitionC) {
  struct Log {
    const Problem* p;
    float* c;
    std::vector<float> seen; // C as each block's epilogue saw it
    std::vector<int> times;  // epilogue calls covering each element
    std::mutex mutex;
  };
  ThreadPool pool(2);
  const Shape shapes[] = {{1, 1, 1}, {37, 61, 53}, {700, 600, 300}, {128, 784, 512}, {3, 0, 4}};
  for (Shape s : shapes)
    for (ThreadPool* tp : {static_cast<ThreadPool*>(nullptr), &pool}) {
      Problem p(s, false, true, true, 2, 42);
      std::vector<float> expected = p.run();
      Log log{&p, nullptr, p.c0, std::vector<int>(p.c0.size()), {}};
      std::vector<float> c = p.c0;
      log.c = c.data();
      SjGemmArgs g = p.args(c.data(), tp);
      g.epilogue = [](void* ctx, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
        auto& l = *static_cast<Log*>(ctx);
        std::lock_guard lock(l.mutex);
        for (int64_t i = m0; i < m1; ++i)
          for (int64_t j = n0; j < n1; ++j) {
            size_t at = size_t(i * l.p->ldc + j);
            l.seen[at] = l.c[at];
            l.times[at]++;
            l.c[at] = -l.c[at]; // the epilogue's own write must survive
          }
      };
      g.epilogue_ctx = &log;
      sj_gemm_f32(&g);
      for (int64_t i = 0; i < s.m; ++i)
        for (int64_t j = 0; j < s.n; ++j) {
          size_t at = size_t(i * p.ldc + j);
          ASSERT_EQ(log.times[at], 1) << p.name() << " C[" << i << "][" << j << "]";
          ASSERT_EQ(log.seen[at], expected[at]) << p.name() << " C[" << i << "][" << j << "]";
          ASSERT_EQ(c[at], -expected[at]) << p.name() << " C[" << i << "][" << j << "]";
        }
    }
}

TEST(GemmDispatch, BestPathIsDefaultAndPortableAlwaysRuns) {
  EXPECT_TRUE(gemm_path_supported(GemmPath::portable));
  GemmPath best = gemm_path();
  EXPECT_TRUE(gemm_path_supported(best));
  EXPECT_TRUE(force_gemm_path(GemmPath::portable));
  EXPECT_EQ(gemm_path(), GemmPath::portable);
  reset_gemm_path();
  EXPECT_EQ(gemm_path(), best);
  if (__builtin_cpu_supports("avx512f")) {
    EXPECT_EQ(best, GemmPath::avx512);
  }
}

} // namespace
} // namespace sj
