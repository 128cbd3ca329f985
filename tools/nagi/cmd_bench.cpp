// nagi bench: prefill and decode speed of a model through the public API,
// with the bytes each decoded token reads and the fraction of the machine's
// measured streaming-read bandwidth that achieves; or (--bandwidth) only that
// bandwidth. A program for people, never a timed test.
//
//   nagi bench -m model.gguf -p 128,512 -n 128 -t 2 -r 3 [--json]
//   nagi bench --bandwidth -t 2
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "api/model_impl.h"
#include "base/thread_pool.h"
#include "commands.h"
#include "nagi/nagi.hpp"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace nagi::cli {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double peak_rss_mib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

// ---- streaming-read bandwidth ----

#if defined(__x86_64__)
__attribute__((target("avx512f"))) uint64_t sum_avx512(const uint64_t* p, size_t n) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 32 <= n; i += 32) {
    a0 = _mm512_add_epi64(a0, _mm512_load_si512(p + i));
    a1 = _mm512_add_epi64(a1, _mm512_load_si512(p + i + 8));
    a2 = _mm512_add_epi64(a2, _mm512_load_si512(p + i + 16));
    a3 = _mm512_add_epi64(a3, _mm512_load_si512(p + i + 24));
  }
  alignas(64) uint64_t t[8];
  _mm512_store_si512(t, _mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3)));
  return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}
__attribute__((target("avx2"))) uint64_t sum_avx2(const uint64_t* p, size_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 16 <= n; i += 16) {
    a0 = _mm256_add_epi64(a0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_add_epi64(a1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 4)));
    a2 = _mm256_add_epi64(a2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 8)));
    a3 = _mm256_add_epi64(a3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 12)));
  }
  alignas(32) uint64_t t[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(t), _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3)));
  return t[0] + t[1] + t[2] + t[3];
}
#endif
uint64_t sum_plain(const uint64_t* p, size_t n) {
  uint64_t s[4] = {};
  for (size_t i = 0; i + 4 <= n; i += 4) {
    for (int j = 0; j < 4; ++j) s[j] += p[i + j];
  }
  return s[0] + s[1] + s[2] + s[3];
}

struct Bandwidth {
  double median_gbs = 0, best_gbs = 0;
  int passes = 0;
  std::string loads;
};

// A 1 GiB buffer that each thread reads its contiguous share of; GB/s per
// pass. Kept alive so bench can measure again next to every decode run.
class BandwidthProbe {
 public:
  BandwidthProbe(int threads, bool wide) : threads_(threads), pool_(threads) {
    buf_ = static_cast<uint64_t*>(std::aligned_alloc(64, kBytes));
    if (buf_ == nullptr) throw Error(ErrorCode::kIo, "bench: cannot allocate the 1 GiB bandwidth buffer");
    // First touch from the thread that will read each share.
    pool_.run([&](int t) {
      const size_t b = kWords * t / threads_, e = kWords * (t + 1) / threads_;
      for (size_t i = b; i < e; ++i) buf_[i] = i;
    });
    loads_ = "64-bit";
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2")) sum_ = sum_avx2, loads_ = "256-bit";
    if (wide && __builtin_cpu_supports("avx512f")) sum_ = sum_avx512, loads_ = "512-bit";
#endif
  }
  ~BandwidthProbe() { std::free(buf_); }
  BandwidthProbe(const BandwidthProbe&) = delete;
  BandwidthProbe& operator=(const BandwidthProbe&) = delete;

  Bandwidth measure(int passes) {
    std::vector<uint64_t> sink(threads_);
    std::vector<double> gbs;
    for (int p = 0; p < passes + 1; ++p) {
      const auto t0 = Clock::now();
      pool_.run([&](int t) {
        const size_t b = (kWords * t / threads_) & ~size_t(31), e = (kWords * (t + 1) / threads_) & ~size_t(31);
        sink[t] += sum_(buf_ + b, e - b);
      });
      const double s = seconds_since(t0);
      if (p > 0) gbs.push_back(double(kBytes) / s / 1e9);  // pass 0 warms up
    }
    volatile uint64_t keep = 0;
    for (uint64_t v : sink) keep = keep + v;
    Bandwidth bw;
    bw.median_gbs = median(gbs);
    bw.best_gbs = *std::max_element(gbs.begin(), gbs.end());
    bw.passes = passes;
    bw.loads = loads_;
    return bw;
  }

