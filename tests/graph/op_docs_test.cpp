// docs/ops.md is the op table as a document; it must not drift from the table.
#include "graph/op_docs.h"
#include "graph/op_table.h"
#include "tests/support/cli.h"

#include <gtest/gtest.h>

namespace sj {
namespace {

TEST(OpDocs, DocsOpsMdIsUpToDate) {
  EXPECT_EQ(test::read_file(test::source_path("docs/ops.md")), ops_markdown())
      << "regenerate it: build/tools/stepjit ops --markdown > docs/ops.md";
}

TEST(OpDocs, EveryOpHasASummaryAndOperandNames) {
  for (Op op : kAllOps) {
    const OpDef& d = op_def(op);
    EXPECT_EQ(d.op, op) << d.name << ": row is filed under another op";
    EXPECT_FALSE(d.summary.empty()) << d.name;
    EXPECT_EQ(find_op(d.name), &d) << d.name;
    if (d.num_operands != kVariadic)
      EXPECT_EQ(d.operand_names.size(), size_t(d.num_operands)) << d.name;
    else
      EXPECT_EQ(d.operand_names.size(), 1u) << d.name;
    EXPECT_NE(d.infer, nullptr) << d.name;
  }
}

} // namespace
} // namespace sj
