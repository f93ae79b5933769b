// A character-level GPT trained from C++: nanoGPT's CPU configuration of GPT-2's architecture
// (sj::GPT, frontend/gpt.h) on any text file, with samples as it trains, a safetensors
// checkpoint, and sampling from a checkpoint.
//
//   build/examples/gpt train TEXTFILE [--steps N] [--out CKPT] [--threads T] [--lr LR]
//   build/examples/gpt sample CKPT [--prompt TEXT] [--tokens N] [--temperature X] [--top-k K]
//                                  [--seed S]
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
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

namespace {

struct Args {
  std::string command, path, out = "gpt.safetensors", prompt = "\n";
  int64_t steps = 2000, tokens = 300, top_k = 0, threads = 1;
  double lr = 1e-3, temperature = 0.8;
  uint64_t seed = 1;
};

Args parse(int argc, char** argv) {
  if (argc < 3) throw std::runtime_error("usage: gpt train TEXTFILE [...] | gpt sample CKPT [...]");
  Args a{.command = argv[1], .path = argv[2]};
  for (int i = 3; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc) throw std::runtime_error("gpt: " + flag + " needs a value");
    std::string v = argv[++i];
    if (flag == "--steps")
      a.steps = std::stoll(v);
    else if (flag == "--out")
      a.out = v;
    else if (flag == "--threads")
      a.threads = std::stoll(v);
    else if (flag == "--lr")
      a.lr = std::stod(v);
    else if (flag == "--prompt")
      a.prompt = v;
    else if (flag == "--tokens")
      a.tokens = std::stoll(v);
    else if (flag == "--temperature")
      a.temperature = std::stod(v);
    else if (flag == "--top-k")
      a.top_k = std::stoll(v);
    else if (flag == "--seed")
      a.seed = std::stoull(v);
    else
      throw std::runtime_error("gpt: unknown flag " + flag);
  }
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
    Args a = parse(argc, argv);
    if (a.command == "train") return train(a);
    if (a.command == "sample") return sample_command(a);
    throw std::runtime_error("gpt: the command is train or sample, not " + a.command);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