 private:
  static constexpr size_t kBytes = size_t(1) << 30, kWords = kBytes / sizeof(uint64_t);
  int threads_;
  ThreadPool pool_;
  uint64_t* buf_ = nullptr;
  uint64_t (*sum_)(const uint64_t*, size_t) = sum_plain;
  std::string loads_;
};

// ---- model ----

struct BenchArgs {
  std::string model, prefill = "128,512";
  int n_decode = 128, threads = 0, repeats = 3, bw_passes = 20, ctx = 0;
  int prefill_batch = SessionOptions{}.prefill_batch;
  KvCacheType kv_cache = KvCacheType::kAuto;
  double bandwidth = 0;  // GB/s given by the user; 0: measure
  bool json = false, bandwidth_only = false, wide = false;
};

std::vector<int32_t> bench_tokens(int n, int n_vocab, int salt) {
  std::vector<int32_t> ids(n);
  for (int i = 0; i < n; ++i) ids[i] = int32_t((uint64_t(i + 1) * 7919u + uint64_t(salt) * 104729u) % uint64_t(n_vocab));
  return ids;
}

void bench(const BenchArgs& a) {
  const int threads = a.threads > 0 ? a.threads : ThreadPool::default_threads();
  nlohmann::json out;
  out["threads"] = threads;
  out["kernels"] = std::string(kernel_level());
  if (a.bandwidth_only) {
    const Bandwidth bw = BandwidthProbe(threads, a.wide).measure(a.bw_passes);
    out["bandwidth_gbs"] = bw.median_gbs;
    out["bandwidth_best_gbs"] = bw.best_gbs;
    out["passes"] = bw.passes;
    out["loads"] = bw.loads;
    if (a.json) {
      std::printf("%s\n", out.dump(2).c_str());
    } else {
      std::printf("streaming read, 1 GiB, %d thread(s), %s loads: median %.1f GB/s, best %.1f GB/s (%d passes)\n",
                  threads, bw.loads.c_str(), bw.median_gbs, bw.best_gbs, bw.passes);
    }
    return;
  }
  std::vector<int> prefill_sizes;
  {
    std::stringstream ss(a.prefill);
    std::string item;
    while (std::getline(ss, item, ',')) {
      if (item.empty()) continue;
      const int v = std::atoi(item.c_str());
      if (v <= 0) throw Error(ErrorCode::kInvalidArgument, "-p: '" + item + "' is not a positive token count");
      prefill_sizes.push_back(v);
    }
  }
  if (a.n_decode < 0) throw Error(ErrorCode::kInvalidArgument, "-n: must be >= 0");
  const int repeats = std::max(1, a.repeats);
  const std::string path = a.model.empty() ? default_model_path() : a.model;

  const auto t_load = Clock::now();
  auto model = Model::load(path);
  const double load_s = seconds_since(t_load);
  const ModelInfo& info = model->info();
  int need_ctx = a.n_decode + 1;
  for (int p : prefill_sizes) need_ctx = std::max(need_ctx, p);
  Session session(model, SessionOptions{.n_ctx = a.ctx > 0 ? a.ctx : need_ctx, .n_threads = threads, .kv_cache = a.kv_cache,
                                         .prefill_batch = a.prefill_batch});
  if (session.n_ctx() < need_ctx) {
    throw Error(ErrorCode::kInvalidArgument, "bench: context " + std::to_string(session.n_ctx()) +
                                                 " is shorter than the longest run (" + std::to_string(need_ctx) + " tokens)");
  }
  out["model"] = path;
  out["arch"] = info.arch;
  out["n_params"] = info.n_params;
  out["weight_bytes"] = info.weight_bytes;
  out["load_ms"] = load_s * 1e3;
  out["repeats"] = repeats;
  out["kv_cache"] = std::string(kv_cache_type_name(session.kv_cache()));

  // Warm-up: touches every weight page once (mmap) and starts the workers.
  session.reset();
  session.eval(bench_tokens(std::min(8, need_ctx), info.n_vocab, 99), false);

  nlohmann::json prefill = nlohmann::json::array();
  for (int p : prefill_sizes) {
    std::vector<double> tps;
    for (int r = 0; r < repeats; ++r) {
      const auto ids = bench_tokens(p, info.n_vocab, r);
      session.reset();
      const auto t0 = Clock::now();
      session.eval_view(ids, false);
      tps.push_back(p / seconds_since(t0));
    }
    prefill.push_back({{"n_tokens", p}, {"tokens_per_s", median(tps)}, {"runs", tps}});
  }
  out["prefill"] = prefill;

  // Decode from an empty context, like llama-bench's tg: n tokens one at a time.
  // Each reads every weight (the tied embedding in full, as the output
  // matrix), the recurrent and convolution states of hybrid layers, and on
  // average n/2 positions of K and V: the bytes ../shared/perf's roofline
  // counts. state_bytes at n/2 positions is that state (sliding-window
  // layers capped at their window).
  const double state_avg = double(model->state_bytes(a.n_decode / 2, session.kv_cache()));
  const double bytes_per_token = double(info.weight_bytes) + state_avg;
  nlohmann::json decode;
  double decode_tps = 0, bw = a.bandwidth, roofline_pct = 0;
  const bool measure_bw = bw <= 0 && a.bw_passes > 0;  // else every run is taken against --bw
  auto decode_run = [&](int r) {
    const auto ids = bench_tokens(a.n_decode, info.n_vocab, 1000 + r);
    session.reset();
    const auto t0 = Clock::now();
    // eval_view: the logits are not copied out (llama-bench's tg does not
    // copy them either).
    for (int i = 0; i < a.n_decode; ++i) session.eval_view(std::span<const int32_t>(&ids[i], 1), false);
    return a.n_decode / seconds_since(t0);
  };
  if (a.n_decode > 0) {
    // One unmeasured run grows the KV cache to its full size, so the peak RSS
    // below is the model's, taken before the bandwidth buffer exists.
    decode_run(-1);
  }
  out["peak_rss_mib"] = peak_rss_mib();
  if (a.n_decode > 0) {
    // The host's bandwidth drifts from one second to the next on shared
    // machines, so unless --bw fixes it, each decode run is paired with a
    // bandwidth measurement taken just before it, and the fraction of the
    // roofline is the median of the per-run fractions.
    std::unique_ptr<BandwidthProbe> probe;
    if (measure_bw) probe = std::make_unique<BandwidthProbe>(threads, a.wide);
    const int passes_per_run = std::max(3, a.bw_passes / repeats);
    std::vector<double> tps, bws, pcts;
    // The decode rows' prefetch setting the model's tuner kept after each
    // run (kernels/line_ahead.h): a run's speed depends on it.
    std::vector<std::string> prefetch;
    for (int r = 0; r < repeats; ++r) {
      const double run_bw = measure_bw ? probe->measure(passes_per_run).median_gbs : bw;
      tps.push_back(decode_run(r));
      prefetch.push_back(line_ahead_name(model->impl().line_ahead.chosen()));
      bws.push_back(run_bw);
      if (run_bw > 0) pcts.push_back(100.0 * tps.back() * bytes_per_token / 1e9 / run_bw);
    }
    decode_tps = median(tps);
    if (measure_bw) bw = median(bws);
    roofline_pct = median(pcts);
    decode = {{"n_tokens", a.n_decode}, {"tokens_per_s", decode_tps}, {"runs", tps},
              {"bytes_per_token", bytes_per_token}, {"state_bytes_per_token", state_avg},
              {"achieved_gbs", decode_tps * bytes_per_token / 1e9}, {"bandwidth_gbs_per_run", bws},
              {"roofline_tokens_per_s", bw > 0 ? bw * 1e9 / bytes_per_token : 0.0}, {"roofline_pct", roofline_pct},
              {"roofline_pct_per_run", pcts}, {"line_ahead_per_run", prefetch}};
    out["decode"] = decode;
  }
  out["bandwidth_gbs"] = bw;

  if (a.json) {
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  std::printf("model   %s (%s, %.1f M params, %.1f MB of weights)\n", path.c_str(), info.arch.c_str(),
              double(info.n_params) / 1e6, double(info.weight_bytes) / 1e6);
  std::printf("load    %.1f ms   threads %d   kernels %s   repeats %d (median)   KV cache %s\n", load_s * 1e3, threads,
              std::string(kernel_level()).c_str(), repeats,
              std::string(kv_cache_type_name(session.kv_cache())).c_str());
  for (const auto& p : prefill) {
    std::printf("prefill %5d tokens: %9.1f tokens/s\n", p["n_tokens"].get<int>(), p["tokens_per_s"].get<double>());
  }
  if (a.n_decode > 0) {
    // The three medians (tokens/s, bandwidth, fraction) need not come from
    // one run, so the runs are listed too: a reader can check each fraction.
    std::printf("decode  %5d tokens: %9.2f tokens/s   %.1f MB/token   %.1f GB/s, %.0f%% of the bandwidth"
                " (medians of the runs below)\n", a.n_decode,
                decode_tps, bytes_per_token / 1e6, decode["achieved_gbs"].get<double>(), roofline_pct);
    const auto& runs = decode["runs"];
    const auto& run_bw = decode["bandwidth_gbs_per_run"];
    std::printf("        runs (%s):", measure_bw ? "each against the bandwidth measured just before it" : "against --bw");
    for (size_t r = 0; r < runs.size(); ++r) {
      const double gbs = runs[r].get<double>() * bytes_per_token / 1e9, b = run_bw[r].get<double>();
      std::printf("%s %.2f tok/s = %.1f GB/s", r == 0 ? "" : ";", runs[r].get<double>(), gbs);
      if (b > 0) std::printf(" = %.0f%% of %.1f", 100.0 * gbs / b, b);
      std::printf(" [%s]", decode["line_ahead_per_run"][r].get<std::string>().c_str());
    }
    std::printf("\n");
  }
  std::printf("peak RSS %.1f MiB\n", out["peak_rss_mib"].get<double>());
}

}  // namespace

