// Cairn's Yjs-compatible CRDT (src/crdt) beside Yjs itself, measured in the same run: the B4
// editing trace (bench/data/automerge-paper.json.gz) replayed as local edits, its state encoded,
// that update applied to a fresh document, and the memory the replayed document holds.
// Yjs runs under Node (bench/js/crdt_peer.cjs) with the npm packages scripts/test.sh installs into
// build/js. Figures go to docs/BENCHMARKS.md.
//
//   build/release/bench/crdt_bench [--runs 3] [--trace FILE.json.gz] [--node-modules DIR]
#include <fmt/format.h>
#include <malloc.h>
#include <zlib.h>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <string>

#include "bench_support.hpp"
#include "crdt/doc.hpp"

namespace {
namespace json = boost::json;
namespace crdt = cairn::crdt;
using cairn::bench::median;
using cairn::bench::ms_since;
using cairn::bench::Stopwatch;

std::string gunzip(const std::string& file) {
  gzFile in = gzopen(file.c_str(), "rb");
  if (in == nullptr) throw std::runtime_error("cannot read " + file);
  std::string out;
  char buffer[1 << 16];
  int n = 0;
  while ((n = gzread(in, buffer, sizeof buffer)) > 0)
    out.append(buffer, static_cast<std::size_t>(n));
  gzclose(in);
  if (n < 0) throw std::runtime_error("cannot decompress " + file);
  return out;
}

struct Patch {
  std::uint64_t position;
  std::uint64_t deleted;
  std::string inserted;
};
struct Trace {
  std::vector<std::vector<Patch>> transactions;
  std::string end;
};

Trace load_trace(const std::string& file) {
  const json::value data = json::parse(gunzip(file));
  Trace trace;
  trace.end = std::string(data.at("endContent").as_string());
  for (const auto& txn : data.at("txns").as_array()) {
    std::vector<Patch> patches;
    for (const auto& patch : txn.at("patches").as_array()) {
      const auto& p = patch.as_array();
      patches.push_back({p[0].to_number<std::uint64_t>(), p[1].to_number<std::uint64_t>(),
                         std::string(p[2].as_string())});
    }
    trace.transactions.push_back(std::move(patches));
  }
  return trace;
}

std::size_t heap_in_use() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

struct Figures {
  double replay_ms, encode_ms, apply_ms;
  std::size_t update_bytes, memory_bytes;
  std::uint32_t update_hash;
};

// FNV-1a (32 bits), as crdt_peer.cjs computes it: the updates compared without printing them.
std::uint32_t fnv1a(const crdt::Bytes& bytes) {
  std::uint32_t hash = 0x811c9dc5;
  for (const std::uint8_t byte : bytes)
    hash = (hash ^ byte) * 0x01000193;
  return hash;
}

Figures run_cairn(const Trace& trace) {
  Figures figures{};
  auto start = Stopwatch::now();
  auto doc = std::make_unique<crdt::Doc>(1);
  crdt::Type& text = doc->get("text", crdt::TypeKind::text);
  for (const auto& patches : trace.transactions) {
    for (const Patch& patch : patches) {
      if (patch.deleted > 0) doc->text_delete(text, patch.position, patch.deleted);
      if (!patch.inserted.empty()) doc->text_insert(text, patch.position, patch.inserted);
    }
  }
  figures.replay_ms = ms_since(start);
  if (text.to_string() != trace.end) throw std::runtime_error("the replay does not end at endContent");
  start = Stopwatch::now();
  const crdt::Bytes update = doc->encode_state_as_update_v1();
  figures.encode_ms = ms_since(start);
  figures.update_bytes = update.size();
  figures.update_hash = fnv1a(update);
  // The memory the document holds: the heap with it, less the heap once it is gone.
  const std::size_t with_doc = heap_in_use();
  doc.reset();
  figures.memory_bytes = with_doc - heap_in_use();
  start = Stopwatch::now();
  crdt::Doc fresh(2);
  fresh.apply_update_v1(update);
  figures.apply_ms = ms_since(start);
  if (fresh.get("text", crdt::TypeKind::text).to_string() != trace.end) {
    throw std::runtime_error("the update loads wrong");
  }
  return figures;
}

Figures run_yjs(const std::string& modules, const std::string& trace_file) {
  const std::string command = fmt::format("NODE_PATH='{}' node --expose-gc '{}' trace '{}'", modules,
                                          CAIRN_BENCH_JS_DIR "/crdt_peer.cjs", trace_file);
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run node");
  std::string out;
  char buffer[4096];
  while (std::size_t n = fread(buffer, 1, sizeof buffer, pipe))
    out.append(buffer, n);
  if (pclose(pipe) != 0) throw std::runtime_error("node failed: " + command);
  const json::value v = json::parse(out);
  return {v.at("replayMs").to_number<double>(), v.at("encodeMs").to_number<double>(),
          v.at("applyMs").to_number<double>(), v.at("updateBytes").to_number<std::size_t>(),
          static_cast<std::size_t>(std::max(0.0, v.at("memoryBytes").to_number<double>())),
          v.at("updateHash").to_number<std::uint32_t>()};
}

void print(const char* who, const std::vector<Figures>& runs) {
  std::vector<double> replay, encode, apply;
  for (const Figures& f : runs) {
    replay.push_back(f.replay_ms);
    encode.push_back(f.encode_ms);
    apply.push_back(f.apply_ms);
  }
  fmt::print("{:<6} replay {:>9.1f} ms   encode {:>7.2f} ms   apply {:>8.2f} ms   update {:>8} B   "
             "memory {:>6.1f} MB\n",
             who, median(replay), median(encode), median(apply), runs.back().update_bytes,
             static_cast<double>(runs.back().memory_bytes) / 1e6);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Cairn's CRDT beside Yjs on the B4 editing trace");
  int runs = 3;
  std::string trace_file = CAIRN_BENCH_DATA_DIR "/automerge-paper.json.gz";
  std::string modules = CAIRN_BENCH_NODE_MODULES;
  app.add_option("--runs", runs, "Runs of each (the median is printed)");
  app.add_option("--trace", trace_file, "A sequential editing trace (.json.gz)");
  app.add_option("--node-modules", modules, "node_modules holding yjs (scripts/test.sh installs it)");
  bool without_yjs = false;
  app.add_flag("--without-yjs", without_yjs, "Only Cairn (for profiling)");
  CLI11_PARSE(app, argc, argv);

  const Trace trace = load_trace(trace_file);
  std::size_t patches = 0;
  for (const auto& t : trace.transactions)
    patches += t.size();
  fmt::print("trace {}: {} transactions, {} patches, {} characters at the end\n", trace_file,
             trace.transactions.size(), patches, trace.end.size());
  std::vector<Figures> cairn, yjs;
  for (int i = 0; i < runs; ++i) {
    cairn.push_back(run_cairn(trace));
    if (!without_yjs) yjs.push_back(run_yjs(modules, trace_file));
  }
  print("cairn", cairn);
  if (without_yjs) return 0;
  print("yjs", yjs);
  fmt::print("the same update bytes as Yjs: {}\n",
             cairn.back().update_bytes == yjs.back().update_bytes &&
                     cairn.back().update_hash == yjs.back().update_hash
                 ? "yes"
                 : "NO");
  fmt::print("reproduce: {} --runs {}\n", argv[0], runs);
  return 0;
}
