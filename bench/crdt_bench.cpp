// Cairn's Yjs-compatible CRDT (src/crdt) beside Yjs itself, measured in the same run: the B4
// editing trace (bench/data/automerge-paper.json.gz) replayed as local edits, its state encoded,
// that update applied to a fresh document, and the memory the replayed document holds; and
// scenarios of the crdt-benchmarks suite (B1: one user, B2: two users concurrently, B3: many
// users), the same operations generated once here and replayed by both.
// Yjs runs under Node (bench/js/crdt_peer.cjs) with the npm packages scripts/test.sh installs into
// build/js. Figures go to docs/BENCHMARKS.md.
//
//   build/release/bench/crdt_bench [--runs 3] [--only b4|scenarios] [--trace FILE.json.gz]
//                                  [--node-modules DIR]
#include <fmt/format.h>
#include <malloc.h>
#include <zlib.h>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
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
  if (text.to_string() != trace.end)
    throw std::runtime_error("the replay does not end at endContent");
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

// What Node printed for `command` (crdt_peer.cjs).
std::string node_output(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run node");
  std::string out;
  char buffer[4096];
  while (std::size_t n = fread(buffer, 1, sizeof buffer, pipe))
    out.append(buffer, n);
  if (pclose(pipe) != 0) throw std::runtime_error("node failed: " + command);
  return out;
}

Figures run_yjs(const std::string& modules, const std::string& trace_file) {
  const json::value v = json::parse(
      node_output(fmt::format("NODE_PATH='{}' node --expose-gc '{}' trace '{}'", modules,
                              CAIRN_BENCH_JS_DIR "/crdt_peer.cjs", trace_file)));
  return {v.at("replayMs").to_number<double>(),
          v.at("encodeMs").to_number<double>(),
          v.at("applyMs").to_number<double>(),
          v.at("updateBytes").to_number<std::size_t>(),
          static_cast<std::size_t>(std::max(0.0, v.at("memoryBytes").to_number<double>())),
          v.at("updateHash").to_number<std::uint32_t>()};
}

void print(const char* who, const std::vector<Figures>& runs) {
  std::vector<double> replay, encode, apply, memory;
  for (const Figures& f : runs) {
    replay.push_back(f.replay_ms);
    encode.push_back(f.encode_ms);
    apply.push_back(f.apply_ms);
    memory.push_back(static_cast<double>(f.memory_bytes));  // V8's heap figure varies by run
  }
  fmt::print(
      "{:<6} replay {:>9.1f} ms   encode {:>7.2f} ms   apply {:>8.2f} ms   update {:>8} B   "
      "memory {:>6.2f} MB\n",
      who, median(replay), median(encode), median(apply), runs.back().update_bytes,
      median(memory) / 1e6);
}

// --- crdt-benchmarks scenarios ---

// One operation of a scenario: on the Text "text", the Array "array" or the Map "map".
struct Op {
  std::string kind;  // insert, delete, push (array insert), remove (array delete), set
  std::uint64_t index = 0;
  std::uint64_t length = 0;
  std::string text;  // insert: text; set: the key
  double number = 0;
};

struct Scenario {
  std::string name;
  std::vector<std::vector<Op>> peers;  // each peer's operations, each its own transaction
  bool apply_all_to_first = false;     // B3: the others' updates applied to the first peer
};