void add_bench_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand("bench", "Measure prefill/decode speed (or, with --bandwidth, memory bandwidth)");
  cmd->add_option("-m,--model", args->model, "Model path (default: $NAGI_MODEL)");
  cmd->add_option("-p,--prefill", args->prefill, "Prompt sizes to prefill, comma-separated")->capture_default_str();
  cmd->add_option("-n,--n-decode", args->n_decode, "Tokens to decode one at a time (0: skip)")->capture_default_str();
  cmd->add_option("-t,--threads", args->threads, "Threads (default: physical cores)");
  add_kv_cache_option(cmd, &args->kv_cache);
  cmd->add_option("-r,--repeats", args->repeats, "Runs of each measurement (the median is reported)")->capture_default_str();
  cmd->add_option("-c,--ctx-size", args->ctx, "Context length (default: what the runs need)");
  cmd->add_option("-b,--prefill-batch", args->prefill_batch,
                  "Tokens per pass of a long prompt (0: the whole prompt at once)")
      ->capture_default_str();
  cmd->add_option("--bw", args->bandwidth, "Bandwidth in GB/s for the roofline (default: measure it)");
  cmd->add_option("--bw-passes", args->bw_passes, "Passes of the bandwidth measurement")->capture_default_str();
  cmd->add_flag("--bandwidth", args->bandwidth_only, "Only measure the streaming-read bandwidth (1 GiB buffer)");
  cmd->add_flag("--wide", args->wide, "Bandwidth with 512-bit loads (default 256-bit, like the reference figures)");
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->callback([args, &exit_code] {
    bench(*args);
    exit_code = 0;
  });
}

}  // namespace nagi::cli
