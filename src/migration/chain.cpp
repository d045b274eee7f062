// Migration chains: their validation, entry-level migration (both ways), whole-store runs, and the
// JSON form of schemas.
#include "migration/chain.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <cairn/error.hpp>
#include <cairn/schema.hpp>
#include <fstream>
#include <sstream>
#include <unordered_map>

namespace cairn {
namespace json = boost::json;

namespace {

const MigrationStep* find_step(const StoreSchema& schema, std::uint32_t from) {
  for (const auto& step : schema.migrations) {
    if (step.from == from) return &step;
  }
  return nullptr;
}

std::string cause_of(const std::exception& e) {
  return e.what();
}

}  // namespace

void validate_migrations(const StoreSchema& schema) {
  const auto& steps = schema.migrations;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const std::uint32_t expected = schema.version - static_cast<std::uint32_t>(steps.size() - i);
    if (steps[i].from < 1 || steps[i].from != expected) {
      throw Error(ErrorCode::invalid_argument,
                  fmt::format("store '{}' at version {}: its {} migration steps must go from "
                              "version {} up to {} in order, one version per step",
                              schema.name, schema.version, steps.size(),
                              schema.version - steps.size(), schema.version));
    }
  }
}

bool can_migrate_entry(const StoreSchema& schema, std::uint32_t from, std::uint32_t to) {
  const bool up = from < to;
  for (std::uint32_t v = std::min(from, to); v < std::max(from, to); ++v) {
    const MigrationStep* step = find_step(schema, v);
    if (step == nullptr) return false;
    for (const auto& op : step->ops) {
      if (!op.per_entry() || (!up && !op.invertible())) return false;
    }
  }
  return true;
}

void for_each_entry_op(const StoreSchema& schema, std::uint32_t from, std::uint32_t to,
                       std::string_view key, const EntryOpVisitor& visit) {
  const auto fail = [&](std::uint32_t a, std::uint32_t b, const std::string& cause) {
    return MigrationError(schema.name, a, b, std::string(key), cause);
  };
  if (from < to) {
    for (std::uint32_t v = from; v < to; ++v) {
      const MigrationStep* step = find_step(schema, v);
      if (step == nullptr) throw fail(v, v + 1, "the store declares no step from this version");
      for (const auto& op : step->ops) {
        if (!op.per_entry()) {
          throw fail(v, v + 1,
                     fmt::format("{} restructures the whole store; single entries "
                                 "cannot be migrated through it",
                                 op.describe()));
        }
        try {
          visit(op, false);
        } catch (const std::exception& e) {
          throw fail(v, v + 1, cause_of(e));
        }
      }
    }
  } else {
    for (std::uint32_t v = from; v > to; --v) {
      const MigrationStep* step = find_step(schema, v - 1);
      if (step == nullptr) throw fail(v, v - 1, "the store declares no step to this version");
      for (auto op = step->ops.rbegin(); op != step->ops.rend(); ++op) {
        if (!op->invertible()) {
          throw fail(v, v - 1, fmt::format("{} is not invertible", op->describe()));
        }
        try {
          visit(*op, true);
        } catch (const std::exception& e) {
          throw fail(v, v - 1, cause_of(e));
        }
      }
    }
  }
}

json::value migrate_entry(const StoreSchema& schema, json::value value, std::uint32_t from,
                          std::uint32_t to, std::string_view key) {
  for_each_entry_op(schema, from, to, key, [&](const MigrationOp& op, bool backward) {
    value = op.apply(std::move(value), backward);
  });
  return value;
}

