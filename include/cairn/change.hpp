// cairn/change.hpp — what subscribers are told after a commit.
//
// A subscriber hears of each committed transaction once, after it is durable in the database file,
// with the changes that concern it and the transaction's origin. Listeners run on the thread that
// committed, in commit order, with no database lock held: a listener may read the database and
// may commit further transactions (whose notifications are delivered before the listener
// returns). A listener must not throw; an exception from a listener is caught and dropped so that
// the other listeners still hear of the commit.
#pragma once

#include <boost/json/value.hpp>
#include <cairn/clock.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cairn {

enum class Origin {
  local,      // the application wrote it through a Transaction
  remote,     // sync brought it from the server
  migration,  // a schema migration rewrote it
};

std::string_view origin_name(Origin origin) noexcept;

struct Change {
  std::string store;
  std::string key;
  std::optional<boost::json::value> value;     // the new value; empty when the entry was deleted
  std::optional<boost::json::value> previous;  // the value before; empty when there was none
  Timestamp hlc;                               // the write's stamp

  bool deleted() const { return !value.has_value(); }
};

struct ChangeSet {
  Origin origin = Origin::local;
  std::vector<Change> changes;  // in the order the transaction made them
};

using Listener = std::function<void(const ChangeSet&)>;

// Keeps a listener registered for as long as it lives. Destroying (or reset()) unregisters it:
// when that returns, the listener is not running and will not run again (except when reset() is
// called from inside the listener itself, which is allowed). A Subscription may outlive its
// Database; it then does nothing.
class Subscription {
 public:
  Subscription() = default;
  explicit Subscription(std::function<void()> cancel) : cancel_(std::move(cancel)) {}
  Subscription(Subscription&& other) noexcept : cancel_(std::exchange(other.cancel_, {})) {}
  Subscription& operator=(Subscription&& other) noexcept {
    if (this != &other) {
      reset();
      cancel_ = std::exchange(other.cancel_, {});
    }
    return *this;
  }
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;
  ~Subscription() { reset(); }

  void reset() {
    if (auto cancel = std::exchange(cancel_, {})) cancel();
  }
  explicit operator bool() const { return static_cast<bool>(cancel_); }

 private:
  std::function<void()> cancel_;
};

}  // namespace cairn
