// Tensor's typed accessors and factories: a wrong element type or value count is the caller's
// mistake, reported as an sj::Error at the caller's line naming both sides, never as a bug.
#include "graph/tensor.h"

#include <gtest/gtest.h>
#include <string>

namespace sj {
namespace {

// The message of the sj::Error `f` throws, and the line it points at.
template <typename F>
std::pair<std::string, uint32_t> error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return {e.what(), e.location().line};
  }
  ADD_FAILURE() << "no sj::Error";
  return {};
}

TEST(Tensor, DataOfTheWrongElementTypeNamesBothTypesAtTheCallersLine) {
  Tensor t({DType::i64, {2, 3}});
  uint32_t line = __LINE__ + 1;
  auto [what, at] = error_of([&] { (void)t.data<float>(); });
  EXPECT_EQ(at, line);
  EXPECT_NE(what.find("tensor_test.cpp"), std::string::npos) << what;
  EXPECT_NE(what.find("Tensor::data<float>(): the tensor is i64[2,3]"), std::string::npos) << what;
  EXPECT_NE(what.find("use data<int64_t>()"), std::string::npos) << what;
  EXPECT_EQ(what.find("internal error"), std::string::npos) << what;

  const Tensor& c = t;
  EXPECT_NE(error_of([&] { (void)c.values<double>(); }).first.find("Tensor::values<double>()"),
            std::string::npos);
  EXPECT_EQ(t.data<int64_t>(), reinterpret_cast<int64_t*>(t.bytes().data()));
}

TEST(Tensor, FromWithTheWrongValueCountSaysBothCounts) {
  uint32_t line = __LINE__ + 1;
  auto [what, at] = error_of([] { Tensor::from<float>({2, 3}, {1, 2, 3, 4, 5}); });
  EXPECT_EQ(at, line);
  EXPECT_NE(what.find("Tensor::from: 5 values for the type f32[2,3], which has 6 elements"),
            std::string::npos)
      << what;
  EXPECT_NE(
      error_of([] { Tensor::from<bool>({3}, {true}); }).first.find("1 values for the type bool[3]"),
      std::string::npos);
  EXPECT_EQ(Tensor::from<int32_t>({2}, {7, 8}).values<int32_t>()[1], 8);
}

} // namespace
} // namespace sj
