// SyncService — the data side of cairnd: merging what clients send (POST /api/sync/full and
// /api/sync/patch), the change feed (GET /api/sync/changes), history (GET /api/history), and
// seeding new users' datasets from the profile template.
//
// Merging uses src/merge (the same rules as every client) with the server as the authority on
// policies: the schema file's, and for stores it does not declare, per-field LWW (which merges
// values that are not objects whole).
//
// Exactly once: a client numbers its changes; per dataset and client the server records the
// highest number applied, in the same transaction that applies them. A request whose changes are
// all at or below that number is acknowledged without applying anything; one that does not start
// right after it is refused (409 sequence_gap, with the number expected).
//
// Every commit that moves a dataset's feed is announced to the ChangeFeed once it is durable.
// Time comes from the injected Clock; the stamps the service issues carry its own replica id,
// new for each SyncService (so for each cairnd process), so that processes sharing one database
// never issue the same (hlc, replica).
//
// Thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cairn/schema.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "foundation/hybrid_clock.hpp"
#include "protocol/datasets.hpp"
#include "protocol/sync_request.hpp"
#include "protocol/sync_response.hpp"
#include "server/accounts.hpp"
#include "server/change_feed.hpp"
#include "server/dataset_schemas.hpp"
#include "server/metrics.hpp"
#include "server/storage/storage.hpp"

namespace cairn::server {

struct SyncSettings {
  Limits limits;                                         // keys and values
  std::chrono::milliseconds max_clock_skew{5 * 60'000};  // clocks further ahead are refused
  std::size_t page_size = 1000;                          // changes per response, at most
  boost::json::object profile_template;                  // {store: {key: value}} for new users
  std::size_t max_update_bytes = 64 * 1024 * 1024;       // a document update, at most
};

// Refusal(cursor_expired) for a cursor beyond the dataset's feed (it never gave it out: a
// restored server), Refusal(cursor_compacted, {"retainedFrom"}) for one below what compaction
// kept; cursor 0 (the feed from its beginning) is always valid.
void check_cursor(std::uint64_t cursor, const DatasetRow& dataset);

// An entry as the change feed, full sync and manifests' chunks describe it.
protocol::FeedItem feed_item(const EntryRow& row, protocol::ReplicaInterner& replicas);

class SyncService {
 public:
  SyncService(Storage& storage, Metrics& metrics, ChangeFeed& feed, std::shared_ptr<Clock> clock,
              std::vector<StoreSchema> schema, SyncSettings settings);

  // Decides, inside the request's own transaction, which dataset it works on (or throws).
  using Authorizer = std::function<DatasetRow(StorageTransaction& tx)>;

  // Decode the request (throwing protocol::Refusal), apply it, answer.
  protocol::FullResponse full(const Caller& caller, const Authorizer& authorize,
                              boost::json::object& body);
  // An entry a request wrote: its feed position before (0: it did not exist) and now, and
  // whether its state is the writer's own doing as sent — every change to it carried the
  // writer's clock, none was stamped by the server.
  struct Written {
    std::uint64_t before = 0;
    std::uint64_t seq = 0;
    bool as_sent = true;
  };
  // Called with the dataset and what a patch wrote once it has committed, before the change feed
  // hears of it.
  using OnCommit =
      std::function<void(const std::string& dataset, const std::vector<Written>& written)>;
  protocol::PatchResponse patch(const Caller& caller, const Authorizer& authorize,
                                boost::json::object& body, const OnCommit& on_commit = {});
  // The feed after `since`, each entry translated to the `versions` the client runs (none: as
  // stored); entries it cannot read are listed as held back.
  protocol::FeedPage changes(const DatasetRow& dataset, std::uint64_t since, std::size_t limit,
                             const protocol::StoreVersions& versions = {});
  // `page`, read with no versions, as a client running `versions` reads it (what changes() would
  // have read for it); nullopt when that is `page` itself. The live channel's pushes read the
  // feed once for every subscriber.
  std::optional<protocol::FeedPage> translated(const std::string& dataset_id,
                                               const protocol::FeedPage& page,
                                               const protocol::StoreVersions& versions);
  // Tombstone compaction (docs/sync.md, "Deletes and compaction"): drops, in every dataset, the
  // tombstones stamped more than `retention` ago, at most `batch` per transaction, and records
  // for each dataset how far its feed is retained and the greatest stamp it dropped (writes
  // stamped at or before it to a key the dataset no longer holds lose, as to the delete itself).
  // Returns how many it dropped.
  std::uint64_t compact_tombstones(std::chrono::milliseconds retention, std::size_t batch = 1000);
  protocol::HistoryMessage history(const DatasetRow& dataset, std::string_view store,
                                   std::string_view key, std::size_t limit);
  // A dataset's schema (docs/migrations.md, "Old and new apps at once"): GET and PUT
  // /api/datasets/:id/schema, each in its own transaction (see DatasetSchemas::publish).
  protocol::DatasetSchemaMessage dataset_schema(const Authorizer& authorize);
  protocol::DatasetSchemaMessage publish_schema(const Caller& caller, const Authorizer& authorize,
                                                const boost::json::value& body);