StoreChanges run_store_migration(const StoreSchema& schema, std::uint32_t stored_version,
                                 std::vector<MigratingEntry>& entries,
                                 const MigrationProgress& progress) {
  const std::uint32_t target = schema.version;
  StoreChanges changes;
  std::vector<bool> alive(entries.size(), true);
  std::size_t total = 0, done = 0;
  std::uint32_t lowest = std::min(stored_version, target);
  for (const auto& entry : entries) {
    if (*entry.version < target) total += target - *entry.version;
    lowest = std::min(lowest, *entry.version);
  }
  std::unordered_map<std::string_view, std::size_t> index;  // built for whole-store steps only

  for (std::uint32_t v = lowest; v < target; ++v) {
    std::vector<std::size_t> batch;  // the entries at version v
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if (alive[i] && *entries[i].version == v) batch.push_back(i);
    }
    std::vector<std::string> created;  // keys created by earlier steps, now at version v
    for (const auto& [key, entry] : changes.created) {
      if (entry.version == v) created.push_back(key);
    }
    if (batch.empty() && created.empty()) continue;
    const MigrationStep* step = find_step(schema, v);
    if (step == nullptr) {
      throw MigrationError(schema.name, v, v + 1,
                           batch.empty() ? created.front() : *entries[batch.front()].key,
                           "the store declares no step from this version");
    }
    for (const auto& op : step->ops) {
      if (op.per_entry()) {
        const auto apply = [&](const std::string& key, json::value& value) {
          try {
            value = op.apply(std::move(value));
          } catch (const std::exception& e) {
            throw MigrationError(schema.name, v, v + 1, key, cause_of(e));
          }
        };
        for (std::size_t i : batch)
          apply(*entries[i].key, *entries[i].value);
        for (const auto& key : created)
          apply(key, changes.created.at(key).value);
        continue;
      }
      // A whole-store step: hand it every entry at this version, then sort out what came back.
      EntryMap all;
      for (std::size_t i : batch)
        all.emplace(*entries[i].key, std::move(*entries[i].value));
      for (const auto& key : created) {
        all.emplace(key, std::move(changes.created.at(key).value));
        changes.created.erase(key);
      }
      try {
        all = op.apply_store(std::move(all));
      } catch (const std::exception& e) {
        throw MigrationError(schema.name, v, v + 1, "", cause_of(e));
      }
      if (index.empty()) {
        for (std::size_t i = 0; i < entries.size(); ++i)
          index.emplace(*entries[i].key, i);
      }
      for (std::size_t i : batch) {
        alive[i] = false;
        changes.dropped.insert(*entries[i].key);
      }
      batch.clear();
      created.clear();
      for (auto& [key, value] : all) {
        auto existing = index.find(key);
        if (existing == index.end()) {
          changes.created[key] = {std::move(value), v};
          created.push_back(key);
          continue;
        }
        const std::size_t i = existing->second;
        if (alive[i] && *entries[i].version != v) {
          throw MigrationError(schema.name, v, v + 1, key,
                               "a whole-store step produced a key that an entry at another "
                               "version holds");
        }
        alive[i] = true;
        changes.dropped.erase(key);
        *entries[i].value = std::move(value);
        batch.push_back(i);
      }
    }
    for (std::size_t i : batch)
      *entries[i].version = v + 1;
    for (const auto& key : created)
      changes.created.at(key).version = v + 1;
    done += batch.size();
    if (progress) progress(done, total);
  }
  if (progress) progress(total, total);
  return changes;
}

std::optional<SuccessionProblem> check_succession(const std::vector<StoreSchema>& previous,
                                                  const std::vector<StoreSchema>& next,
                                                  const StoredVersions& stored) {
  const auto declared = [&](const std::string& name) -> const StoreSchema* {
    for (const StoreSchema& store : next)
      if (store.name == name) return &store;
    return nullptr;
  };
  for (const StoreSchema& before : previous) {
    const StoreSchema* after = declared(before.name);
    if (after == nullptr) {
      return SuccessionProblem{before.name, fmt::format("store '{}' is no longer declared; a "
                                                        "dataset's schema only moves forward",
                                                        before.name)};
    }
    if (after->version < before.version) {
      return SuccessionProblem{
          before.name, fmt::format("store '{}' would go back from version {} to {}", before.name,
                                   before.version, after->version)};
    }
    if (!(after->policy == before.policy)) {
      return SuccessionProblem{before.name,
                               fmt::format("store '{}' would change its merge policy from {} to "
                                           "{}; entries were merged under the first",
                                           before.name, json::serialize(before.policy.to_json()),
                                           json::serialize(after->policy.to_json()))};
    }
    for (const MigrationStep& step : before.migrations) {
      const MigrationStep* kept = find_step(*after, step.from);
      if (kept == nullptr) continue;  // an early step dropped: the entries decide (below)
      const auto ops_json = [](const MigrationStep& s) {
        json::array ops;
        for (const auto& op : s.ops)
          ops.push_back(op.to_json());
        return ops;
      };
      if (ops_json(*kept) != ops_json(step)) {
        return SuccessionProblem{
            before.name, fmt::format("store '{}' would change its step {} -> {}, which devices "
                                     "have already run; declare a new version instead",
                                     before.name, step.from, step.from + 1)};
      }
    }
  }
  for (const auto& [name, versions] : stored) {
    const StoreSchema* store = declared(name);
    if (store == nullptr) continue;  // not translated: no declaration to strand it
    for (const auto& [version, entries] : versions) {
      if (version > store->version) {
        return SuccessionProblem{
            name,
            fmt::format("store '{}' holds {} entries at version {}, newer than the version {} "
                        "declared",
                        name, entries, version, store->version),
            version, entries};
      }
      if (version < store->version && !can_migrate_entry(*store, version, store->version)) {
        return SuccessionProblem{
            name,
            fmt::format("store '{}' holds {} entries at version {}, which its chain cannot take "
                        "to version {}",
                        name, entries, version, store->version),
            version, entries};
      }
    }
  }
  return std::nullopt;
}