std::vector<Scenario> scenarios(std::size_t n) {
  std::mt19937_64 random(42);
  const auto below = [&](std::uint64_t bound) { return bound == 0 ? 0 : random() % bound; };
  const auto letter = [&] { return std::string(1, static_cast<char>('a' + below(26))); };
  const auto word = [&] {
    std::string w;
    for (auto i = 2 + below(8); i > 0; --i)
      w += letter();
    return w + " ";
  };
  std::vector<Scenario> out;
  {
    Scenario b{"B1.1 append N characters", {{}}, false};
    for (std::size_t i = 0; i < n; ++i)
      b.peers[0].push_back({"insert", i, 0, letter(), 0});
    out.push_back(std::move(b));
  }
  {
    Scenario b{"B1.4 insert N characters at random positions", {{}}, false};
    for (std::size_t i = 0; i < n; ++i)
      b.peers[0].push_back({"insert", below(i + 1), 0, letter(), 0});
    out.push_back(std::move(b));
  }
  {
    Scenario b{"B1.7 insert/delete strings at random positions", {{}}, false};
    std::uint64_t length = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (length > 0 && below(2) == 0) {
        const auto index = below(length);
        const auto take = 1 + below(std::min<std::uint64_t>(length - index, 10));
        b.peers[0].push_back({"delete", index, take, "", 0});
        length -= take;
      } else {
        const std::string w = word();
        b.peers[0].push_back({"insert", below(length + 1), 0, w, 0});
        length += w.size();
      }
    }
    out.push_back(std::move(b));
  }
  {
    Scenario b{"B1.11 insert N numbers at random positions (Array)", {{}}, false};
    for (std::size_t i = 0; i < n; ++i)
      b.peers[0].push_back({"push", below(i + 1), 0, "", static_cast<double>(below(1000))});
    out.push_back(std::move(b));
  }
  {
    Scenario b{"B2.2 two users insert N characters at random positions", {{}, {}}, false};
    for (auto& peer : b.peers) {
      for (std::size_t i = 0; i < n / 2; ++i)
        peer.push_back({"insert", below(i + 1), 0, letter(), 0});
    }
    out.push_back(std::move(b));
  }
  {
    Scenario b{"B2.4 two users insert and delete at random positions", {{}, {}}, false};
    for (auto& peer : b.peers) {
      std::uint64_t length = 0;
      for (std::size_t i = 0; i < n / 2; ++i) {
        if (length > 0 && below(2) == 0) {
          peer.push_back({"delete", below(length), 1, "", 0});
          --length;
        } else {
          const std::string w = word();
          peer.push_back({"insert", below(length + 1), 0, w, 0});
          length += w.size();
        }
      }
    }
    out.push_back(std::move(b));
  }
  const auto users = static_cast<std::size_t>(std::sqrt(static_cast<double>(n)) * 20);
  {
    Scenario b{"B3.1 20*sqrt(N) users set a number in a Map", {}, true};
    for (std::size_t u = 0; u < users; ++u)
      b.peers.push_back({{"set", 0, 0, "v", static_cast<double>(u)}});
    out.push_back(std::move(b));
  }
  {
    Scenario b{"B3.4 20*sqrt(N) users insert text in a Text", {}, true};
    for (std::size_t u = 0; u < users; ++u)
      b.peers.push_back({{"insert", 0, 0, word(), 0}});
    out.push_back(std::move(b));
  }
  return out;
}

json::value to_json(const std::vector<Scenario>& list) {
  json::array out;
  for (const Scenario& scenario : list) {
    json::array peers;
    for (const auto& ops : scenario.peers) {
      json::array peer;
      for (const Op& op : ops) {
        peer.push_back(json::array{json::value(op.kind), json::value(op.index),
                                   json::value(op.length), json::value(op.text),
                                   json::value(op.number)});
      }
      peers.push_back(std::move(peer));
    }
    out.push_back(json::object{{"name", scenario.name},
                               {"peers", std::move(peers)},
                               {"applyAllToFirst", scenario.apply_all_to_first}});
  }
  return out;
}

struct ScenarioFigures {
  double ms = 0;
  std::size_t bytes = 0;
  std::uint32_t hash = 0;
};

// Each peer makes its operations; then two peers exchange their states, or the first is given
// every other's update. The time of it all; the size of the first peer's state at the end.
ScenarioFigures run_scenario(const Scenario& scenario) {
  const auto start = Stopwatch::now();
  std::vector<std::unique_ptr<crdt::Doc>> docs;
  for (std::size_t p = 0; p < scenario.peers.size(); ++p) {
    docs.push_back(std::make_unique<crdt::Doc>(p + 1));
    crdt::Doc& doc = *docs.back();
    crdt::Type& text = doc.get("text", crdt::TypeKind::text);
    crdt::Type& array = doc.get("array", crdt::TypeKind::array);
    crdt::Type& map = doc.get("map", crdt::TypeKind::map);
    for (const Op& op : scenario.peers[p]) {
      if (op.kind == "insert") {
        doc.text_insert(text, op.index, op.text);
      } else if (op.kind == "delete") {
        doc.text_delete(text, op.index, op.length);
      } else if (op.kind == "push") {
        doc.array_insert(array, op.index, {crdt::Any(op.number)});
      } else if (op.kind == "set") {
        doc.map_set(map, op.text, crdt::Any(op.number));
      }
    }
  }
  if (scenario.apply_all_to_first) {
    for (std::size_t p = 1; p < docs.size(); ++p)
      docs[0]->apply_update_v1(docs[p]->encode_state_as_update_v1());
  } else if (docs.size() == 2) {
    const crdt::Bytes a = docs[0]->encode_state_as_update_v1();
    const crdt::Bytes b = docs[1]->encode_state_as_update_v1();
    docs[0]->apply_update_v1(b);
    docs[1]->apply_update_v1(a);
  }
  const double ms = ms_since(start);
  const crdt::Bytes state = docs[0]->encode_state_as_update_v1();
  return {ms, state.size(), fnv1a(state)};
}

