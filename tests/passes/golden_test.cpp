// Golden IR tests, lit-style: every tests/passes/golden/*.sj file holds a graph, a `# RUN:` line
// with the stepjit arguments to apply to it (%s is the file), and `# CHECK` lines the output
// must match (tests/support/filecheck.h). Adding a file adds a test.
#include "tests/support/cli.h"
#include "tests/support/filecheck.h"

#include <filesystem>
#include <gtest/gtest.h>

namespace sj {
namespace {

std::vector<std::string> golden_files() {
  std::vector<std::string> files;
  for (const auto& entry :
       std::filesystem::directory_iterator(test::source_path("tests/passes/golden")))
    if (entry.path().extension() == ".sj") files.push_back(entry.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

// The arguments of the file's `# RUN: stepjit ...` line, with %s replaced by the file's path.
std::string run_arguments(const std::string& path, const std::string& text) {
  const std::string tag = "# RUN: stepjit ";
  auto at = text.find(tag);
  if (at == std::string::npos) return "";
  auto end = text.find('\n', at);
  std::string args = text.substr(at + tag.size(), end - at - tag.size());
  for (size_t p; (p = args.find("%s")) != std::string::npos;)
    args.replace(p, 2, path);
  return args;
}

class Golden : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, OutputMatchesTheChecks) {
  const std::string& path = GetParam();
  std::string text = test::read_file(path);
  std::string args = run_arguments(path, text);
  ASSERT_FALSE(args.empty()) << path << ": no '# RUN: stepjit ...' line";
  auto r = test::run_stepjit(args);
  ASSERT_EQ(r.exit_code, 0) << "stepjit " << args << "\n" << r.err;
  EXPECT_EQ(test::filecheck(r.out, text), "") << path << "\n--- output ---\n" << r.out;
}

INSTANTIATE_TEST_SUITE_P(Files, Golden, ::testing::ValuesIn(golden_files()), [](const auto& info) {
  std::string name = std::filesystem::path(info.param).stem().string();
  for (char& c : name)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
});

TEST(GoldenFiles, Exist) { EXPECT_FALSE(golden_files().empty()); }

} // namespace
} // namespace sj
