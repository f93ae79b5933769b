// Runs the stepjit binary from tests and captures what it prints.
#pragma once

#include <string>

namespace sj::test {

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

/// Runs `stepjit ARGS` (ARGS is passed to the shell as written) from the build tree.
CommandResult run_stepjit(const std::string& args);
/// Runs a shell command line, capturing its standard output and error.
CommandResult run_command(const std::string& command);
/// The stepjit binary of the build tree.
std::string stepjit_path();
/// A fresh, empty directory under the build tree for one test's files.
std::string temp_dir(const std::string& name);
/// Path of a file in the source tree, e.g. source_path("examples/models/seed.sj").
std::string source_path(const std::string& relative);
/// Whole contents of a file.
std::string read_file(const std::string& path);

} // namespace sj::test
