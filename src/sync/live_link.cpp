#include "sync/live_link.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <variant>

#include "foundation/overloaded.hpp"
#include "protocol/live.hpp"
#include "protocol/sync_request.hpp"
#include "sync/sync_engine.hpp"

namespace cairn {
namespace json = boost::json;

namespace {

// The link cannot go on: the sync client falls back to an HTTP sync, which settles what it can.
[[noreturn]] void fall_back(const std::string& why) {
  throw SyncFailure{true, "live channel: " + why, 0, ErrorCode::unavailable};
}

}  // namespace

LiveLink::LiveLink(StoreEngine& db, const SyncOptions& options,
                   std::unique_ptr<net::WebSocketClient> socket, std::string dataset,
                   std::string cursor)
    : db_(db), options_(options), socket_(std::move(socket)), dataset_(std::move(dataset)) {
  try {
    // This replica's own writes are in the database already: not pushed back (echo false).
    socket_->send(protocol::encode_client_message(
        protocol::SubscribeMessage{dataset_, protocol::parse_cursor(cursor.empty() ? "0" : cursor),
                                   false, db_.declared_versions()}));
  } catch (const net::WebSocketClosed& closed) {
    fall_back(closed.what());
  }
}

bool LiveLink::settled() const {
  return in_flight_.empty() && db_.pending_count() == 0;
}

void LiveLink::set_presence(const json::object& state) {
  try {
    socket_->send(protocol::encode_client_message(protocol::PresenceMessage{dataset_, state}));
  } catch (const net::WebSocketClosed&) {
    // the next pump reports the end of the link
  }
}

void LiveLink::send_outbox(SyncReport& report) {
  while (in_flight_.size() < std::max<std::size_t>(options_.batches_in_flight, 1)) {
    const std::uint64_t after =
        in_flight_.empty() ? db_.acknowledged_through() : in_flight_.back().last_seq;
    const OutboxBatch outbox = outbox_batch(db_, options_, after, dataset_, "");
    if (outbox.changes == 0) return;
    const Batch batch{next_id_++, outbox.last_seq, outbox.changes};
    socket_->send(protocol::encode_patch_message(batch.id, outbox.body));
    in_flight_.push_back(batch);
    report.sent += batch.changes;
  }
}

void LiveLink::pump(std::chrono::milliseconds timeout, SyncReport& report) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + timeout;
  try {
    send_outbox(report);
    for (;;) {
      const auto left =
          std::max(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()),
                   std::chrono::milliseconds(0));
      const std::optional<std::string> text = socket_->receive(left);
      if (!text) return;  // the time is up, or interrupted
      const bool was_settled = settled();
      handle(*text, report);
      send_outbox(report);
      if (!was_settled && settled()) return;  // the outbox has drained: worth telling
      if (peers_changed_) return;             // so is presence
      if (db_.has_stale_documents()) return;  // documents to fetch (SyncEngine::fetch_documents)
      if (Clock::now() >= deadline) return;
    }
  } catch (const net::WebSocketClosed& closed) {
    if (closed.code() == protocol::kCloseUnauthorized) {
      throw SyncFailure{false, fmt::format("live channel: {}", closed.what()), 0,
                        ErrorCode::unauthorized};
    }
    fall_back(closed.code() == 0 ? closed.what()
                                 : fmt::format("closed ({}): {}", closed.code(), closed.what()));
  } catch (const Error& e) {  // a malformed message: not a server we know
    fall_back(fmt::format("the server's message could not be used: {}", e.what()));
  }
}

void take_page(protocol::FeedPage& page, std::vector<StoreEngine::RemoteEntry>& entries) {
  for (protocol::FeedItem& item : page.changes) {
    entries.push_back({std::move(item.store), std::move(item.key), std::move(item.entry)});
  }
  for (protocol::HeldBack& held : page.held_back) {
    merge::Entry entry;
    entry.schema_version = held.version;
    entries.push_back({std::move(held.store), std::move(held.key), std::move(entry), true});
  }
}

