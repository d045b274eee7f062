// Manifest-first hydration (docs/sync.md, "Large stores: manifests"): a real cairnd publishes a
// store as a manifest of content-addressed chunks; devices that declare the store `manifest`
// leave it out of the change feed, refresh it once their copy is older than its TTL with a
// conditional request (304 when nothing changed), fetch only the chunks whose names changed, and
// apply the refresh in one transaction. Time is one manual clock, the server's and every
// device's. And the endpoints themselves: ETag, deltas, chunks that hash to their names, and each
// refusal.
#include "protocol/manifest.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cairn/cairn.hpp>
#include <optional>
#include <thread>

#include "support/api_client.hpp"
#include "support/in_process_cairnd.hpp"
#include "support/manual_clock.hpp"
#include "support/temp_dir.hpp"

namespace cairn::test {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;

constexpr std::int64_t kMinute = 60 * 1000;

class ManifestTest : public ::testing::Test {
 protected:
  ManifestTest() {
    server::ServerOptions options;
    options.storage.data_dir = dir_ / "data";
    options.storage.durability = Durability::normal;
    options.rate_limit = 0;
    options.clock = clock_;
    options.token_lifetime = std::chrono::hours(24 * 1000);
    options.housekeeping.interval = 0ms;  // rounds run when the test says
    cairnd_.emplace(std::move(options));
    owner_.emplace(ApiClient::guest(cairnd_->port()));
    dataset_ = std::string(
        owner_->post("/api/datasets", json::object{{"name", "team"}}).at("datasetId").as_string());
  }

  // "graph" is hydrated by manifest (30 minutes, a chunk per entry); "notes" follows the feed.
  DatabaseOptions app(std::uint32_t chunk_entries = 1, std::chrono::seconds ttl = 30min) {
    DatabaseOptions options;
    StoreSchema graph{"graph", 1, MergePolicy::whole_entry()};
    graph.manifest = ManifestHydration{ttl, chunk_entries};
    options.stores = {graph, {"notes", 1, MergePolicy::whole_entry()}};
    options.clock = clock_;
    return options;
  }
  Database open(const std::string& name, std::uint32_t chunk_entries = 1,
                std::chrono::seconds ttl = 30min) {
    return Database::open(dir_ / (name + ".db"), app(chunk_entries, ttl));
  }
  SyncReport sync(Database& db) {
    SyncOptions options;
    options.server = "http://127.0.0.1:" + std::to_string(cairnd_->port());
    options.token = owner_->token();
    options.dataset = dataset_;
    options.request_timeout = 5s;
    return SyncClient::sync_once(db, options);
  }
  std::map<std::string, json::value> contents(Database& db, const std::string& store) {
    std::map<std::string, json::value> all;
    for (const std::string& key : db.keys(store))
      all[key] = *db.get(store, key);
    return all;
  }
  std::string manifest_path(const std::string& store = "graph") {
    return "/api/manifest/" + dataset_ + "/" + store;
  }

