#include "tests/support/cli.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

namespace sj::test {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string temp_dir(const std::string& name) {
  auto dir = std::filesystem::path(SJ_BINARY_DIR) / "test-tmp" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

std::string source_path(const std::string& relative) {
  return (std::filesystem::path(SJ_SOURCE_DIR) / relative).string();
}

std::string stepjit_path() { return std::string(SJ_BINARY_DIR) + "/tools/stepjit"; }

CommandResult run_stepjit(const std::string& args) {
  return run_command(stepjit_path() + " " + args);
}

CommandResult run_command(const std::string& command) {
  static int counter = 0;
  std::string dir = temp_dir("cli-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  std::string out = dir + "/out", err = dir + "/err";
  std::string cmd = command + " >" + out + " 2>" + err + " </dev/null";
  int status = std::system(cmd.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_file(out);
  r.err = read_file(err);
  std::filesystem::remove_all(dir);
  return r;
}

} // namespace sj::test
