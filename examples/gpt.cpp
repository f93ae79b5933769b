// A character-level GPT trained from C++: nanoGPT's CPU configuration of GPT-2's architecture
// (sj::GPT, frontend/gpt.h) on any text file, with samples as it trains, a safetensors
// checkpoint, and sampling from a checkpoint.
//
//   build/examples/gpt train TEXTFILE [--steps N] [--out CKPT] [--threads T] [--lr LR]
//                                     [--seed S]
//   build/examples/gpt sample CKPT [--prompt TEXT] [--tokens N] [--temperature X] [--top-k K]
//                                  [--threads T] [--seed S]
//
// A bad command line (an unknown flag, a flag of the other command, a missing value, a value
// that is not wholly a number in the flag's range) names the flag, the value and what was
// expected, then the usage, and exits 2.
//
// The checkpoint holds every variable (GPT-2's names, AdamW's slots) and, as metadata, the
// vocabulary (hex-encoded bytes) and the model's shape, so `sample` needs nothing else.
// Sampling runs an inference graph of batch 1 over the whole context: the prompt (its last
// `context` characters) fills the first positions and the rest is padding, which causal
// attention keeps from affecting the logits read at the prompt's last position.
#include "frontend/gpt.h"

#include "frontend/optimizers.h"
#include "runtime/char_vocabulary.h"
#include "runtime/checkpoint.h"
#include "runtime/compiled_step.h"
#include "runtime/sampling.h"
#include "runtime/token_batcher.h"
#include "runtime/training.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

struct Args {
  std::string command, path, out = "gpt.safetensors", prompt = "\n";
  int64_t steps = 2000, tokens = 300, top_k = 0, threads = 1;
  double lr = 1e-3, temperature = 0.8;
  uint64_t seed = 1;
};

constexpr const char* kUsage =
    "usage: gpt train TEXTFILE [--steps N] [--out CKPT] [--threads T] [--lr LR] [--seed S]\n"
    "       gpt sample CKPT [--prompt TEXT] [--tokens N] [--temperature X] [--top-k K]\n"
    "                       [--threads T] [--seed S]";

/// A bad command line: main prints it with the usage and exits 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The whole of `text` as an integer in [min, max]: no sign for an unsigned type, no spaces, no
// trailing characters. `expected` names the range in the message.
template <typename T>
T whole_number(const std::string& flag, const std::string& text, T min, T max,
               const std::string& expected) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || end != text.data() + text.size() || ec != std::errc() || value < min ||
      value > max)
    throw UsageError("gpt: " + flag + " expects " + expected + ", got '" + text + "'");
  return value;
}

// The whole of `text` as a finite real number above 0.
double positive_real(const std::string& flag, const std::string& text) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || end != text.data() + text.size() || ec != std::errc() ||
      !std::isfinite(value) || value <= 0)
    throw UsageError("gpt: " + flag + " expects a positive number, got '" + text + "'");
  return value;
}

