// Shared pieces of the benchmarks: journal-like data, timing, percentiles, a scratch directory.
#pragma once

#include <sqlite3.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cairn/cairn.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace cairn::bench {

using Stopwatch = std::chrono::steady_clock;

inline double ms_since(Stopwatch::time_point start) {
  return std::chrono::duration<double, std::milli>(Stopwatch::now() - start).count();
}

inline double percentile(std::vector<double> samples, double p) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  const auto index = static_cast<std::size_t>(p * static_cast<double>(samples.size() - 1) + 0.5);
  return samples[std::min(index, samples.size() - 1)];
}

inline double median(std::vector<double> samples) {
  return percentile(std::move(samples), 0.5);
}

// A journal entry as the roadmap's app writes them: ~200 bytes of JSON.
inline boost::json::value journal_entry(std::mt19937_64& random, std::size_t n) {
  static const char* kWords[] = {"walked", "river", "dinner", "piano",  "scales", "morning",
                                 "tired",  "happy", "rain",   "friend", "book",   "garden",
                                 "coffee", "wrote", "slept",  "ran",    "quiet",  "city"};
  std::string text;
  while (text.size() < 120) {
    text += kWords[random() % std::size(kWords)];
    text += ' ';
  }
  return boost::json::object{
      {"text", text},
      {"mood", static_cast<int>(1 + random() % 5)},
      {"skills", boost::json::array{"running", "cooking"}},
      {"createdAt", "2026-02-" + std::to_string(1 + n % 28) + "T10:00:00Z"},
  };
}

inline std::string journal_key(std::size_t n);

// Writes `count` journal entries (keys journal_key(0) ... journal_key(count - 1)) into the store
// "journal", in transactions of 5,000; `reshape` may change each value before it is written.
inline void fill_journal(Database& db, std::size_t count, std::uint64_t seed,
                         const std::function<void(boost::json::value&)>& reshape = {}) {
  std::mt19937_64 random(seed);
  for (std::size_t n = 0; n < count;) {
    Transaction txn = db.transaction();
    for (int i = 0; i < 5000 && n < count; ++i, ++n) {
      boost::json::value value = journal_entry(random, n);
      if (reshape) reshape(value);
      txn.put("journal", journal_key(n), std::move(value));
    }
    txn.commit();
  }
}

inline std::string journal_key(std::size_t n) {
  char key[40];
  std::snprintf(key, sizeof key, "2026/%02zu/%02zu/%02zu:%02zu-%07zu", 1 + n / 40000 % 12,
                1 + n / 1440 % 28, n / 60 % 24, n % 60, n);
  return key;
}

class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "cairn-bench-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The floor of hydration: what any program must do to have a store's rows (store_id in the
// file's stores table) parsed in memory: a raw SQLite SELECT and a Boost.JSON parse of each value.
// Benchmarks that call it link SQLite::SQLite3.
inline std::size_t floor_load(const std::filesystem::path& path, int store_id) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "SELECT key, value FROM entries WHERE store_id = ?1 ORDER BY key", -1,
                     &stmt, nullptr);
  sqlite3_bind_int(stmt, 1, store_id);
  std::vector<std::pair<std::string, boost::json::value>> rows;
  boost::json::parser parser;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    const auto* key = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    const auto* value = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1));
    parser.reset();
    parser.write(value, static_cast<std::size_t>(sqlite3_column_bytes(stmt, 1)));
    rows.emplace_back(std::string(key, static_cast<std::size_t>(sqlite3_column_bytes(stmt, 0))),
                      parser.release());
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return rows.size();
}

}  // namespace cairn::bench
