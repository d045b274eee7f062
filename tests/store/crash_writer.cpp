// crash_writer DB — the child process of crash_test. Commits transactions in a loop, forever, and
// reports each one on stdout ("committed N") only after commit() has returned. The parent
// SIGKILLs it at a random moment.
//
// Transaction N (numbered from 1, continuing from what the database already holds) puts
// journal "n/<N>" = {"n": N, "pad": <seeded size>}, increments playerStatistics "total".xp by 1
// and puts aiConfig "latest" = N.
#include <unistd.h>

#include <cairn/cairn.hpp>
#include <cstdio>
#include <random>
#include <string>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: crash_writer DB SEED\n");
    return 2;
  }
  cairn::DatabaseOptions options;
  options.stores = {{"journal", 1, cairn::MergePolicy::whole_entry()},
                    {"playerStatistics", 1, cairn::MergePolicy::per_field({"xp"})},
                    {"aiConfig", 1, cairn::MergePolicy::whole_entry()}};
  options.limits.max_store_bytes = std::size_t{1}
                                   << 32;  // trials accumulate; quotas are not tested here
  cairn::Database db = cairn::Database::open(argv[1], options);
  std::mt19937_64 random(std::stoull(argv[2]));
  std::uniform_int_distribution<int> pad_size(0, 4 * 1024);  // big values force checkpoints
  for (std::int64_t n = static_cast<std::int64_t>(db.size("journal")) + 1;; ++n) {
    cairn::Transaction txn = db.transaction();
    txn.put("journal", "n/" + std::to_string(n),
            boost::json::object{{"n", n}, {"pad", std::string(pad_size(random), 'p')}});
    txn.increment("playerStatistics", "total", "xp", 1);
    txn.put("aiConfig", "latest", n);
    txn.commit();
    const std::string line = "committed " + std::to_string(n) + "\n";
    if (::write(STDOUT_FILENO, line.data(), line.size()) < 0) return 1;
  }
}