  // Seeds a new dataset inside the caller's transaction; returns the dataset's feed position
  // afterwards (0 when the template is empty), which the caller announces once it has committed.
  std::uint64_t seed_profile(StorageTransaction& tx, const std::string& dataset_id,
                             const std::string& user_id);
  // Tells the change feed that a committed transaction moved `dataset_id`'s feed to `position`.
  void announce(std::string_view dataset_id, std::uint64_t position);

  // Documents (docs/collaboration.md). A document named "<store>/<key>" is entry `key` of store
  // `store` in the change feed, and a sync change "update" to that entry is an update of the
  // document: appended to its log in the request's transaction (exactly once, as every change).
  // The entry itself only marks the document's log position: {"document": name, "seq": N}.
  //
  // In the transaction that appended update `log_seq` to document `name` (the collaborative
  // documents' own path): moves its entry in the feed; the feed position it took, which the
  // caller announces once committed (0: the name is not "<store>/<key>", no entry).
  std::uint64_t mark_document(StorageTransaction& tx, const std::string& dataset_id,
                              std::string_view name, std::uint64_t log_seq);
  // Told, once a sync request that appended updates to documents has committed, of each
  // document and the log position its last update took (the loaded copies read their log on).
  using DocumentMoved = std::function<void(const std::string& dataset_id, const std::string& name,
                                           std::uint64_t log_seq)>;
  void on_document_moved(DocumentMoved listener) { document_moved_ = std::move(listener); }
  // Asked whether a document update adds anything to the document as its editors have it: one
  // that does not (the device's session sent it already) is recorded in the history, as
  // "unchanged", but not appended again.
  using DocumentFilter = std::function<bool(const std::string& dataset_id, const std::string& name,
                                            std::string_view update)>;
  void on_document_update(DocumentFilter adds) { adds_to_document_ = std::move(adds); }

  // Milliseconds since the Unix epoch, from the injected clock.
  std::int64_t now_ms() const { return static_cast<std::int64_t>(clock_->now_ms()); }
  const std::string& replica() const { return replica_; }

  // The store's merge policy in the server's default schema, or in a dataset's.
  const MergePolicy& policy(std::string_view store) const;
  const MergePolicy& policy(const DatasetSchema& schema, std::string_view store) const;
  const SyncSettings& settings() const { return settings_; }

 private:
  struct Applied;
  Applied apply(StorageTransaction& tx, const Caller& caller, const DatasetRow& dataset,
                protocol::SyncRequest& request);
  HybridClock& hlc(StorageTransaction& tx);
  std::uint64_t append_update(StorageTransaction& tx, const Caller& caller,
                              const DatasetRow& dataset, const protocol::SyncRequest& request,
                              const protocol::WireChange& wire, const std::string& name,
                              std::int64_t server_ms, std::vector<HistoryRow>& history);
  void documents_moved(const std::string& dataset_id, const Applied& applied);

  Storage& storage_;
  Metrics& metrics_;
  ChangeFeed& feed_;
  std::shared_ptr<Clock> clock_;
  DatasetSchemas schemas_;
  SyncSettings settings_;
  MergePolicy default_policy_ = MergePolicy::per_field();
  std::once_flag hlc_loaded_;
  std::unique_ptr<HybridClock> hlc_;
  const std::string replica_;
  DocumentMoved document_moved_;
  DocumentFilter adds_to_document_;
};

}  // namespace cairn::server