  TempDir dir_;
  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>();
  std::optional<InProcessCairnd> cairnd_;
  std::optional<ApiClient> owner_;
  std::string dataset_;
};

TEST_F(ManifestTest, AStoreRefreshesAfterItsTtlFetchingOnlyTheChunksThatChanged) {
  Database writer = open("writer");
  for (int i = 0; i < 100; ++i)
    writer.put("graph", "node" + std::to_string(100 + i), json::object{{"edges", i}});
  writer.put("notes", "n1", "first");
  sync(writer);

  // A new device hydrates the store from the manifest: every chunk once.
  Database reader = open("reader");
  const SyncReport first = sync(reader);
  EXPECT_EQ(first.manifests, 1u);
  EXPECT_EQ(first.chunks, 100u);
  EXPECT_EQ(contents(reader, "graph"), contents(writer, "graph"));
  EXPECT_EQ(reader.get("notes", "n1"), json::value("first"));  // the feed, as ever

  // Within the TTL the manifest is not asked for; after it, a 304 costs no chunk.
  const SyncReport within = sync(reader);
  EXPECT_EQ(within.manifests, 0u);
  clock_->advance(31 * kMinute);
  const SyncReport unchanged = sync(reader);
  EXPECT_EQ(unchanged.manifests, 1u);
  EXPECT_EQ(unchanged.chunks, 0u);
  EXPECT_EQ(unchanged.manifest_bytes, 0u);

  // Two entries change, one goes and one comes: the feed does not bring them ...
  writer.put("graph", "node110", json::object{{"edges", -1}});
  writer.put("graph", "node120", json::object{{"edges", -2}});
  writer.erase("graph", "node130");
  writer.put("graph", "node999", json::object{{"edges", 999}});
  writer.put("notes", "n1", "second");
  sync(writer);
  std::vector<std::string> heard;
  Subscription subscription = reader.subscribe("graph", [&](const ChangeSet& changes) {
    EXPECT_EQ(changes.origin, Origin::remote);
    for (const Change& change : changes.changes)
      heard.push_back(change.key);
  });
  const SyncReport early = sync(reader);
  EXPECT_EQ(early.manifests, 0u);
  EXPECT_EQ(reader.get("notes", "n1"), json::value("second"));
  EXPECT_EQ(reader.get("graph", "node110"), json::value({{"edges", 10}}));

  // ... the refresh does, with those four chunks only, in one transaction.
  clock_->advance(31 * kMinute);
  const SyncReport refreshed = sync(reader);
  EXPECT_EQ(refreshed.manifests, 1u);
  EXPECT_EQ(refreshed.chunks, 4u);
  EXPECT_EQ(contents(reader, "graph"), contents(writer, "graph"));
  EXPECT_FALSE(reader.get("graph", "node130"));
  std::sort(heard.begin(), heard.end());
  EXPECT_EQ(heard, (std::vector<std::string>{"node110", "node120", "node130", "node999"}));
}

TEST_F(ManifestTest, WritesGoThroughTheOutboxAndComeBackInTheirChunks) {
  Database writer = open("writer");
  writer.put("graph", "a", "1");
  writer.put("graph", "b", "1");
  sync(writer);
  Database reader = open("reader");
  sync(reader);

  // The reader's write goes out through its outbox; the writer sees it after its own TTL.
  reader.put("graph", "a", "from the reader");
  EXPECT_EQ(sync(reader).sent, 1u);
  clock_->advance(31 * kMinute);
  sync(writer);
  EXPECT_EQ(writer.get("graph", "a"), json::value("from the reader"));

  // A write made offline goes out before the refresh, which changes its neighbours and keeps it.
  writer.erase("graph", "b");
  writer.put("graph", "c", "new");
  sync(writer);
  reader.put("graph", "z", "offline");
  ASSERT_EQ(reader.pending_count(), 1u);
  clock_->advance(31 * kMinute);
  const SyncReport report = sync(reader);
  EXPECT_EQ(report.sent, 1u);
  EXPECT_EQ(reader.keys("graph"), (std::vector<std::string>{"a", "c", "z"}));
  EXPECT_EQ(reader.get("graph", "z"), json::value("offline"));
  EXPECT_EQ(reader.pending_count(), 0u);
}

TEST_F(ManifestTest, WhatTheServerCompactedAwayIsForgottenAndChunksCanHoldManyEntries) {
  Database writer = open("writer", 8);
  for (int i = 0; i < 200; ++i)
    writer.put("graph", "k" + std::to_string(1000 + i), i);
  sync(writer);
  Database reader = open("reader", 8);
  const SyncReport first = sync(reader);
  EXPECT_EQ(contents(reader, "graph").size(), 200u);
  EXPECT_LT(first.chunks, 60u);  // about 200 / 8
  EXPECT_GT(first.chunks, 10u);

  // A delete's tombstone reaches a device in its chunk (one chunk changed, or two when the key
  // deleted was where a chunk was cut and it is now joined to the next).
  Database follower = open("follower", 8);
  sync(follower);
  writer.erase("graph", "k1100");
  sync(writer);
  clock_->advance(31 * kMinute);
  const SyncReport deleted = sync(follower);
  EXPECT_GE(deleted.chunks, 1u);
  EXPECT_LE(deleted.chunks, 2u);
  EXPECT_FALSE(follower.get("graph", "k1100"));
  EXPECT_EQ(follower.store_info("graph").tombstones, 1u);

  // A device that refreshes only after the server dropped the tombstone finds the entry in no
  // chunk: it forgets it, and its subscribers hear it deleted.
  clock_->advance(91LL * 24 * 60 * kMinute);
  ASSERT_EQ(cairnd_->server().housekeep().tombstones, 1u);
  std::vector<std::string> heard;
  Subscription subscription = reader.subscribe("graph", [&](const ChangeSet& changes) {
    for (const Change& change : changes.changes) {
      if (change.deleted()) heard.push_back(change.key);
    }
  });
  const SyncReport compacted = sync(reader);
  EXPECT_EQ(compacted.forgotten, 1u);
  EXPECT_EQ(heard, (std::vector<std::string>{"k1100"}));
  EXPECT_EQ(reader.store_info("graph").tombstones, 0u);
  EXPECT_EQ(contents(reader, "graph"), contents(writer, "graph"));
}

TEST_F(ManifestTest, DevicesRefreshingAtOnceWhileTheStoreChangesEndWithWhatTheServerHolds) {
  Database writer = open("writer", 2);
  for (int i = 0; i < 60; ++i)
    writer.put("graph", "k" + std::to_string(10 + i), i);
  sync(writer);
  // A TTL of 0: every sync refreshes, so the server computes and serves manifests for several
  // devices while the writer's syncs change the store under them.
  std::vector<std::unique_ptr<Database>> readers;
  for (int i = 0; i < 3; ++i)
    readers.push_back(std::make_unique<Database>(open("reader" + std::to_string(i), 2, 0s)));
  std::vector<std::thread> threads;
  threads.emplace_back([&] {
    for (int round = 0; round < 8; ++round) {
      writer.put("graph", "k" + std::to_string(10 + round * 7), json::value(-round));
      writer.erase("graph", "k" + std::to_string(11 + round * 7));
      sync(writer);
    }
  });
  for (auto& reader : readers) {
    threads.emplace_back([&] {
      for (int round = 0; round < 6; ++round) {
        try {
          sync(*reader);
        } catch (const Error& e) {
          // Retryable, and retried by SyncClient: the store changed under each of a refresh's
          // attempts (this test changes it as fast as it can). Anything else is a failure.
          EXPECT_NE(std::string(e.what()).find("kept changing"), std::string::npos) << e.what();
        }
      }
    });
  }
  for (auto& thread : threads)
    thread.join();
  for (auto& reader : readers) {
    EXPECT_EQ(sync(*reader).manifests, 1u);
    EXPECT_EQ(contents(*reader, "graph"), contents(writer, "graph"));
  }
}

TEST_F(ManifestTest, TheEndpointsAnswerWithEtagsDeltasAndChunksThatHashToTheirNames) {
  Database writer = open("writer");
  for (int i = 0; i < 20; ++i)
    writer.put("graph", "key" + std::to_string(10 + i), i);
  sync(writer);

  const ApiResult full = owner_->get(manifest_path() + "?span=1");
  ASSERT_EQ(full.status, 200) << json::serialize(full.body);
  const std::string etag = full.headers.at("etag");
  EXPECT_EQ(etag, "\"" + std::string(full.body.at("etag").as_string()) + "\"");
  EXPECT_EQ(full.body.at("chunks").as_array().size(), 20u);
  EXPECT_EQ(full.body.at("entries"), 20);

  HttpClient http("127.0.0.1", cairnd_->port());
  const std::map<std::string, std::string> auth{{"Authorization", "Bearer " + owner_->token()}};
  auto conditional = auth;
  conditional["If-None-Match"] = etag;
  EXPECT_EQ(http.request("GET", manifest_path() + "?span=1", "", conditional).status, 304);

  // One entry changes: against the old ETag, only what was added and removed.
  writer.put("graph", "key15", "changed");
  sync(writer);
  const HttpResult delta = http.request("GET", manifest_path() + "?span=1", "", conditional);
  ASSERT_EQ(delta.status, 200);
  const json::object changed = json::parse(delta.body).as_object();
  EXPECT_EQ(changed.at("base"), full.body.at("etag"));
  ASSERT_EQ(changed.at("added").as_array().size(), 1u);
  EXPECT_EQ(changed.at("removed").as_array().size(), 1u);

  // The chunk: exactly the bytes its name hashes, holding the entry as the feed describes it.
  const std::string name(changed.at("added").as_array()[0].as_string());
  const HttpResult chunks =
      http.request("POST", manifest_path() + "/chunks",
                   json::serialize(json::object{{"span", 1}, {"chunks", json::array{name}}}), auth);
  ASSERT_EQ(chunks.status, 200);
  EXPECT_EQ(chunks.headers.at("content-type"), "application/octet-stream");
  const auto split = protocol::split_chunks(chunks.body);
  ASSERT_EQ(split.size(), 1u);
  EXPECT_EQ(split[0].first, name);
  protocol::ReplicaInterner replicas;
  const auto items = protocol::decode_chunk(split[0].second, replicas);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].key, "key15");
  EXPECT_EQ(items[0].entry.value, json::value("changed"));
  // A chunk the manifest no longer has is left out; a byte changed in transit is caught.
  const std::string gone(full.body.at("chunks").as_array()[5].as_string());
  const HttpResult stale =
      http.request("POST", manifest_path() + "/chunks",
                   json::serialize(json::object{{"span", 1}, {"chunks", json::array{gone}}}), auth);
  EXPECT_EQ(stale.status, 200);
  EXPECT_TRUE(stale.body.empty());
  // A full sync, too, leaves out the stores a client names as hydrated by manifest.
  const ApiResult whole = owner_->post("/api/sync/full", json::object{{"dataset", dataset_}});
  ASSERT_EQ(whole.status, 200) << json::serialize(whole.body);
  EXPECT_TRUE(whole.body.as_object().contains("graph"));
  const ApiResult without =
      owner_->post("/api/sync/full",
                   json::object{{"dataset", dataset_}, {"manifestStores", json::array{"graph"}}});
  ASSERT_EQ(without.status, 200) << json::serialize(without.body);
  EXPECT_FALSE(without.body.as_object().contains("graph"));

  std::string tampered = chunks.body;
  tampered[tampered.size() - 3] ^= 1;
  EXPECT_THROW(protocol::split_chunks(tampered), Error);
}

