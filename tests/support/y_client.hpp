// YClient — a y-websocket peer written with Cairn's CRDT, for tests of cairnd's collaborative
// documents: it speaks the protocol as y-websocket's provider does (sync step 1 on connect,
// answers the server's step 1, sends each local edit as an update, relays awareness).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "crdt/doc.hpp"
#include "net/websocket_client.hpp"
#include "protocol/collab.hpp"

namespace cairn::test {

class YClient {
 public:
  // Connects to /api/collab/<dataset>/<name>, the token in the query (as browsers send it).
  YClient(std::uint16_t port, const std::string& dataset, const std::string& name,
          const std::string& token, std::uint64_t client_id)
      : doc_(client_id),
        socket_("127.0.0.1", port,
                "/api/collab/" + dataset + "/" + name + (token.empty() ? "" : "?token=" + token)) {
    doc_.on_update([this](std::span<const std::uint8_t> update, const void* origin) {
      if (origin != this)
        send({protocol::SyncMessage{protocol::SyncStep::update, {update.begin(), update.end()}}});
    });
    send({protocol::SyncMessage{protocol::SyncStep::step1,
                                crdt::Doc::encode_state_vector(doc_.state_vector())}});
  }

  crdt::Doc& doc() { return doc_; }
  std::string text(const std::string& root = "t") {
    return doc_.get(root, crdt::TypeKind::text).to_string();
  }
  void insert(std::uint64_t index, const std::string& text, const std::string& root = "t") {
    doc_.text_insert(doc_.get(root, crdt::TypeKind::text), index, text);
  }

  void send(const protocol::CollabMessage& message) {
    const crdt::Bytes bytes = protocol::encode_collab_message(message);
    send_raw(std::string(bytes.begin(), bytes.end()));
  }
  void send_raw(const std::string& bytes) {
    try {
      socket_.send_binary(bytes);
    } catch (const net::WebSocketClosed& e) {
      closed_ = e.code();
    }
  }
  void set_awareness(std::uint64_t clock, const std::string& state) {
    send({protocol::AwarenessMessage{
        protocol::encode_awareness_update({{doc_.client_id(), clock, state}})}});
  }

  // Handles what arrives until `done` holds (true) or `timeout` passes (false). Once the server
  // closes the connection, closed() says how.
  bool pump_until(const std::function<bool()>& done,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (closed_) return false;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      try {
        const std::optional<std::string> message = socket_.receive(left);
        if (message) handle(*message);
      } catch (const net::WebSocketClosed& e) {
        closed_ = e.code();
      }
    }
    return true;
  }
  bool synced() const { return synced_; }
  std::optional<std::uint16_t> closed() const { return closed_; }
  const std::optional<std::string>& denied() const { return denied_; }
  // Awareness states as received, by client id ("null" once one left).
  const std::map<std::uint64_t, std::string>& awareness() const { return awareness_; }

 private:
  void handle(const std::string& raw) {
    const auto message = protocol::decode_collab_message(
        {reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size()});
    if (const auto* sync = std::get_if<protocol::SyncMessage>(&message)) {
      if (sync->step == protocol::SyncStep::step1) {
        send({protocol::SyncMessage{
            protocol::SyncStep::step2,
            doc_.encode_state_as_update_v1(crdt::Doc::decode_state_vector(sync->payload))}});
      } else {
        doc_.apply_update_v1(sync->payload, this);
        if (sync->step == protocol::SyncStep::step2) synced_ = true;
      }
    } else if (const auto* awareness = std::get_if<protocol::AwarenessMessage>(&message)) {
      for (const auto& entry : protocol::decode_awareness_update(awareness->update))
        awareness_[entry.client] = entry.state;
    } else if (const auto* denied = std::get_if<protocol::PermissionDeniedMessage>(&message)) {
      denied_ = denied->reason;
    }
  }

  crdt::Doc doc_;
  net::WebSocketClient socket_;
  bool synced_ = false;
  std::optional<std::uint16_t> closed_;
  std::optional<std::string> denied_;
  std::map<std::uint64_t, std::string> awareness_;
};

}  // namespace cairn::test