void run_scenarios(const std::string& modules, int runs, bool without_yjs) {
  const std::size_t n = 6000;
  const std::vector<Scenario> list = scenarios(n);
  const std::string file = "/tmp/cairn-crdt-scenarios-" + std::to_string(getpid()) + ".json";
  std::ofstream(file) << json::serialize(to_json(list));
  fmt::print("\ncrdt-benchmarks scenarios, N = {} (medians of {}; ms of operations and syncing)\n",
             n, runs);
  fmt::print("{:<55} {:>10} {:>10} {:>10} {:>10}  same bytes\n", "", "cairn ms", "yjs ms",
             "cairn B", "yjs B");
  json::array yjs_runs;
  if (!without_yjs) {
    for (int r = 0; r < runs; ++r) {
      yjs_runs.push_back(
          json::parse(node_output(fmt::format("NODE_PATH='{}' node '{}' scenarios '{}'", modules,
                                              CAIRN_BENCH_JS_DIR "/crdt_peer.cjs", file))));
    }
  }
  for (std::size_t i = 0; i < list.size(); ++i) {
    std::vector<double> cairn_ms, yjs_ms;
    ScenarioFigures cairn;
    for (int r = 0; r < runs; ++r) {
      cairn = run_scenario(list[i]);
      cairn_ms.push_back(cairn.ms);
    }
    std::size_t yjs_bytes = 0;
    std::uint32_t yjs_hash = 0;
    for (const auto& run : yjs_runs) {
      const json::object& figures = run.as_array()[i].as_object();
      yjs_ms.push_back(figures.at("ms").to_number<double>());
      yjs_bytes = figures.at("bytes").to_number<std::size_t>();
      yjs_hash = figures.at("hash").to_number<std::uint32_t>();
    }
    fmt::print(
        "{:<55} {:>10.2f} {:>10.2f} {:>10} {:>10}  {}\n", list[i].name, median(cairn_ms),
        median(yjs_ms), cairn.bytes, yjs_bytes,
        without_yjs ? "-" : (cairn.bytes == yjs_bytes && cairn.hash == yjs_hash ? "yes" : "NO"));
  }
  std::remove(file.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Cairn's CRDT beside Yjs on the B4 editing trace");
  int runs = 3;
  std::string trace_file = CAIRN_BENCH_DATA_DIR "/automerge-paper.json.gz";
  std::string modules = CAIRN_BENCH_NODE_MODULES;
  app.add_option("--runs", runs, "Runs of each (the median is printed)");
  app.add_option("--trace", trace_file, "A sequential editing trace (.json.gz)");
  app.add_option("--node-modules", modules,
                 "node_modules holding yjs (scripts/test.sh installs it)");
  bool without_yjs = false;
  app.add_flag("--without-yjs", without_yjs, "Only Cairn (for profiling)");
  std::string only;
  app.add_option("--only", only, "b4 or scenarios (default: both)")
      ->check(CLI::IsMember({"b4", "scenarios"}));
  CLI11_PARSE(app, argc, argv);
  if (only == "scenarios") {
    run_scenarios(modules, runs, without_yjs);
    return 0;
  }

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
  if (without_yjs) {
    if (only.empty()) run_scenarios(modules, runs, without_yjs);
    return 0;
  }
  print("yjs", yjs);
  fmt::print("the same update bytes as Yjs: {}\n",
             cairn.back().update_bytes == yjs.back().update_bytes &&
                     cairn.back().update_hash == yjs.back().update_hash
                 ? "yes"
                 : "NO");
  if (only.empty()) run_scenarios(modules, runs, without_yjs);
  fmt::print("reproduce: {} --runs {}\n", argv[0], runs);
  return 0;
}
