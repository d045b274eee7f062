// `cairn migrate`, `cairn backups`, `cairn restore`: schema migrations from the command line.
#include "cli/migrate_command.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <cairn/database.hpp>

#include "cli/command.hpp"
#include "cli/json_diff.hpp"
#include "cli/table.hpp"
#include "foundation/json_text.hpp"
#include "migration/chain.hpp"

namespace cairn::cli {
namespace json = boost::json;

namespace {

// What migrating one store would do, worked out without writing anything.
struct StorePlan {
  std::string store;
  std::string action;  // create, up-to-date, migrate, newer, impossible
  std::uint32_t from = 0, to = 0;
  std::vector<std::string> steps;  // "1 -> 2: add info.createdAt = ..."
  std::string problem;             // why it cannot migrate, or how it would fail
  struct Sample {
    std::string key;
    json::value before, after;
    std::vector<std::string> diff;
  };
  std::vector<Sample> samples;
  std::size_t entries = 0;
};

StorePlan plan_store(const Database& db, const StoreSchema& schema, std::size_t sample_count) {
  StorePlan plan{schema.name, "", 0, schema.version, {}, {}, {}, 0};
  const auto recorded = db.stores();
  auto it = std::find_if(recorded.begin(), recorded.end(),
                         [&](const StoreInfo& info) { return info.schema.name == schema.name; });
  if (it == recorded.end()) {
    plan.action = "create";
    return plan;
  }
  plan.from = it->stored_version;
  plan.entries = it->entries;
  if (plan.from == schema.version) {
    plan.action = "up-to-date";
    return plan;
  }
  if (plan.from > schema.version) {
    plan.action = "newer";
    plan.problem = fmt::format(
        "the data is at version {}, newer than the schema's {}; the store "
        "would open read-only (schema_too_new) and nothing is changed",
        plan.from, schema.version);
    return plan;
  }
  for (const auto& step : schema.migrations) {
    if (step.from < plan.from) continue;
    std::string ops;
    for (const auto& op : step.ops)
      ops += (ops.empty() ? "" : "; ") + op.describe();
    plan.steps.push_back(fmt::format("{} -> {}: {}", step.from, step.from + 1, ops));
  }
  if (schema.migrations.empty() || schema.migrations.front().from > plan.from) {
    plan.action = "impossible";
    plan.problem =
        fmt::format("no migration steps start at version {} (migration_required)", plan.from);
    return plan;
  }
  plan.action = "migrate";

  // Run the chain over a copy of the whole store, so that the dry run finds failures too.
  std::vector<std::string> keys;
  std::vector<json::value> values;
  std::vector<std::uint32_t> versions;
  db.for_each(schema.name, [&](std::string_view key, const json::value& value) {
    keys.emplace_back(key);
    values.push_back(value);
    versions.push_back(db.entry_info(schema.name, key)->schema_version);
    return true;
  });
  std::vector<MigratingEntry> work;
  for (std::size_t i = 0; i < keys.size(); ++i)
    work.push_back({&keys[i], &values[i], &versions[i]});
  const std::size_t shown = std::min(sample_count, keys.size());
  std::vector<json::value> before(values.begin(), values.begin() + static_cast<long>(shown));
  try {
    const StoreChanges changes = run_store_migration(schema, plan.from, work, {});
    for (std::size_t i = 0; i < shown; ++i) {
      if (changes.dropped.count(keys[i])) {
        plan.samples.push_back({keys[i], before[i], nullptr, {"(removed by the migration)"}});
      } else {
        plan.samples.push_back({keys[i], before[i], values[i], json_diff(before[i], values[i])});
      }
    }
    if (!changes.created.empty()) {
      plan.steps.push_back(fmt::format("(whole-store steps add {} keys and remove {})",
                                       changes.created.size(), changes.dropped.size()));
    }
  } catch (const MigrationError& e) {
    plan.problem = std::string("would fail: ") + e.what();
  }
  return plan;
}

json::value plan_json(const StorePlan& plan) {
  json::array samples;
  for (const auto& sample : plan.samples) {
    json::array diff;
    for (const auto& line : sample.diff)
      diff.emplace_back(line);
    samples.push_back(json::object{{"key", sample.key},
                                   {"before", sample.before},
                                   {"after", sample.after},
                                   {"diff", std::move(diff)}});
  }
  json::array steps;
  for (const auto& step : plan.steps)
    steps.emplace_back(step);
  json::object object{{"store", plan.store},
                      {"action", plan.action},
                      {"from", plan.from},
                      {"to", plan.to},
                      {"entries", plan.entries},
                      {"steps", std::move(steps)},
                      {"samples", std::move(samples)}};
  if (!plan.problem.empty()) object["problem"] = plan.problem;
  return object;
}

void print_plan(const StorePlan& plan, std::ostream& out) {
  if (plan.action == "create") {
    out << plan.store << ": new store, created at version " << plan.to << '\n';
    return;
  }
  if (plan.action == "up-to-date") {
    out << plan.store << ": up to date at version " << plan.to << '\n';
    return;
  }
  out << plan.store << ": version " << plan.from << " -> " << plan.to << " (" << plan.entries
      << " entries)\n";
  for (const auto& step : plan.steps)
    out << "  step " << step << '\n';
  if (!plan.problem.empty()) out << "  " << plan.problem << '\n';
  for (const auto& sample : plan.samples) {
    out << "  sample '" << sample.key << "':\n";
    if (sample.diff.empty()) out << "    (unchanged)\n";
    for (const auto& line : sample.diff)
      out << "    " << line << '\n';
  }
}

}  // namespace

int migrate(const std::string& path, const std::string& schema_file, bool dry_run,
            std::size_t samples, bool as_json, std::ostream& out) {
  const std::vector<StoreSchema> schemas = load_schema_file(schema_file);
  std::vector<StorePlan> plans;
  {
    Database db = Database::open(path, read_only_options());
    for (const auto& schema : schemas)
      plans.push_back(plan_store(db, schema, samples));
  }
  const bool impossible = std::any_of(plans.begin(), plans.end(), [](const StorePlan& p) {
    return p.action == "impossible" || !p.problem.empty();
  });
  if (dry_run) {
    if (as_json) {
      json::array list;
      for (const auto& plan : plans)
        list.push_back(plan_json(plan));
      out << json_text(json::object{{"dryRun", true}, {"stores", std::move(list)}}) << '\n';
    } else {
      out << "dry run: nothing is changed\n\n";
      for (const auto& plan : plans)
        print_plan(plan, out);
    }
    return impossible ? 1 : 0;
  }

  DatabaseOptions options = writable_options();
  options.stores = schemas;
  std::vector<MigrationEvent> finished;
  options.on_migration = [&](const MigrationEvent& event) {
    if (event.kind == MigrationEvent::Kind::finished) finished.push_back(event);
    if (!as_json && event.kind == MigrationEvent::Kind::progress && event.entries_total >= 1000) {
      out << fmt::format("  {}: {}/{} entries\n", event.store, event.entries_done,
                         event.entries_total);
    }
  };
  Database db = Database::open(path, std::move(options));
  const auto backups = db.backups();
  json::array report;
  for (const auto& event : finished) {
    std::int64_t backup = 0;
    for (const auto& b : backups) {
      if (b.store == event.store) backup = b.id;
    }
    if (as_json) {
      report.push_back(json::object{{"store", event.store},
                                    {"from", event.from_version},
                                    {"to", event.to_version},
                                    {"entries", event.entries_done},
                                    {"milliseconds", event.elapsed.count()},
                                    {"backup", backup}});
    } else {
      out << fmt::format("{}: migrated {} -> {} ({} entries, {} ms), backup {}\n", event.store,
                         event.from_version, event.to_version, event.entries_done,
                         event.elapsed.count(), backup);
    }
  }
  if (as_json) {
    out << json_text(json::object{{"dryRun", false}, {"migrated", std::move(report)}}) << '\n';
  } else if (finished.empty()) {
    out << "nothing to migrate\n";
  }
  return 0;
}

void list_backups(const std::string& path, bool as_json, std::ostream& out) {
  Database db = Database::open(path, read_only_options());
  const auto backups = db.backups();
  if (as_json) {
    json::array list;
    for (const auto& b : backups) {
      list.push_back(json::object{{"id", b.id},
                                  {"store", b.store},
                                  {"from", b.from_version},
                                  {"to", b.to_version},
                                  {"entries", b.entries},
                                  {"created", b.created.to_string()}});
    }
    out << json_text(json::object{{"backups", std::move(list)}}) << '\n';
    return;
  }
  if (backups.empty()) {
    out << "no backups\n";
    return;
  }
  Table table({"ID", "STORE", "VERSION", "MIGRATED TO", "ENTRIES", "CREATED"});
  for (const auto& b : backups) {
    table.add({std::to_string(b.id), b.store, std::to_string(b.from_version),
               std::to_string(b.to_version), std::to_string(b.entries), b.created.to_string()});
  }
  table.print(out);
}

void restore(const std::string& path, const std::string& store, std::int64_t backup, bool as_json,
             std::ostream& out) {
  Database::restore_backup(path, store, backup);
  if (as_json) {
    out << json_text(json::object{{"restored", backup}, {"store", store}}) << '\n';
  } else {
    out << "restored store '" << store << "' from backup " << backup << '\n';
  }
}

}  // namespace cairn::cli
