// LiveLink — the sync client's live connection to cairnd (GET /api/live, docs/protocol.md): the
// dataset's changes arrive by push and are applied as they come (origin remote); the outbox
// drains over the socket, several batches in flight, each acknowledged exactly once as over HTTP;
// presence goes out and the peers' comes in.
//
// Anything the link cannot settle itself — the connection failing, a numbering the server
// refuses, a cursor it does not know — ends it with a SyncFailure: the sync client then falls back
// to an HTTP sync, which settles it, and reconnects.
//
// Not thread-safe: the sync thread runs it (interrupt() excepted).
#pragma once

#include <boost/json/object.hpp>
#include <cairn/sync.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/websocket_client.hpp"
#include "protocol/live.hpp"
#include "store/store_engine.hpp"

namespace cairn {

// Moves a page of the feed into `entries` as the database applies them: its items, then the
// entries the server holds back from this database (docs/migrations.md, "Old and new apps at
// once"). The stamps point into the page's replicas until the database interns them.
void take_page(protocol::FeedPage& page, std::vector<StoreEngine::RemoteEntry>& entries);

class LiveLink {
 public:
  // `socket` is connected; the link subscribes to `dataset` from `cursor`.
  LiveLink(StoreEngine& db, const SyncOptions& options,
           std::unique_ptr<net::WebSocketClient> socket, std::string dataset, std::string cursor);

  // Runs the link for up to `timeout` (less when interrupted): sends what the outbox holds, keeps
  // up to SyncOptions::batches_in_flight batches unacknowledged, and takes in what the server
  // sends. Adds what it moved to `report`. Throws SyncFailure when the link ends.
  void pump(std::chrono::milliseconds timeout, SyncReport& report);
  // From another thread: the pump in progress returns soon (local writes to send, a stop).
  void interrupt() { socket_->interrupt(); }

  // Sets this device's presence state in the dataset (after the subscribe, so it is accepted).
  void set_presence(const boost::json::object& state);
  // The other connections present in the dataset, as last heard; `changed` is set when the pump
  // heard news of them.
  const std::vector<Peer>& peers() const { return peers_; }
  bool take_peers_changed() { return std::exchange(peers_changed_, false); }

  // Nothing in flight and nothing pending: everything written here is on the server.
  bool settled() const;

 private:
  struct Batch {
    std::uint64_t id = 0;
    std::uint64_t last_seq = 0;
    std::size_t changes = 0;
  };
  void send_outbox(SyncReport& report);
  // Takes the held pushes from before `until` (all of them when empty), in order, as entries;
  // `state.cursor` follows them.
  std::vector<StoreEngine::RemoteEntry> release_held(std::optional<std::uint64_t> until,
                                                     LocalFile::SyncState& state);
  // Applies the acknowledgement through `acked` with the released pushes (see handle()).
  void apply(std::uint64_t acked, std::vector<StoreEngine::RemoteEntry> entries,
             LocalFile::SyncState state, SyncReport& report,
             std::vector<StoreEngine::RemoteEntry> before_ack = {});
  void handle(const std::string& text, SyncReport& report);

  StoreEngine& db_;
  const SyncOptions& options_;
  std::unique_ptr<net::WebSocketClient> socket_;
  std::string dataset_;
  std::deque<Batch> in_flight_;
  std::deque<protocol::ChangesMessage> held_;       // pushes waiting for acknowledgements
  std::vector<protocol::ChangesMessage> released_;  // their replica ids, while being applied
  std::uint64_t next_id_ = 1;
  std::vector<Peer> peers_;
  bool peers_changed_ = false;
};

}  // namespace cairn