TEST_F(ManifestTest, EveryRefusal) {
  // Someone who is not a member of the dataset reads neither its manifest nor its chunks (nor
  // learns that it exists).
  ApiClient stranger = ApiClient::guest(cairnd_->port());
  EXPECT_EQ(stranger.get(manifest_path()).status, 404);
  EXPECT_EQ(
      stranger
          .post(manifest_path() + "/chunks", json::object{{"span", 1}, {"chunks", json::array{}}})
          .status,
      404);
  ApiClient anonymous(cairnd_->port());
  EXPECT_EQ(anonymous.get(manifest_path()).status, 401);

  // Malformed requests.
  EXPECT_EQ(owner_->get(manifest_path() + "?span=0").status, 400);
  EXPECT_EQ(owner_->get(manifest_path() + "?span=5000").status, 400);
  EXPECT_EQ(owner_->get(manifest_path("bad store")).status, 400);
  EXPECT_EQ(
      owner_->post(manifest_path() + "/chunks", json::object{{"chunks", json::array{}}}).status,
      400);
  EXPECT_EQ(owner_
                ->post(manifest_path() + "/chunks",
                       json::object{{"span", 1}, {"chunks", json::array{"not a name"}}})
                .status,
            400);
  json::array many;
  for (int i = 0; i < 1001; ++i)
    many.push_back(json::string(protocol::chunk_hash(std::to_string(i))));
  EXPECT_EQ(
      owner_->post(manifest_path() + "/chunks", json::object{{"span", 1}, {"chunks", many}}).status,
      400);
  EXPECT_EQ(owner_->post(manifest_path(), json::object{}).status, 405);
  EXPECT_EQ(owner_->get("/api/manifest/no-such-dataset/graph").status, 404);

  // And a device asked to hydrate a document store by manifest is refused at open.
  DatabaseOptions options;
  StoreSchema docs{"docs", 1, MergePolicy::document()};
  docs.manifest = ManifestHydration{};
  options.stores = {docs};
  EXPECT_THROW(Database::open(dir_ / "docs.db", options), Error);
}

}  // namespace
}  // namespace cairn::test
