// Property: for random chains of invertible steps over random data of the matching shape,
// migrating forwards and then backwards is the identity. Seeds are fixed and printed; set
// CAIRN_LENS_SEED and CAIRN_LENS_RUNS to replay one or to run longer.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cairn/schema.hpp>
#include <cstdlib>
#include <random>
#include <set>

#include "support/seeds.hpp"

namespace cairn {
namespace {
namespace json = boost::json;

using test::env_or;

// What the generator knows about the shape of the data at the current version.
struct Shape {
  std::set<std::string> plain;                   // top-level fields of any value
  std::set<std::string> objects;                 // top-level plain objects (targets of nested adds)
  std::set<std::string> object_maps;             // objects of objects (can become arrays)
  std::set<std::string> id_arrays;               // arrays of {"id": ...} objects (can become maps)
  std::map<std::string, json::value> constants;  // fields the chain added: same value everywhere
  int next_name = 0;

  std::string fresh() { return "f" + std::to_string(next_name++); }
  bool has(const std::string& f) const {
    return plain.count(f) || objects.count(f) || object_maps.count(f) || id_arrays.count(f);
  }
  void erase(const std::string& f) {
    plain.erase(f);
    objects.erase(f);
    object_maps.erase(f);
    id_arrays.erase(f);
    constants.erase(f);
  }
};

json::value random_scalar(std::mt19937_64& random) {
  switch (random() % 4) {
    case 0:
      return static_cast<std::int64_t>(random() % 1000);
    case 1:
      return json::value(json::string("s" + std::to_string(random() % 100)));
    case 2:
      return random() % 2 == 0;
    default:
      return nullptr;
  }
}

template <class Set>
std::string pick(std::mt19937_64& random, const Set& set) {
  auto it = set.begin();
  std::advance(it, static_cast<long>(random() % set.size()));
  return *it;
}

// Builds a random invertible chain of `steps` steps, updating `shape` as it goes.
std::vector<MigrationStep> random_chain(std::mt19937_64& random, Shape& shape, int steps) {
  std::vector<MigrationStep> chain;
  for (int s = 0; s < steps; ++s) {
    MigrationStep step{static_cast<std::uint32_t>(s + 1), {}};
    const int ops = 1 + static_cast<int>(random() % 3);
    for (int o = 0; o < ops; ++o) {
      switch (random() % 6) {
        case 0: {  // pattern A at the top level
          const std::string name = shape.fresh();
          const json::value value = random_scalar(random);
          step.ops.push_back(MigrationOp::add_field(name, value));
          shape.plain.insert(name);
          shape.constants[name] = value;
          break;
        }
        case 1: {  // pattern A, nested
          if (shape.objects.empty()) break;
          const std::string parent = pick(random, shape.objects);
          step.ops.push_back(
              MigrationOp::add_field(parent + "." + shape.fresh(), random_scalar(random)));
          break;
        }
        case 2: {  // pattern B
          std::set<std::string> all;
          for (const auto* set :
               {&shape.plain, &shape.objects, &shape.object_maps, &shape.id_arrays}) {
            all.insert(set->begin(), set->end());
          }
          if (all.empty()) break;
          const std::string from = pick(random, all);
          const std::string to = shape.fresh();
          step.ops.push_back(MigrationOp::rename_field(from, to));
          for (auto* set : {&shape.plain, &shape.objects, &shape.object_maps, &shape.id_arrays}) {
            if (set->erase(from)) set->insert(to);
          }
          if (auto it = shape.constants.find(from); it != shape.constants.end()) {
            shape.constants[to] = it->second;
            shape.constants.erase(it);
          }
          break;
        }
        case 3: {  // pattern D, as a lens: only fields whose value the chain knows
          if (shape.constants.empty()) break;
          const auto [name, value] = *std::next(
              shape.constants.begin(), static_cast<long>(random() % shape.constants.size()));
          step.ops.push_back(MigrationOp::remove_field(name, value));
          shape.erase(std::string(name));
          break;
        }
        case 4: {  // pattern C
          if (shape.object_maps.empty()) break;
          const std::string name = pick(random, shape.object_maps);
          step.ops.push_back(MigrationOp::object_to_array(name));
          shape.object_maps.erase(name);
          shape.id_arrays.insert(name);
          break;
        }
        default: {  // pattern C, back
          if (shape.id_arrays.empty()) break;
          const std::string name = pick(random, shape.id_arrays);
          step.ops.push_back(MigrationOp::array_to_object(name));
          shape.id_arrays.erase(name);
          shape.object_maps.insert(name);
          break;
        }
      }
    }
    chain.push_back(std::move(step));
  }
  return chain;
}

json::value random_entry(std::mt19937_64& random, const Shape& shape) {
  json::object entry;
  for (const auto& name : shape.plain)
    entry[name] = random_scalar(random);
  for (const auto& name : shape.objects) {
    json::object nested;
    for (int i = 0; i < 2; ++i)
      nested["n" + std::to_string(i)] = random_scalar(random);
    entry[name] = std::move(nested);
  }
  for (const auto& name : shape.object_maps) {
    json::object map;
    const int members = static_cast<int>(random() % 4);
    for (int i = 0; i < members; ++i) {
      map["k" + std::to_string(random() % 1000)] = json::object{{"xp", random() % 100}};
    }
    entry[name] = std::move(map);
  }
  return entry;
}

TEST(LensProperty, ForwardThenBackwardIsTheIdentity) {
  const std::uint64_t base = env_or("CAIRN_LENS_SEED", 4242);
  const std::uint64_t runs = env_or("CAIRN_LENS_RUNS", 500);
  std::size_t ops = 0;
  for (std::uint64_t run = 0; run < runs; ++run) {
    const std::uint64_t seed = base + run;
    SCOPED_TRACE("lens seed " + std::to_string(seed) +
                 " (replay: CAIRN_LENS_SEED=" + std::to_string(seed) + " CAIRN_LENS_RUNS=1)");
    std::mt19937_64 random(seed);
    Shape shape;
    for (int i = 0; i < 3; ++i)
      shape.plain.insert(shape.fresh());
    shape.objects.insert(shape.fresh());
    shape.object_maps.insert(shape.fresh());
    const Shape initial = shape;
    const int steps = 1 + static_cast<int>(random() % 6);
    StoreSchema schema("s", static_cast<std::uint32_t>(steps + 1), {},
                       random_chain(random, shape, steps));
    ASSERT_NO_THROW(validate_store_schema(schema));
    ASSERT_TRUE(can_migrate_entry(schema, schema.version, 1));
    for (const auto& step : schema.migrations)
      ops += step.ops.size();
    for (int e = 0; e < 10; ++e) {
      const json::value original = random_entry(random, initial);
      const json::value up = migrate_entry(schema, original, 1, schema.version);
      const json::value down = migrate_entry(schema, up, schema.version, 1);
      ASSERT_EQ(down, original) << "up: " << json::serialize(up);
    }
  }
  std::cout << "lens property: " << runs << " chains (" << ops << " operations) from seed " << base
            << '\n';
}

}  // namespace
}  // namespace cairn