// Pushes are applied, like an HTTP sync's answer, only once every change of this replica they
// hold is acknowledged, and with the pending changes they do not hold rebased on them: a push may
// come before the ack of a batch it holds (rebasing the batch, still pending, on it would count
// the batch twice), and a push from before a batch's commit must not be applied after its ack
// (it would put back the entry's older state). So while batches are in flight, pushes wait; an
// ack releases those from before the batch's commit, merged ahead of it in the same transaction.
std::vector<StoreEngine::RemoteEntry> LiveLink::release_held(std::optional<std::uint64_t> until,
                                                             LocalFile::SyncState& state) {
  std::vector<StoreEngine::RemoteEntry> entries;
  while (!held_.empty() && (!until || held_.front().page.cursor < *until)) {
    protocol::ChangesMessage& changes = held_.front();
    take_page(changes.page, entries);
    state.cursor = std::to_string(changes.page.cursor);
    released_.push_back(std::move(changes));
    held_.pop_front();
  }
  return entries;
}

void LiveLink::apply(std::uint64_t acked, std::vector<StoreEngine::RemoteEntry> entries,
                     LocalFile::SyncState state, SyncReport& report,
                     std::vector<StoreEngine::RemoteEntry> before_ack) {
  if (released_.empty() && acked <= db_.acknowledged_through()) return;  // nothing to do
  const auto arrived = [](const std::vector<StoreEngine::RemoteEntry>& list) {
    return std::ranges::count_if(list, [](const auto& entry) { return !entry.held_back; });
  };
  report.received += arrived(entries) + arrived(before_ack);
  const auto applied =
      db_.apply_sync(acked, std::move(entries), std::move(state), std::move(before_ack));
  released_.clear();
  report.acknowledged += applied.acknowledged;
  report.applied += applied.applied;
  report.held_back += applied.held;
  report.skipped += applied.skipped;
}

void LiveLink::handle(const std::string& text, SyncReport& report) {
  protocol::ServerMessage message = protocol::decode_server_message(text);
  std::visit(
      Overloaded{
          [&](protocol::SubscribedMessage&) {},
          [&](protocol::ChangesMessage& changes) {
            if (changes.dataset != dataset_) return;
            held_.push_back(std::move(changes));
            if (!in_flight_.empty()) return;
            LocalFile::SyncState state = db_.sync_state();
            std::vector<StoreEngine::RemoteEntry> entries = release_held(std::nullopt, state);
            apply(db_.acknowledged_through(), std::move(entries), std::move(state), report);
          },
          [&](protocol::PresenceUpdate& update) {
            if (update.dataset != dataset_) return;
            std::erase_if(peers_, [&](const Peer& peer) {
              return std::find(update.left.begin(), update.left.end(), peer.connection) !=
                     update.left.end();
            });
            for (protocol::PresencePeer& peer : update.peers) {
              auto it = std::find_if(peers_.begin(), peers_.end(), [&](const Peer& known) {
                return known.connection == peer.connection;
              });
              if (it == peers_.end())
                it = peers_.insert(peers_.end(), Peer{peer.connection, {}, {}});
              it->user_id = std::move(peer.user_id);
              it->state = std::move(peer.state);
            }
            peers_changed_ = true;
          },
          [&](protocol::AckMessage& ack) {
            if (in_flight_.empty() || in_flight_.front().id != ack.id) {
              fall_back(
                  fmt::format("an acknowledgement of patch {} that was not expected", ack.id));
            }
            const Batch batch = in_flight_.front();
            in_flight_.pop_front();
            const std::uint64_t acked = ack.body.ack.value_or(0);
            const std::uint64_t before = db_.acknowledged_through();
            // Less than was sent, or less than the server acknowledged before (it was restored
            // from a backup): the HTTP sync settles the numbering.
            if (acked < batch.last_seq || acked < before) {
              fall_back(fmt::format("the server acknowledged {} where {} was sent", acked,
                                    batch.last_seq));
            }
            report.conflicts += ack.body.conflicts.size();
            // The pushes held while this batch was unacknowledged: first those from before its
            // commit, with the batch still pending (they do not hold it); then the ack; then,
            // when nothing else is in flight, the rest (which hold it, no longer pending).
            LocalFile::SyncState state = db_.sync_state();
            std::vector<StoreEngine::RemoteEntry> older = release_held(ack.body.cursor, state);
            std::vector<StoreEngine::RemoteEntry> newer;
            if (in_flight_.empty()) newer = release_held(std::nullopt, state);
            apply(acked, std::move(newer), std::move(state), report, std::move(older));
          },
          [&](protocol::LiveError& error) {
            fall_back(fmt::format("{} ({}){}", error.message, protocol::code_name(error.code),
                                  error.id ? fmt::format(", patch {}", *error.id) : ""));
          },
      },
      message);
}

}  // namespace cairn
