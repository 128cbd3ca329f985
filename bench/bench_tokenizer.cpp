// Encode throughput of the real tokenizers (qwen3, gemma3, llama3 fixtures)
// on a large deterministic mixed text: English prose, code, CJK, emoji,
// numbers, whitespace runs. A program, not a test:
//   build/bin/bench_tokenizer [MB] [shared folder] [names]
// (default 4 MB, $NAGI_SHARED or ../shared, "qwen3,gemma3,llama3").
// Speeds are bytes per second of thread CPU time, so a busy machine does not
// distort them; the wall time is printed too.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <sstream>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace {

// xorshift64*: the same text on every machine.
struct Rng {
  uint64_t s = 0x9E3779B97F4A7C15ull;
  uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545F4914F6CDD1Dull;
  }
  size_t below(size_t n) { return static_cast<size_t>(next() % n); }
};

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string make_text(size_t bytes) {
  static const char* words[] = {
      "the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on", "not",
      "he", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an", "had", "they", "you", "were",
      "their", "one", "all", "we", "can", "her", "has", "there", "been", "if", "more", "when", "will", "would",
      "who", "so", "no", "tokenizer", "inference", "engine", "quantization", "throughput", "transformer",
      "attention", "embedding", "Wednesday", "extraordinary", "misunderstanding", "London", "Paris", "don't",
      "it's", "we'll", "THEY'RE", "naïve", "café", "résumé", "Zürich", "São", "Paulo", "Привет", "мир",
      "مرحبا", "नमस्ते", "Xin", "chào"};
  static const char* code[] = {
      "for (int i = 0; i < n; ++i) {\n    sum += a[i] * b[i];\n}\n",
      "def encode(self, text: str) -> list[int]:\n        return [self.vocab[t] for t in text.split()]\n",
      "{\"model\": \"qwen3\", \"temperature\": 0.7, \"max_tokens\": 512, \"stop\": [\"\\n\\n\"]}\n",
      "#include <vector>\nstd::vector<int32_t> ids;\nids.reserve(1 << 20);\n",
      "https://example.com/path/to/resource?query=value&lang=en#section-2\n",
      "\t\tif (x != nullptr && x->next) return x->next->value;  // TODO(nagi): check\n"};
  static const char* emoji[] = {"😀", "👍🏽", "👨‍👩‍👧‍👦", "🇯🇵", "❤️", "🚀", "✨"};
  Rng rng;
  std::string out;
  out.reserve(bytes + 256);
  while (out.size() < bytes) {
    const size_t kind = rng.below(100);
    if (kind < 55) {  // a sentence of prose
      const size_t n = 5 + rng.below(20);
      for (size_t i = 0; i < n; ++i) {
        std::string w = words[rng.below(sizeof words / sizeof *words)];
        if (i == 0) w[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(w[0])));
        out += w;
        out += i + 1 == n ? ". " : (rng.below(8) == 0 ? ", " : " ");
      }
      if (rng.below(6) == 0) out += "\n\n";
    } else if (kind < 70) {
      out += code[rng.below(sizeof code / sizeof *code)];
    } else if (kind < 80) {  // CJK: Chinese, kana, Hangul
      const size_t n = 10 + rng.below(40);
      for (size_t i = 0; i < n; ++i) {
        const size_t script = rng.below(10);
        const uint32_t cp = script < 6 ? 0x4E00 + rng.below(3000) : script < 8 ? 0x3041 + rng.below(86) : 0xAC00 + rng.below(2000);
        append_utf8(out, cp);
        if (rng.below(12) == 0) out += "。";
      }
      out += "\n";
    } else if (kind < 87) {  // numbers
      out += std::to_string(rng.next() % 100000000) + (rng.below(2) ? "." + std::to_string(rng.below(1000)) : "");
      out += rng.below(3) == 0 ? "\n" : " ";
    } else if (kind < 93) {
      out += emoji[rng.below(sizeof emoji / sizeof *emoji)];
      out += " ";
    } else {  // whitespace runs
      out += std::string(1 + rng.below(12), rng.below(3) == 0 ? '\t' : ' ');
      if (rng.below(2)) out += std::string(1 + rng.below(4), '\n');
    }
  }
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  const double mb = argc > 1 ? std::atof(argv[1]) : 4.0;
  std::string shared = NAGI_BENCH_SHARED_DEFAULT;
  if (const char* env = std::getenv("NAGI_SHARED"); env && *env) shared = env;
  if (argc > 2) shared = argv[2];
  const std::string text = make_text(static_cast<size_t>(mb * 1e6));
  std::printf("text: %.2f MB (prose, code, CJK, emoji, numbers, whitespace)\n", text.size() / 1e6);
  std::vector<std::string> names;
  std::stringstream list(argc > 3 ? argv[3] : "qwen3,gemma3,llama3");
  for (std::string n; std::getline(list, n, ',');) names.push_back(n);
  for (const std::string& name : names) {
    auto w0 = std::chrono::steady_clock::now();
    const auto tok = nagi::load_hf_tokenizer(shared + "/tokenizers/" + name);
    const double load_s = seconds_since(w0);
    double best_cpu = 1e30, best_wall = 1e30;
    size_t n_ids = 0;
    uint64_t digest = 1469598103934665603ull;  // FNV-1a of the ids: compare encoders exactly
    for (int rep = 0; rep < 3; ++rep) {
      w0 = std::chrono::steady_clock::now();
      const double c0 = cpu_seconds();
      const auto ids = tok->encode(text, false, true);
      best_cpu = std::min(best_cpu, cpu_seconds() - c0);
      best_wall = std::min(best_wall, seconds_since(w0));
      n_ids = ids.size();
      if (rep == 0) {
        for (int32_t id : ids) digest = (digest ^ static_cast<uint32_t>(id)) * 1099511628211ull;
      }
    }
    // Line by line, as a server sees many short requests (cache warm).
    size_t pos = 0, n_line_ids = 0;
    const double c0 = cpu_seconds();
    while (pos < text.size()) {
      size_t end = text.find('\n', pos);
      end = end == std::string::npos ? text.size() : end + 1;
      n_line_ids += tok->encode(std::string_view(text).substr(pos, end - pos), false, true).size();
      pos = end;
    }
    const double lines_cpu = cpu_seconds() - c0;
    const double mbytes = text.size() / 1e6;
    std::printf("%-7s load %.2f s | whole text: %.1f MB/s CPU (%.1f MB/s wall), %zu tokens, %.2f bytes/token | "
                "line by line: %.1f MB/s CPU | ids %016llx\n",
                name.c_str(), load_s, mbytes / best_cpu, mbytes / best_wall, n_ids, double(text.size()) / n_ids,
                mbytes / lines_cpu, static_cast<unsigned long long>(digest));
    std::fflush(stdout);
  }
  return 0;
}
