// examples/models/seed.sj is the seed tutorial's model: the same graph as the one built layer by
// layer with the C++ API in tests/support/models.cpp.
#include "graph/builder.h"
#include "graph/parse.h"
#include "graph/print.h"
#include "tests/support/cli.h"
#include "tests/support/models.h"

#include <gtest/gtest.h>

namespace sj {
namespace {

TEST(SeedModel, TextFileMatchesTheModelBuiltInCpp) {
  std::string path = test::source_path("examples/models/seed.sj");
  Graph parsed = parse(test::read_file(path), path);
  EXPECT_EQ(print(parsed), print(test::build_seed_model()));
  for (const char* name : {"dense_0/kernel", "dense_0/bias", "dense_1/kernel", "dense_1/bias"})
    EXPECT_EQ(parsed.node(*parsed.find(name)).op, Op::variable) << name;
  EXPECT_EQ(parsed.type(*parsed.output("loss")).str(), "f32[]");
  EXPECT_EQ(parsed.type(*parsed.output("pred")).str(), "f32[32,1]");
}

} // namespace
} // namespace sj
