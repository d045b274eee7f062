// The chaos test's plan: what step n of a worker does, drawn from the worker's seed, so that the
// worker (which runs it, and resumes after being killed) and the test (which checks the result)
// agree without talking.
#pragma once

#include <cairn/cairn.hpp>
#include <cstdint>
#include <random>
#include <string>

namespace cairn::test::chaos {

inline DatabaseOptions stores() {
  DatabaseOptions options;
  options.stores = {{"journal", 1, MergePolicy::whole_entry()},
                    {"userInformation", 1, MergePolicy::per_field()},
                    {"playerStatistics", 1, MergePolicy::per_field({"xp"})},
                    {"progress", 1, MergePolicy::whole_entry()}};
  return options;
}

struct Step {
  enum class Kind { put, erase, set_field, increment } kind;
  std::string key;
  std::int64_t number;  // the value put or set, or the increment
};

inline Step plan(std::uint64_t seed, std::int64_t n) {
  std::mt19937_64 random(seed * 1'000'003 + static_cast<std::uint64_t>(n));
  const auto pick = random() % 10;
  const std::string key = "k" + std::to_string(random() % 4);
  if (pick < 3) return {Step::Kind::put, key, static_cast<std::int64_t>(random() % 1000)};
  if (pick < 4) return {Step::Kind::erase, key, 0};
  if (pick < 6) {
    return {Step::Kind::set_field, "f" + std::to_string(random() % 3),
            static_cast<std::int64_t>(random() % 1000)};
  }
  return {Step::Kind::increment, "xp", 1 + static_cast<std::int64_t>(random() % 5)};
}

// Runs step n in `txn`, with the worker's progress written in the same transaction.
inline void run(Transaction& txn, const std::string& worker, std::uint64_t seed, std::int64_t n) {
  const Step step = plan(seed, n);
  switch (step.kind) {
    case Step::Kind::put:
      txn.put("journal", step.key, boost::json::object{{"by", worker}, {"n", step.number}});
      break;
    case Step::Kind::erase:
      txn.erase("journal", step.key);
      break;
    case Step::Kind::set_field: {
      auto current = txn.get("userInformation", "shared");
      boost::json::object value =
          current && current->is_object() ? current->as_object() : boost::json::object{};
      value[step.key] = step.number;
      txn.put("userInformation", "shared", std::move(value));
      break;
    }
    case Step::Kind::increment:
      txn.increment("playerStatistics", "shared", "xp", step.number);
      break;
  }
  txn.put("progress", worker, n);
}

// The sum of the increments of steps 1..n.
inline std::int64_t increments(std::uint64_t seed, std::int64_t n) {
  std::int64_t total = 0;
  for (std::int64_t i = 1; i <= n; ++i) {
    const Step step = plan(seed, i);
    if (step.kind == Step::Kind::increment) total += step.number;
  }
  return total;
}

}  // namespace cairn::test::chaos