std::vector<StoreSchema> schema_from_json(const json::value& value) {
  const auto bad = [](const std::string& why) {
    return Error(ErrorCode::invalid_argument, "invalid schema: " + why);
  };
  const json::object* root = value.if_object();
  const json::value* stores = root ? root->if_contains("stores") : nullptr;
  if (stores == nullptr || !stores->is_object()) {
    throw bad("expected {\"stores\": {name: {\"version\": N, ...}}}");
  }
  std::vector<StoreSchema> schemas;
  for (const auto& [name, body] : stores->get_object()) {
    const json::object* store = body.if_object();
    if (store == nullptr)
      throw bad(fmt::format("store '{}' must be an object", std::string_view(name)));
    StoreSchema schema;
    schema.name = name;
    if (const json::value* version = store->if_contains("version")) {
      if (!version->is_int64() || version->get_int64() < 1 || version->get_int64() > UINT32_MAX) {
        throw bad(fmt::format("store '{}': \"version\" must be a positive integer", schema.name));
      }
      schema.version = static_cast<std::uint32_t>(version->get_int64());
    }
    if (const json::value* policy = store->if_contains("policy")) {
      schema.policy = MergePolicy::from_json(*policy);
    }
    if (const json::value* migrations = store->if_contains("migrations")) {
      if (!migrations->is_array()) {
        throw bad(fmt::format("store '{}': \"migrations\" must be an array", schema.name));
      }
      for (const auto& item : migrations->get_array()) {
        const json::object* step = item.if_object();
        const json::value* from = step ? step->if_contains("from") : nullptr;
        const json::value* ops = step ? step->if_contains("ops") : nullptr;
        if (from == nullptr || !from->is_int64() || from->get_int64() < 1 ||
            from->get_int64() > UINT32_MAX || ops == nullptr || !ops->is_array()) {
          throw bad(fmt::format("store '{}': each migration is {{\"from\": N, \"ops\": [...]}}",
                                schema.name));
        }
        MigrationStep parsed{static_cast<std::uint32_t>(from->get_int64()), {}};
        for (const auto& op : ops->get_array())
          parsed.ops.push_back(MigrationOp::from_json(op));
        schema.migrations.push_back(std::move(parsed));
      }
    }
    if (const json::value* manifest = store->if_contains("manifest")) {
      const json::object* object = manifest->if_object();
      if (object == nullptr) {
        throw bad(fmt::format("store '{}': \"manifest\" must be an object", schema.name));
      }
      ManifestHydration hydration;
      for (const auto& [member, value] : *object) {
        const auto number = value.is_int64() ? value.get_int64() : -1;
        if (member == "ttlSeconds" && number >= 0) {
          hydration.ttl = std::chrono::seconds(number);
        } else if (member == "chunkEntries" && number >= 1 &&
                   number <= ManifestHydration::kMaxChunkEntries) {
          hydration.chunk_entries = static_cast<std::uint32_t>(number);
        } else {
          throw bad(fmt::format(
              "store '{}': \"manifest\" is {{\"ttlSeconds\": >= 0, \"chunkEntries\": 1 to {}}}",
              schema.name, ManifestHydration::kMaxChunkEntries));
        }
      }
      schema.manifest = hydration;
    }
    for (const auto& [member, ignored] : *store) {
      if (member != "version" && member != "policy" && member != "migrations" &&
          member != "manifest") {
        throw bad(fmt::format("store '{}': unknown member \"{}\"", schema.name,
                              std::string_view(member)));
      }
    }
    validate_store_schema(schema);
    schemas.push_back(std::move(schema));
  }
  return schemas;
}

json::value schema_to_json(const std::vector<StoreSchema>& schemas) {
  json::object stores;
  for (const auto& schema : schemas) {
    json::object store{{"version", schema.version}, {"policy", schema.policy.to_json()}};
    if (!schema.migrations.empty()) {
      json::array steps;
      for (const auto& step : schema.migrations) {
        json::array ops;
        for (const auto& op : step.ops)
          ops.push_back(op.to_json());
        steps.push_back(json::object{{"from", step.from}, {"ops", std::move(ops)}});
      }
      store["migrations"] = std::move(steps);
    }
    if (schema.manifest) {
      store["manifest"] = json::object{{"ttlSeconds", schema.manifest->ttl.count()},
                                       {"chunkEntries", schema.manifest->chunk_entries}};
    }
    stores[schema.name] = std::move(store);
  }
  return json::object{{"stores", std::move(stores)}};
}

std::vector<StoreSchema> load_schema_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error(ErrorCode::not_found, fmt::format("cannot read schema file '{}'", path.string()));
  std::ostringstream text;
  text << in.rdbuf();
  std::error_code error;
  json::value value = json::parse(text.str(), error);
  if (error) {
    throw Error(ErrorCode::invalid_argument, fmt::format("schema file '{}' is not valid JSON: {}",
                                                         path.string(), error.message()));
  }
  try {
    return schema_from_json(value);
  } catch (const Error& e) {
    throw Error(e.code(), fmt::format("{}: {}", path.string(), e.what()));
  }
}

}  // namespace cairn
