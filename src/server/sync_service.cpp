#include "server/sync_service.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <map>

#include "crdt/doc.hpp"
#include "foundation/json_text.hpp"
#include "foundation/limits.hpp"
#include "merge/entry.hpp"
#include "migration/translate.hpp"
#include "protocol/errors.hpp"
#include "protocol/sync_request.hpp"
#include "protocol/sync_response.hpp"
#include "protocol/wire.hpp"
#include "server/auth/tokens.hpp"

namespace cairn::server {
namespace json = boost::json;
using protocol::Code;
using protocol::Refusal;

void check_cursor(std::uint64_t cursor, const DatasetRow& dataset) {
  if (cursor > dataset.last_seq) {
    throw Refusal(Code::cursor_expired,
                  "the cursor is not one this dataset gave out (was it restored?); run a full "
                  "sync");
  }
  if (cursor != 0 && cursor < dataset.retained_seq) {
    throw Refusal(Code::cursor_compacted,
                  fmt::format("deletes after cursor {} were compacted (the dataset keeps the "
                              "feed from position {}); sync again from cursor 0",
                              cursor, dataset.retained_seq),
                  json::object{{"retainedFrom", dataset.retained_seq}});
  }
}

namespace {

merge::Entry to_entry(const EntryRow& row, protocol::ReplicaInterner& replicas) {
  merge::Entry entry;
  entry.deleted = !row.value.has_value();
  if (row.value) entry.value = json::parse(*row.value);
  entry.stamp = {row.hlc, replicas.intern(row.replica)};
  entry.schema_version = row.schema_version;
  if (!row.stamps.empty()) protocol::stamps_from_json(json::parse(row.stamps), entry, replicas);
  return entry;
}

// `text` is the entry's value as JSON when the caller has it already.
EntryRow to_row(std::string_view store, std::string_view key, const merge::Entry& entry,
                std::uint64_t seq, std::optional<std::string> text = std::nullopt) {
  EntryRow row;
  row.store = store;
  row.key = key;
  if (!entry.deleted) row.value = text ? std::move(*text) : json_text(entry.value);
  row.hlc = entry.stamp.hlc;
  row.replica = entry.stamp.replica_view();
  row.schema_version = entry.schema_version;
  const json::object stamps = protocol::stamps_to_json(entry);
  if (!stamps.empty()) row.stamps = json_text(stamps);
  row.seq = seq;
  return row;
}

}  // namespace

protocol::FeedItem feed_item(const EntryRow& row, protocol::ReplicaInterner& replicas) {
  return {row.store, row.key, row.seq, to_entry(row, replicas)};
}

namespace {

// The version of `item`'s store a client running `versions` reads it at, when that is not the
// version it is written at.
std::optional<std::uint32_t> wanted_version(const protocol::FeedItem& item,
                                            const protocol::StoreVersions& versions) {
  const auto wanted = versions.find(item.store);
  if (wanted == versions.end() || wanted->second == item.entry.schema_version) return std::nullopt;
  return wanted->second;
}

// Adds a feed item to what a client running `versions` reads: translated to its version of the
// store (translate.hpp) into `items`, or, when it is written at a newer version that the chain
// cannot take down to the client's, into `held_back`. Entries of stores the client names no
// version of, and older ones the chain cannot take up, go as stored (the client migrates or holds
// them itself).
void serve(protocol::FeedItem item, const DatasetSchema& schema,
           const protocol::StoreVersions& versions, std::vector<protocol::FeedItem>& items,
           std::vector<protocol::HeldBack>& held_back) {
  if (const std::optional<std::uint32_t> wanted = wanted_version(item, versions)) {
    const std::uint32_t written = item.entry.schema_version;
    bool translated = false;
    if (const StoreSchema* declared = schema.store(item.store)) {
      try {
        translate_entry(*declared, item.entry, *wanted, item.key);
        translated = true;
      } catch (const MigrationError&) {
      }
    }
    if (!translated && written > *wanted) {
      held_back.push_back({std::move(item.store), std::move(item.key), written});
      return;
    }
  }
  items.push_back(std::move(item));
}

// The entry that marks document `name` in the feed: its store and key, when the name has that
// form ("<store>/<key>", a valid store name before the first slash).
std::optional<std::pair<std::string_view, std::string_view>> document_entry(std::string_view name) {
  const std::size_t slash = name.find('/');
  if (slash == std::string_view::npos || slash + 1 == name.size()) return std::nullopt;
  try {
    check_store_name(name.substr(0, slash));
  } catch (const Error&) {
    return std::nullopt;
  }
  return std::pair{name.substr(0, slash), name.substr(slash + 1)};
}

merge::Entry document_marker(std::string_view name, std::uint64_t log_seq, merge::Stamp stamp) {
  merge::Entry entry;
  entry.value = json::object{{"document", name}, {"seq", log_seq}};
  entry.deleted = false;
  entry.stamp = stamp;
  entry.schema_version = 1;
  return entry;
}

// Brings an entry and a change to it to one version before they merge, so that the merge compares
// like with like (docs/migrations.md, "Old and new apps at once"): an entry written at an older
// version goes up to the change's, a change from an older client up to the entry's. Versions
// the store's chain does not connect (a step the schema does not declare yet) merge as they are.
// Returns whether the change was rewritten.
bool align_versions(const StoreSchema& schema, merge::Entry& entry, merge::Change& change,
                    std::string_view key) {
  const std::uint32_t written = std::max<std::uint32_t>(change.schema_version, 1);
  const std::uint32_t held = entry.schema_version;
  if (change.op == merge::Change::Op::update || held == 0 || written == held) return false;
  try {
    if (written > held) {
      translate_entry(schema, entry, written, key);
      return false;
    }
    change = translate_change(schema, entry, change, held, key);
    return true;
  } catch (const MigrationError&) {
    return false;
  }
}

// An entry a dataset does not hold, as a change to it finds it: a key whose tombstone compaction
// dropped is taken as deleted at the dataset's floor (the greatest stamp dropped), so that a write
// stamped before that delete cannot bring the entry back.
merge::Entry absent_entry(const DatasetRow& dataset, protocol::ReplicaInterner& replicas) {
  merge::Entry entry;
  if (dataset.floor_hlc.is_zero()) return entry;
  entry.stamp = {dataset.floor_hlc, replicas.intern(dataset.floor_replica)};
  entry.floor = entry.stamp;
  return entry;
}

// The feed after `since` as a client running `versions` reads it (serve): at most `limit`
// entries, whether more wait, and where to continue. The entries of `manifest_stores` are left out
// (the client hydrates them by manifest), though the cursor passes them.
protocol::FeedPage feed_page(StorageTransaction& tx, const std::string& dataset_id,
                             std::uint64_t since, std::size_t limit, std::uint64_t last_seq,
                             const DatasetSchema& schema, const protocol::StoreVersions& versions,
                             const protocol::StoreNames& manifest_stores = {}) {
  const auto rows = tx.changes_since(dataset_id, since, limit + 1);
  protocol::FeedPage page;
  page.has_more = rows.size() > limit;
  std::uint64_t cursor = since;
  for (std::size_t i = 0; i < rows.size() && i < limit; ++i) {
    if (!manifest_stores.contains(rows[i].store)) {
      serve(feed_item(rows[i], page.replicas), schema, versions, page.changes, page.held_back);
    }
    cursor = rows[i].seq;
  }
  page.cursor = page.has_more ? cursor : last_seq;
  return page;
}

// Changes numbered at or below the client's acknowledged point (`applied`) must be resends of what
// the server applied under those numbers. A client whose numbering started again (its database
// restored from a backup, or copied to another device) sends other changes under them;
// acknowledging those would drop them, so they are refused, saying how many of the first ones
// are true resends ("matchedThrough": the client may drop those).
void check_resent(StorageTransaction& tx, const DatasetRow& dataset,
                  const protocol::SyncRequest& request, std::uint64_t applied) {
  for (const protocol::WireChange& change : request.changes) {
    if (change.seq > applied) return;
    // Every numbered change the server applied has its history row (a document update's under
    // the document's name); none for this entry means the change under that number was to
    // another entry.
    const bool update = change.change.op == merge::Change::Op::update;
    const std::optional<HistoryRow> before =
        tx.client_change(dataset.id, update ? "" : change.store,
                         update ? document_name(change.store, change.key) : change.key,
                         request.client_id, change.seq);
    if (before && before->op == merge::op_name(change.change.op) &&
        (change.change.stamp.hlc.is_zero() || before->hlc == change.change.stamp.hlc)) {
      continue;
    }
    throw Refusal(Code::sequence_reused,
                  fmt::format("change {} from client '{}' is not the change the server applied "
                              "under that number: the client's numbering started again (was "
                              "its database restored or copied?); send the changes from {} on "
                              "under a new clientId",
                              change.seq, request.client_id, change.seq),
                  json::object{{"appliedThrough", applied}, {"matchedThrough", change.seq - 1}});
  }
}

}  // namespace

struct SyncService::Applied {
  std::vector<protocol::ConflictResolution> conflicts;
  std::map<std::string, std::uint64_t> documents;  // documents appended to: their last log seq
  std::size_t changed = 0;
  std::uint64_t ack = 0;
  std::uint64_t last_seq = 0;  // the dataset's feed position afterwards
  std::vector<Written> written;
  std::shared_ptr<const DatasetSchema> schema;  // the dataset's, as the transaction read it
};

SyncService::SyncService(Storage& storage, Metrics& metrics, ChangeFeed& feed,
                         std::shared_ptr<Clock> clock, std::vector<StoreSchema> schema,
                         SyncSettings settings)
    : storage_(storage),
      metrics_(metrics),
      feed_(feed),
      clock_(std::move(clock)),
      schemas_(std::move(schema)),
      settings_(std::move(settings)),
      replica_("server-" + random_id(8)) {}

const MergePolicy& SyncService::policy(std::string_view store) const {
  return policy(schemas_.defaults(), store);
}

const MergePolicy& SyncService::policy(const DatasetSchema& schema, std::string_view store) const {
  const StoreSchema* declared = schema.store(store);
  return declared == nullptr ? default_policy_ : declared->policy;
}

// The HLC goes on from the last one any process saved, so that it never runs backwards across
// restarts.
HybridClock& SyncService::hlc(StorageTransaction& tx) {
  std::call_once(hlc_loaded_, [&] { hlc_ = std::make_unique<HybridClock>(clock_, tx.clock()); });
  return *hlc_;
}

void SyncService::announce(std::string_view dataset_id, std::uint64_t position) {
  feed_.committed(dataset_id, position);
}

// Applies a request's changes inside `tx`: checks clocks and sequence numbers, merges each change
// into its entry, records history and conflicts, and moves the dataset's feed forward.
SyncService::Applied SyncService::apply(StorageTransaction& tx, const Caller& caller,
                                        const DatasetRow& dataset, protocol::SyncRequest& request) {
  Applied result;
  result.last_seq = dataset.last_seq;
  result.schema = schemas_.of(tx, dataset.id);
  const DatasetSchema& schema = *result.schema;
  HybridClock& hlc = this->hlc(tx);
  const std::uint64_t wall = hlc.physical_now_ms();
  const auto skew = static_cast<std::uint64_t>(settings_.max_clock_skew.count());
  for (const auto& change : request.changes) {
    if (change.change.stamp.hlc.physical_ms() > wall + skew) {
      throw Refusal(Code::clock_skew,
                    fmt::format("the change to {}/{} is stamped {} ms ahead of the server's "
                                "clock (at most {} ms are accepted); fix the device's clock",
                                change.store, change.key,
                                change.change.stamp.hlc.physical_ms() - wall, skew));
    }
  }

  const std::uint64_t applied =
      request.client_id.empty() ? 0 : tx.applied_seq(dataset.id, request.client_id);
  result.ack = applied;
  if (request.numbered) {
    const std::uint64_t first = request.changes.front().seq;
    const std::uint64_t last = request.changes.back().seq;
    if (first <= applied) check_resent(tx, dataset, request, applied);
    if (last <= applied) {  // all applied before: acknowledge, apply nothing
      result.last_seq = dataset.last_seq;
      return result;
    }
    if (first != applied + 1) {
      throw Refusal(Code::sequence_gap,
                    fmt::format("changes {}..{} do not follow the last change applied for "
                                "client '{}', which is {}; resend from {}",
                                first, last, request.client_id, applied, applied + 1),
                    json::object{{"expected", applied + 1}});
    }
  }

  const std::uint64_t cursor = request.cursor.value_or(0);
  std::uint64_t seq = dataset.last_seq;
  protocol::ReplicaInterner replicas;
  const std::int64_t server_ms = now_ms();

  // Every entry the request touches, read in one go; then each as the changes before it in the
  // request left it. What changed is written at the end, in one go too (each entry once).
  struct Touched {
    std::optional<EntryRow> row;
    std::uint64_t before = 0;   // its feed position before this request; 0: it did not exist
    bool stamped_here = false;  // a change to it came without a clock
  };
  std::map<std::pair<std::string_view, std::string_view>, Touched> current;
  {
    std::vector<EntryKey> keys;
    for (const auto& wire : request.changes) {
      if (current.try_emplace({wire.store, wire.key}).second)
        keys.push_back({wire.store, wire.key});
    }
    std::vector<std::optional<EntryRow>> rows = tx.entries(dataset.id, keys);
    for (std::size_t i = 0; i < keys.size(); ++i) {
      Touched& touched = current[{keys[i].store, keys[i].key}];
      if (rows[i]) touched.before = rows[i]->seq;
      touched.row = std::move(rows[i]);
    }
  }
  std::vector<HistoryRow> history;
  history.reserve(request.changes.size());

  for (auto& wire : request.changes) {
    merge::Change& change = wire.change;
    Touched& touched = current.at({wire.store, wire.key});
    if (change.stamp.hlc.is_zero()) {
      change.stamp.hlc = hlc.now();  // the client sent no clock: stamped on receipt
      touched.stamped_here = true;
    } else {
      hlc.receive(change.stamp.hlc);  // the server's clock moves past every clock it sees
    }

    std::optional<EntryRow>& row = touched.row;
    if (change.op == merge::Change::Op::update) {
      const std::string name = document_name(wire.store, wire.key);
      const std::uint64_t log_seq =
          append_update(tx, caller, dataset, request, wire, name, server_ms, history);
      if (log_seq != 0) {  // appended (not already there)
        row = to_row(wire.store, wire.key, document_marker(name, log_seq, change.stamp), ++seq);
        result.documents[name] = log_seq;
        ++result.changed;
      }
      continue;
    }
    merge::Entry entry = row ? to_entry(*row, replicas) : absent_entry(dataset, replicas);
    // A put's payload is {"value": V}; when V becomes the entry's value as sent, its text serves
    // both.
    std::string value_text =
        change.op == merge::Change::Op::put ? json_text(change.value) : std::string();
    // The history keeps the change as the client sent it, in its own version.
    std::string sent = change.op == merge::Change::Op::put
                           ? "{\"value\":" + value_text + "}"
                           : json_text(merge::change_payload(change));
    if (const StoreSchema* declared = schema.store(wire.store);
        declared && align_versions(*declared, entry, change, wire.key) &&
        change.op == merge::Change::Op::put) {
      value_text = json_text(change.value);
    }
    // Moves a put's value into the entry; value_text stands for it from here on.
    const merge::Applied outcome =
        merge::apply_change(entry, std::move(change), policy(schema, wire.store));
    std::string resolution;
    if (outcome.rejected) {
      resolution = "server-won";
    } else if (outcome.changed && row && row->replica != change.stamp.replica_view() &&
               row->seq > cursor) {
      resolution = "client-won";  // it replaced a write this client had not seen
    }
    if (outcome.changed) {
      std::optional<std::string> text;
      if (!entry.deleted) {
        text = outcome.verbatim ? value_text : json_text(entry.value);
        if (text->size() > settings_.limits.max_value_bytes) {
          throw Refusal(Code::value_too_large,
                        fmt::format("{}/{} would hold {} bytes, over the limit of {}", wire.store,
                                    wire.key, text->size(), settings_.limits.max_value_bytes));
        }
      }
      row = to_row(wire.store, wire.key, entry, ++seq, std::move(text));
      ++result.changed;
    }
    history.push_back(
        {0, dataset.id, wire.store, wire.key, outcome.changed ? seq : 0, caller.user_id,
         request.client_id, wire.seq, change.stamp.hlc, std::string(change.stamp.replica_view()),
         server_ms, std::string(merge::op_name(change.op)), std::move(sent),
         outcome.rejected ? (outcome.changed ? "partial" : "rejected") : "applied", resolution});
    if (!resolution.empty()) {
      result.conflicts.push_back({wire.store, wire.key, resolution});
      metrics_.count_conflict(resolution);
    }
  }
  // Each entry this request changed, once, as it ends up (its positions are above the dataset's
  // before), in feed order.
  std::vector<EntryRow> entries;
  for (auto& [key, touched] : current) {
    if (!touched.row || touched.row->seq <= dataset.last_seq) continue;
    result.written.push_back({touched.before, touched.row->seq, !touched.stamped_here});
    entries.push_back(std::move(*touched.row));
  }
  std::sort(entries.begin(), entries.end(),
            [](const EntryRow& a, const EntryRow& b) { return a.seq < b.seq; });
  std::sort(result.written.begin(), result.written.end(),
            [](const Written& a, const Written& b) { return a.seq < b.seq; });
  if (!entries.empty()) tx.put_entries(dataset.id, entries);
  if (!history.empty()) tx.append_history(history);
  if (request.numbered) {
    result.ack = request.changes.back().seq;
    tx.set_applied_seq(dataset.id, request.client_id, result.ack);
  }
  if (seq != dataset.last_seq) tx.set_last_seq(dataset.id, seq);
  result.last_seq = seq;
  tx.save_clock(hlc.last());
  metrics_.count_changes(result.changed);
  return result;
}

// A document update a sync request carries: checked, appended to the document's log with its
// history row; the log position it took (0: not appended, as it adds nothing to the document
// its editors hold).
std::uint64_t SyncService::append_update(StorageTransaction& tx, const Caller& caller,
                                         const DatasetRow& dataset,
                                         const protocol::SyncRequest& request,
                                         const protocol::WireChange& wire, const std::string& name,
                                         std::int64_t server_ms, std::vector<HistoryRow>& history) {
  const merge::Change& change = wire.change;
  if (!valid_document_name(name)) {
    throw Refusal(Code::invalid_key,
                  fmt::format("{}/{} cannot name a document: at most 256 characters of "
                              "A-Z a-z 0-9 _ - . : /",
                              wire.store, wire.key));
  }
  if (change.update.size() > settings_.max_update_bytes) {
    throw Refusal(Code::payload_too_large,
                  fmt::format("the update to document '{}' holds {} bytes, over the limit of {}",
                              name, change.update.size(), settings_.max_update_bytes));
  }
  try {
    crdt::encode_state_vector_from_update_v1(crdt::bytes_of(change.update));
  } catch (const crdt::DecodeError& e) {
    throw Refusal(Code::invalid_request,
                  fmt::format("the update to document '{}' does not decode: {}", name, e.what()));
  }
  const bool adds = !adds_to_document_ || adds_to_document_(dataset.id, name, change.update);
  const std::uint64_t log_seq =
      adds ? tx.append_document_update(dataset.id, name,
                                       {0, change.update, caller.user_id, server_ms})
           : 0;
  history.push_back({0, dataset.id, "", name, log_seq, caller.user_id, request.client_id, wire.seq,
                     change.stamp.hlc, std::string(change.stamp.replica_view()), server_ms,
                     "update", json_text(json::object{{"bytes", change.update.size()}}),
                     adds ? "applied" : "unchanged", ""});
  return log_seq;
}

std::uint64_t SyncService::mark_document(StorageTransaction& tx, const std::string& dataset_id,
                                         std::string_view name, std::uint64_t log_seq) {
  const auto entry = document_entry(name);
  if (!entry) return 0;
  const std::optional<DatasetRow> dataset = tx.dataset(dataset_id);
  if (!dataset) return 0;
  HybridClock& hlc = this->hlc(tx);
  protocol::ReplicaInterner replicas;
  const std::uint64_t seq = dataset->last_seq + 1;
  tx.put_entry(dataset_id,
               to_row(entry->first, entry->second,
                      document_marker(name, log_seq, {hlc.now(), replicas.intern(replica_)}), seq));
  tx.set_last_seq(dataset_id, seq);
  tx.save_clock(hlc.last());
  return seq;
}

void SyncService::documents_moved(const std::string& dataset_id, const Applied& applied) {
  if (!document_moved_) return;
  for (const auto& [name, log_seq] : applied.documents)
    document_moved_(dataset_id, name, log_seq);
}

protocol::FullResponse SyncService::full(const Caller& caller, const Authorizer& authorize,
                                         json::object& body) {
  auto tx = storage_.begin(true);
  const DatasetRow dataset = authorize(*tx);  // before looking at what the request holds
  protocol::ReplicaInterner replicas;
  protocol::SyncRequest request =
      protocol::decode_full_request(body, settings_.limits, replicas, "user:" + caller.user_id);
  Applied applied = apply(*tx, caller, dataset, request);

  protocol::FullResponse response;
  for (const EntryRow& row : tx->all_entries(dataset.id)) {
    response.cursor = std::max(response.cursor, row.seq);
    if (request.manifest_stores.contains(row.store)) continue;  // hydrated by manifest
    serve(feed_item(row, response.replicas), *applied.schema, request.versions, response.entries,
          response.held_back);
  }
  tx->commit();
  tx.reset();  // the storage's lock goes before the documents' (their updates take it under theirs)
  documents_moved(dataset.id, applied);
  if (applied.last_seq != dataset.last_seq) announce(dataset.id, applied.last_seq);
  response.server_time = now_ms();
  response.conflicts = std::move(applied.conflicts);
  response.client_id = request.client_id;
  return response;
}

protocol::PatchResponse SyncService::patch(const Caller& caller, const Authorizer& authorize,
                                           json::object& body, const OnCommit& on_commit) {
  auto tx = storage_.begin(true);
  const DatasetRow dataset = authorize(*tx);  // before looking at what the request holds
  protocol::ReplicaInterner replicas;
  protocol::SyncRequest request =
      protocol::decode_patch_request(body, settings_.limits, replicas, "user:" + caller.user_id);
  if (request.cursor) check_cursor(*request.cursor, dataset);
  Applied applied = apply(*tx, caller, dataset, request);

  protocol::PatchResponse response;
  if (!request.client_id.empty()) response.ack = applied.ack;
  response.server_time = now_ms();
  response.cursor = applied.last_seq;
  if (request.cursor) {
    response.page =
        feed_page(*tx, dataset.id, *request.cursor, settings_.page_size, applied.last_seq,
                  *applied.schema, request.versions, request.manifest_stores);
  }
  response.conflicts = std::move(applied.conflicts);
  tx->commit();
  tx.reset();  // the storage's lock goes before the documents' (their updates take it under theirs)
  documents_moved(dataset.id, applied);
  if (on_commit) on_commit(dataset.id, applied.written);
  if (applied.last_seq != dataset.last_seq) announce(dataset.id, applied.last_seq);
  return response;
}

protocol::FeedPage SyncService::changes(const DatasetRow& dataset, std::uint64_t since,
                                        std::size_t limit,
                                        const protocol::StoreVersions& versions) {
  limit = std::clamp<std::size_t>(limit, 1, settings_.page_size);
  auto tx = storage_.begin(false);
  const std::optional<DatasetRow> current = tx->dataset(dataset.id);
  check_cursor(since, *current);
  return feed_page(*tx, dataset.id, since, limit, current->last_seq, *schemas_.of(*tx, dataset.id),
                   versions);
}

std::optional<protocol::FeedPage> SyncService::translated(const std::string& dataset_id,
                                                          const protocol::FeedPage& page,
                                                          const protocol::StoreVersions& versions) {
  if (std::none_of(page.changes.begin(), page.changes.end(), [&](const protocol::FeedItem& item) {
        return wanted_version(item, versions).has_value();
      })) {
    return std::nullopt;
  }
  std::shared_ptr<const DatasetSchema> schema;
  {
    auto tx = storage_.begin(false);
    schema = schemas_.of(*tx, dataset_id);
  }
  protocol::FeedPage served;  // its items' stamps point into page.replicas
  served.has_more = page.has_more;
  served.cursor = page.cursor;
  served.held_back = page.held_back;
  for (const protocol::FeedItem& item : page.changes)
    serve(item, *schema, versions, served.changes, served.held_back);
  return served;
}

std::uint64_t SyncService::compact_tombstones(std::chrono::milliseconds retention,
                                              std::size_t batch) {
  const std::int64_t cutoff_ms = now_ms() - retention.count();
  if (cutoff_ms <= 0 || batch == 0) return 0;
  const Timestamp before(static_cast<std::uint64_t>(cutoff_ms), 0);
  constexpr std::size_t kDatasetsPerRead = 100;
  std::uint64_t dropped = 0;
  std::string after;
  while (true) {
    const std::vector<std::string> ids =
        storage_.begin(false)->datasets_with_tombstones(before, after, kDatasetsPerRead);
    for (const std::string& id : ids) {
      std::size_t taken = batch;
      while (taken == batch) {
        taken = retry_conflicts([&] {
          auto tx = storage_.begin(true);
          const std::optional<DatasetRow> dataset = tx->dataset(id);  // excludes its writers
          if (!dataset) return std::size_t{0};
          const std::vector<EntryRow> rows = tx->tombstones_before(id, before, batch);
          if (rows.empty()) return std::size_t{0};
          std::uint64_t retained = dataset->retained_seq;
          Timestamp floor_hlc = dataset->floor_hlc;
          std::string floor_replica = dataset->floor_replica;
          std::vector<EntryKey> keys;
          keys.reserve(rows.size());
          for (const EntryRow& row : rows) {
            keys.push_back({row.store, row.key});
            retained = std::max(retained, row.seq);
            if (std::tie(row.hlc, row.replica) > std::tie(floor_hlc, floor_replica)) {
              floor_hlc = row.hlc;
              floor_replica = row.replica;
            }
          }
          tx->erase_entries(id, keys);
          tx->set_compaction(id, retained, floor_hlc, floor_replica);
          tx->commit();
          return rows.size();
        });
        dropped += taken;
      }
    }
    if (ids.size() < kDatasetsPerRead) break;
    after = ids.back();
  }
  metrics_.count_tombstones_dropped(dropped);
  return dropped;
}

protocol::DatasetSchemaMessage SyncService::dataset_schema(const Authorizer& authorize) {
  auto tx = storage_.begin(false);
  const DatasetRow dataset = authorize(*tx);
  return schemas_.describe(*tx, dataset);
}

protocol::DatasetSchemaMessage SyncService::publish_schema(const Caller& caller,
                                                           const Authorizer& authorize,
                                                           const json::value& body) {
  auto tx = storage_.begin(true);
  const DatasetRow dataset = authorize(*tx);  // excludes the dataset's writers until the commit
  protocol::DatasetSchemaMessage published =
      schemas_.publish(*tx, dataset, caller.user_id, body, now_ms());
  tx->commit();
  return published;
}

protocol::HistoryMessage SyncService::history(const DatasetRow& dataset, std::string_view store,
                                              std::string_view key, std::size_t limit) {
  auto tx = storage_.begin(false);
  protocol::HistoryMessage history{std::string(store), std::string(key), {}};
  for (HistoryRow& row : tx->history(dataset.id, store, key, limit)) {
    history.versions.push_back({row.id, std::move(row.op), std::move(row.payload), row.hlc,
                                std::move(row.replica), std::move(row.user_id), row.server_ms,
                                std::move(row.outcome), row.seq, std::move(row.client_id),
                                row.client_seq, std::move(row.resolution)});
  }
  return history;
}

std::uint64_t SyncService::seed_profile(StorageTransaction& tx, const std::string& dataset_id,
                                        const std::string& user_id) {
  HybridClock& hlc = this->hlc(tx);
  protocol::ReplicaInterner replicas;
  const std::string* replica = replicas.intern(replica_);
  std::uint64_t seq = 0;
  for (const auto& [store, entries] : settings_.profile_template) {
    if (!entries.is_object()) continue;
    for (const auto& [key, value] : entries.get_object()) {
      merge::Change change;
      change.op = merge::Change::Op::put;
      change.value = value;
      // Defaults, stamped at the dawn of time: any write a device made, even before it first
      // synced, wins over them.
      change.stamp = {Timestamp(1, static_cast<std::uint32_t>(seq)), replica};
      change.schema_version = 1;
      merge::Entry entry;
      merge::apply_change(entry, change, policy(store));
      tx.put_entry(dataset_id, to_row(store, key, entry, ++seq));
      tx.append_history({0, dataset_id, store, key, seq, user_id, "", 0, change.stamp.hlc, replica_,
                         now_ms(), "put", json_text(merge::change_payload(change)), "applied", ""});
    }
  }
  if (seq != 0) tx.set_last_seq(dataset_id, seq);
  tx.save_clock(hlc.last());
  return seq;
}

}  // namespace cairn::server