Args parse(int argc, char** argv) {
  if (argc < 2) throw UsageError("gpt: no command");
  Args a;
  a.command = argv[1];
  if (a.command != "train" && a.command != "sample")
    throw UsageError("gpt: the command is train or sample, not '" + a.command + "'");
  bool train = a.command == "train";
  if (argc < 3 || std::strncmp(argv[2], "--", 2) == 0)
    throw UsageError(std::string("gpt ") + argv[1] + ": expects " +
                     (train ? "a text file" : "a checkpoint") + " first");
  a.path = argv[2];
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  for (int i = 3; i < argc; ++i) {
    std::string flag = argv[i];
    // Each flag belongs to one command (--threads and --seed to both).
    static const std::vector<std::string> kTrain = {"--steps", "--out", "--lr"};
    static const std::vector<std::string> kSample = {"--prompt", "--tokens", "--temperature",
                                                     "--top-k"};
    auto in = [&](const std::vector<std::string>& list) {
      return std::find(list.begin(), list.end(), flag) != list.end();
    };
    if (in(train ? kSample : kTrain))
      throw UsageError("gpt: " + flag + " is a flag of gpt " + (train ? "sample" : "train") +
                       ", not of gpt " + a.command);
    if (!in(kTrain) && !in(kSample) && flag != "--threads" && flag != "--seed")
      throw UsageError("gpt " + a.command + ": unknown flag '" + flag + "'");
    if (i + 1 >= argc) throw UsageError("gpt: " + flag + " needs a value");
    std::string v = argv[++i];
    if (flag == "--steps")
      a.steps = whole_number<int64_t>(flag, v, 1, kMax, "a positive integer");
    else if (flag == "--out")
      a.out = v;
    else if (flag == "--threads")
      a.threads = whole_number<int64_t>(flag, v, 1, 256, "an integer from 1 to 256");
    else if (flag == "--lr")
      a.lr = positive_real(flag, v);
    else if (flag == "--prompt")
      a.prompt = v;
    else if (flag == "--tokens")
      a.tokens = whole_number<int64_t>(flag, v, 1, kMax, "a positive integer");
    else if (flag == "--temperature")
      a.temperature = positive_real(flag, v);
    else if (flag == "--top-k")
      a.top_k = whole_number<int64_t>(flag, v, 0, kMax, "an integer >= 0 (0: all tokens)");
    else if (flag == "--seed")
      a.seed = whole_number<uint64_t>(flag, v, 0, std::numeric_limits<uint64_t>::max(),
                                      "an integer from 0 to 2^64 - 1");
  }
  if (a.out.empty()) throw UsageError("gpt: --out expects a file name, got ''");
  if (a.prompt.empty()) throw UsageError("gpt: --prompt expects a non-empty text, got ''");
  return a;
}

std::string read_text(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw std::runtime_error("gpt: cannot open " + path);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

std::string hex(const std::string& bytes) {
  std::string h;
  for (unsigned char c : bytes) {
    const char* digits = "0123456789abcdef";
    h += digits[c >> 4];
    h += digits[c & 15];
  }
  return h;
}
std::string unhex(const std::string& h) {
  std::string bytes;
  for (size_t i = 0; i + 1 < h.size(); i += 2)
    bytes += static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16));
  return bytes;
}

// nanoGPT's CPU configuration ("baby GPT" on a laptop): 4 layers, 4 heads, 128 channels,
// context 64, batch 12.
sj::GPTConfig config_for(int64_t vocab) {
  return {.vocab = vocab, .context = 64, .layers = 4, .heads = 4, .channels = 128};
}
constexpr int64_t kBatch = 12;

/// `count` characters after `prompt` from the model whose variables `predict` holds.
std::string sample(sj::CompiledStep& predict, const sj::CharVocabulary& vocab,
                   const sj::GPTConfig& cfg, const std::string& prompt, int64_t count,
                   double temperature, int64_t top_k, uint64_t seed) {
  if (prompt.empty()) throw std::runtime_error("gpt: the prompt is empty");
  sj::Tensor encoded = vocab.encode(prompt);
  std::vector<int32_t> ids(encoded.data<int32_t>(), encoded.data<int32_t>() + prompt.size());
  std::string out;
  for (int64_t n = 0; n < count; ++n) {
    int64_t len = std::min<int64_t>(int64_t(ids.size()), cfg.context);
    std::vector<int32_t> window(cfg.context, 0);
    std::copy(ids.end() - len, ids.end(), window.begin());
    const sj::Tensor& logits =
        predict.run({{"tokens", sj::Tensor::from<int32_t>({1, cfg.context}, window)}}).at("logits");
    int32_t next =
        sj::sample_token({logits.data<float>() + (len - 1) * cfg.vocab, size_t(cfg.vocab)},
                         {.temperature = temperature, .top_k = top_k, .seed = seed}, uint64_t(n));
    ids.push_back(next);
    out += vocab.chars()[next];
  }
  return out;
}

/// The inference graph [1, context] -> logits, on the given variables.
sj::CompiledStep predictor(sj::GPT& gpt, std::shared_ptr<sj::Variables> vars, int threads) {
  sj::Graph g("gpt_sample");
  auto tokens = sj::input(g, "tokens", {sj::DType::i32, {1, gpt.config().context}});
  sj::output("logits", gpt(tokens));
  return sj::CompiledStep::compile(g, {.share_variables = std::move(vars), .threads = threads});
}

