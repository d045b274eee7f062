// Accounts — who may do what: guests, Google sign-in, bearer tokens, datasets and their members.
//
// Every data request is authorised here. A user reaches its own personal dataset and the shared
// datasets it is a member of (viewer < editor < owner). A dataset the caller may not see is
// answered exactly like one that does not exist (404), so that its existence is not revealed.
//
// Time comes from the SyncService's clock (the server's injected one).
//
// Thread-safe: all state is in Storage.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "protocol/datasets.hpp"
#include "protocol/session.hpp"
#include "server/auth/google_id_token.hpp"
#include "server/storage/storage.hpp"

namespace cairn::server {

class SyncService;

// The authenticated caller of a request.
struct Caller {
  std::string user_id;
  std::string token_hash;
  std::int64_t expires_ms = 0;  // when the token expires (ms since the epoch)
};

struct Session {
  std::string user_id;
  std::string token;
  std::int64_t expires_ms = 0;
  std::string dataset_id;  // the user's personal dataset
  bool created = false;    // a new user (guest, or first Google sign-in)
  bool upgraded = false;   // a guest that became a Google account
};

class Accounts {
 public:
  Accounts(Storage& storage, SyncService& sync, std::chrono::seconds token_lifetime,
           std::unique_ptr<GoogleIdTokenVerifier> google);

  // A new anonymous user with a personal dataset seeded from the profile template.
  Session create_guest();
  // Signs in with a Google ID token. With `guest` (the caller's current session, when it is a
  // guest) the guest is upgraded in place and keeps its data. Refusal invalid_id_token for a bad
  // token, account_exists when the Google account already belongs to another user,
  // not_configured when Google sign-in is not configured.
  Session sign_in_with_google(std::string_view id_token, const std::optional<Caller>& guest);
  // Refusal unauthorized for a missing, unknown, expired or revoked token.
  Caller authenticate(std::string_view authorization_header);
  // Checks a caller's token again in storage, past the cache (for connections that outlive
  // requests): Refusal unauthorized when it has expired, been revoked or is gone.
  void recheck(const Caller& caller);
  void logout(const Caller& caller);
  // A token was revoked (by logout here, or on another node): forgotten from the cache, and the
  // revoke listener told.
  void token_revoked(std::string_view token_hash);
  // Revocations elsewhere may have gone unnoticed: every token is looked up again.
  void forget_tokens();
  // Called with a token's hash when logout revokes it (the live channel closes its connections).
  void on_revoke(std::function<void(const std::string& token_hash)> listener) {
    revoke_listener_ = std::move(listener);
  }
  // Called with (dataset id, user id) when a member is removed from a dataset (the live channel
  // ends that user's subscriptions to it).
  void on_member_removed(
      std::function<void(const std::string& dataset_id, const std::string& user_id)> listener) {
    member_removed_listener_ = std::move(listener);
  }
  protocol::UserMessage describe(const Caller& caller);

  // The dataset a request names (its id, or the caller's personal one when empty), if the caller
  // holds at least `needed` on it; Refusal not_found when it does not exist or the caller is
  // not a member, forbidden when the caller's role is too low.
  DatasetRow authorize(const Caller& caller, std::string_view dataset_id, Role needed);
  // The same, inside a transaction the caller already holds (the sync endpoints' own).
  DatasetRow authorize(StorageTransaction& tx, const Caller& caller, std::string_view dataset_id,
                       Role needed);
  // How a sync request (the body of POST /api/sync/full or /patch) is authorised inside its
  // transaction: on the dataset it names, as editor when it writes and as viewer otherwise.
  std::function<DatasetRow(StorageTransaction&)> sync_authorizer(const Caller& caller,
                                                                 const boost::json::object& body);

  protocol::DatasetMessage create_dataset(const Caller& caller, std::string_view name);
  std::vector<protocol::DatasetMessage> list_datasets(const Caller& caller);
  protocol::MembersMessage set_member(const Caller& caller, std::string_view dataset_id,
                                      std::string_view user_id, Role role);
  void remove_member(const Caller& caller, std::string_view dataset_id, std::string_view user_id);

 private:
  Session create_user(std::unique_ptr<StorageTransaction> tx, const UserRow& user);
  Session issue(StorageTransaction& tx, const std::string& user_id, std::int64_t now_ms);

  // Tokens checked in the last few seconds, so that a busy client's requests skip the lookup.
  // Logging out removes the token here as it revokes it; a revocation on another node is relayed
  // by the storage (token_revoked), or at worst (its relay down) takes effect within
  // kTokenCacheTtl.
  struct CachedToken {
    std::string user_id;
    std::int64_t expires_ms;
    std::int64_t checked_ms;
  };
  static constexpr std::int64_t kTokenCacheTtl = 5'000;
  std::mutex token_cache_mutex_;
  std::unordered_map<std::string, CachedToken> token_cache_;

  Storage& storage_;
  SyncService& sync_;
  std::chrono::seconds token_lifetime_;
  std::unique_ptr<GoogleIdTokenVerifier> google_;
  std::function<void(const std::string&)> revoke_listener_;  // set before serving
  std::function<void(const std::string&, const std::string&)> member_removed_listener_;  // same
};

}  // namespace cairn::server