int train(const Args& a) {
  std::string text = read_text(a.path);
  auto vocab = sj::CharVocabulary::of(text);
  sj::GPTConfig cfg = config_for(vocab.size());
  sj::TokenBatcher data(vocab.encode(text),
                        {.batch_size = kBatch, .context = cfg.context, .seed = a.seed});
  std::printf("%zu characters, vocabulary of %lld; GPT %lld layers, %lld heads, %lld channels, "
              "context %lld, batch %lld\n",
              text.size(), (long long)vocab.size(), (long long)cfg.layers, (long long)cfg.heads,
              (long long)cfg.channels, (long long)cfg.context, (long long)kBatch);

  sj::Graph g("gpt");
  sj::GPT gpt(cfg);
  auto x = sj::input(g, "x", {sj::DType::i32, {kBatch, cfg.context}});
  auto y = sj::input(g, "y", {sj::DType::i32, {kBatch, cfg.context}});
  auto loss = gpt.loss(gpt(x, sj::CallMode::training), y);
  // nanoGPT's AdamW: weight decay 0.1 on the matrices only (not biases, norms).
  sj::AdamW adamw({.learning_rate = a.lr,
                   .weight_decay = 0.1,
                   .common = {.decay = [](const sj::Value& v) { return v.rank() >= 2; }}});
  auto t0 = std::chrono::steady_clock::now();
  auto step = sj::compile_training_step(loss, gpt.trainable_variables(), adamw,
                                        {.threads = int(a.threads)});
  auto predict = predictor(gpt, step.shared_variables(), int(a.threads));
  std::printf("compiled in %.1f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());

  double recent = 0;
  t0 = std::chrono::steady_clock::now();
  for (int64_t s = 0; s < a.steps; ++s) {
    auto [bx, by] = data.batch(s);
    recent += step.run({{"x", bx}, {"y", by}}).at("loss").as_double(0);
    bool report = (s + 1) % 100 == 0 || s + 1 == a.steps;
    if (report) {
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      int64_t in_window = (s % 100) + 1;
      std::printf("step %5lld  loss %.4f  %.0f tokens/s\n", (long long)s + 1,
                  recent / double(in_window), double((s + 1) * kBatch * cfg.context) / secs);
      std::fflush(stdout);
      if (s + 1 == a.steps || (s + 1) % 500 == 0)
        std::printf("---\n%s\n---\n",
                    sample(predict, vocab, cfg, "\n", 200, 0.8, 0, a.seed).c_str());
      if (s + 1 < a.steps) recent = 0;
    }
  }
  sj::save_checkpoint(
      a.out, *step.shared_variables(),
      {{"vocabulary", hex(vocab.chars())}, {"gpt", "layers 4, heads 4, channels 128, context 64"}});
  std::printf("final loss %.4f; saved %s\n", recent / double(((a.steps - 1) % 100) + 1),
              a.out.c_str());
  return 0;
}

int sample_command(const Args& a) {
  auto meta = sj::read_safetensors_metadata(a.path);
  if (!meta.count("vocabulary"))
    throw std::runtime_error("gpt sample: " + a.path +
                             " has no vocabulary (not written by gpt "
                             "train)");
  auto vocab = sj::CharVocabulary::from_chars(unhex(meta.at("vocabulary")));
  sj::GPT gpt(config_for(vocab.size()));
  auto predict = predictor(gpt, nullptr, int(a.threads));
  sj::load_checkpoint(a.path, predict.variables(), {.ignore_extra = true});
  std::printf(
      "%s%s\n", a.prompt.c_str(),
      sample(predict, vocab, gpt.config(), a.prompt, a.tokens, a.temperature, a.top_k, a.seed)
          .c_str());
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  try {
    if (argc == 2 && (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h"))) {
      std::printf("%s\n", kUsage);
      return 0;
    }
    Args a = parse(argc, argv);
    return a.command == "train" ? train(a) : sample_command(a);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "%s\n%s\n", e.what(), kUsage);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
