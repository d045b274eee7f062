#include "server/accounts.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>

#include "protocol/errors.hpp"
#include "protocol/sync_request.hpp"
#include "server/auth/tokens.hpp"
#include "server/sync_service.hpp"

namespace cairn::server {
namespace json = boost::json;
using protocol::Code;
using protocol::Refusal;

namespace {

[[noreturn]] void unauthorized(const std::string& why) {
  throw Refusal(Code::unauthorized, why);
}

[[noreturn]] void dataset_not_found(std::string_view id) {
  throw Refusal(Code::not_found, fmt::format("there is no dataset '{}'", id));
}

// The token a request presents, if it is usable at `now`.
TokenRow valid_token(const std::optional<TokenRow>& token, std::int64_t now) {
  if (!token) unauthorized("the token is not known");
  if (token->revoked) unauthorized("the token was revoked");
  if (token->expires_ms <= now) unauthorized("the token has expired");
  return *token;
}

protocol::DatasetMessage dataset_message(const DatasetRow& dataset, Role role) {
  return {dataset.id, dataset.name, dataset.owner, dataset.personal, std::string(role_name(role))};
}

}  // namespace

Accounts::Accounts(Storage& storage, SyncService& sync, std::chrono::seconds token_lifetime,
                   std::unique_ptr<GoogleIdTokenVerifier> google)
    : storage_(storage), sync_(sync), token_lifetime_(token_lifetime), google_(std::move(google)) {}

Session Accounts::issue(StorageTransaction& tx, const std::string& user_id, std::int64_t now) {
  Session session;
  session.user_id = user_id;
  session.token = new_token();
  session.expires_ms =
      now + std::chrono::duration_cast<std::chrono::milliseconds>(token_lifetime_).count();
  tx.insert_token({token_hash(session.token), user_id, now, session.expires_ms, false});
  if (auto dataset = tx.personal_dataset(user_id)) session.dataset_id = dataset->id;
  return session;
}

// A new user with a personal dataset seeded from the profile template, committed in `tx`; the
// seeded dataset's feed position is announced once the commit is durable.
Session Accounts::create_user(std::unique_ptr<StorageTransaction> tx, const UserRow& user) {
  tx->insert_user(user);
  const DatasetRow dataset{"d" + random_id(), "personal", user.id, true, user.created_ms, 0};
  tx->insert_dataset(dataset);
  tx->set_member(dataset.id, user.id, Role::owner);
  const std::uint64_t seeded = sync_.seed_profile(*tx, dataset.id, user.id);
  Session session = issue(*tx, user.id, user.created_ms);
  session.created = true;
  tx->commit();
  if (seeded != 0) sync_.announce(dataset.id, seeded);
  return session;
}

Session Accounts::create_guest() {
  return create_user(storage_.begin(true), {"u" + random_id(), "guest", "", "", sync_.now_ms()});
}

Session Accounts::sign_in_with_google(std::string_view id_token,
                                      const std::optional<Caller>& guest) {
  if (!google_) {
    throw Refusal(Code::not_configured,
                  "Google sign-in is not configured on this server (see googleClientId and "
                  "jwks in docs/operations.md)");
  }
  const std::int64_t now = sync_.now_ms();
  const GoogleIdentity identity = google_->verify(id_token, now / 1000);
  // The account signing in on two nodes at once: one creates or links it, the other runs again
  // and finds it.
  return retry_conflicts([&] {
    auto tx = storage_.begin(true);
    std::optional<UserRow> existing = tx->user_by_google(identity.subject);
    Session session;
    if (guest) {
      const std::optional<UserRow> current = tx->user(guest->user_id);
      if (existing && existing->id != guest->user_id) {
        throw Refusal(Code::account_exists,
                      "this Google account already belongs to another user; sign in without the "
                      "guest token to use it");
      }
      if (!existing && current && current->kind == "guest") {
        tx->link_google(guest->user_id, identity.subject, identity.email);
        session = issue(*tx, guest->user_id, now);
        session.upgraded = true;
        tx->commit();
        return session;
      }
    }
    if (!existing) {
      return create_user(std::move(tx),
                         {"u" + random_id(), "google", identity.subject, identity.email, now});
    }
    session = issue(*tx, existing->id, now);
    tx->commit();
    return session;
  });
}

Caller Accounts::authenticate(std::string_view header) {
  constexpr std::string_view kBearer = "Bearer ";
  if (header.empty()) unauthorized("send Authorization: Bearer <token>");
  if (header.substr(0, kBearer.size()) != kBearer || header.size() == kBearer.size()) {
    unauthorized("the Authorization header must be \"Bearer <token>\"");
  }
  const std::string hash = token_hash(header.substr(kBearer.size()));
  const std::int64_t now = sync_.now_ms();
  {
    std::lock_guard lock(token_cache_mutex_);
    auto cached = token_cache_.find(hash);
    if (cached != token_cache_.end() && now - cached->second.checked_ms < kTokenCacheTtl) {
      if (cached->second.expires_ms <= now) unauthorized("the token has expired");
      return {cached->second.user_id, hash, cached->second.expires_ms};
    }
  }
  auto tx = storage_.begin(false);
  const TokenRow token = valid_token(tx->token(hash), now);
  std::lock_guard lock(token_cache_mutex_);
  if (token_cache_.size() > 10'000) token_cache_.clear();
  token_cache_[hash] = {token.user_id, token.expires_ms, now};
  return {token.user_id, hash, token.expires_ms};
}

void Accounts::recheck(const Caller& caller) {
  valid_token(storage_.begin(false)->token(caller.token_hash), sync_.now_ms());
}

void Accounts::logout(const Caller& caller) {
  auto tx = storage_.begin(true);
  tx->revoke_token(caller.token_hash);
  tx->commit();
  token_revoked(caller.token_hash);
}

void Accounts::token_revoked(std::string_view token_hash) {
  const std::string hash(token_hash);
  {
    std::lock_guard lock(token_cache_mutex_);
    token_cache_.erase(hash);
  }
  if (revoke_listener_) revoke_listener_(hash);
}

void Accounts::forget_tokens() {
  std::lock_guard lock(token_cache_mutex_);
  token_cache_.clear();
}

protocol::UserMessage Accounts::describe(const Caller& caller) {
  auto tx = storage_.begin(false);
  const std::optional<UserRow> user = tx->user(caller.user_id);
  if (!user) unauthorized("the token's user no longer exists");
  protocol::UserMessage message{user->id, user->kind, user->email, {}};
  if (auto dataset = tx->personal_dataset(user->id)) message.dataset_id = dataset->id;
  return message;
}

DatasetRow Accounts::authorize(const Caller& caller, std::string_view dataset_id, Role needed) {
  auto tx = storage_.begin(false);
  return authorize(*tx, caller, dataset_id, needed);
}

DatasetRow Accounts::authorize(StorageTransaction& tx, const Caller& caller,
                               std::string_view dataset_id, Role needed) {
  std::optional<DatasetRow> dataset =
      dataset_id.empty() ? tx.personal_dataset(caller.user_id) : tx.dataset(dataset_id);
  if (!dataset) dataset_not_found(dataset_id);
  const std::optional<Role> role = tx.role(dataset->id, caller.user_id);
  if (!role) dataset_not_found(dataset_id);  // indistinguishable from a missing dataset
  if (*role < needed) {
    throw Refusal(Code::forbidden, fmt::format("you are {} of dataset '{}'; this needs {}",
                                               role_name(*role), dataset->id, role_name(needed)));
  }
  return *dataset;
}

std::function<DatasetRow(StorageTransaction&)> Accounts::sync_authorizer(const Caller& caller,
                                                                         const json::object& body) {
  const Role needed = protocol::request_writes(body) ? Role::editor : Role::viewer;
  return [this, caller, dataset_id = protocol::request_dataset(body),
          needed](StorageTransaction& tx) { return authorize(tx, caller, dataset_id, needed); };
}

protocol::DatasetMessage Accounts::create_dataset(const Caller& caller, std::string_view name) {
  if (name.empty() || name.size() > 200) {
    throw Refusal(Code::invalid_request, "a dataset needs a \"name\" of 1 to 200 characters");
  }
  const std::int64_t now = sync_.now_ms();
  const DatasetRow dataset{"d" + random_id(), std::string(name), caller.user_id, false, now, 0};
  auto tx = storage_.begin(true);
  tx->insert_dataset(dataset);
  tx->set_member(dataset.id, caller.user_id, Role::owner);
  tx->commit();
  return dataset_message(dataset, Role::owner);
}

std::vector<protocol::DatasetMessage> Accounts::list_datasets(const Caller& caller) {
  auto tx = storage_.begin(false);
  std::vector<protocol::DatasetMessage> list;
  for (const auto& [dataset, role] : tx->datasets_of(caller.user_id))
    list.push_back(dataset_message(dataset, role));
  return list;
}

protocol::MembersMessage Accounts::set_member(const Caller& caller, std::string_view dataset_id,
                                              std::string_view user_id, Role role) {
  const DatasetRow dataset = authorize(caller, dataset_id, Role::owner);
  if (dataset.personal) {
    throw Refusal(Code::forbidden, "a personal dataset cannot be shared; create a dataset");
  }
  auto tx = storage_.begin(true);
  if (!tx->user(user_id)) {
    throw Refusal(Code::not_found, fmt::format("there is no user '{}'", user_id));
  }
  if (user_id == dataset.owner && role != Role::owner) {
    throw Refusal(Code::owner_required, "the dataset's creator stays its owner");
  }
  tx->set_member(dataset.id, user_id, role);
  protocol::MembersMessage members{dataset.id, {}};
  for (const auto& [member, member_role] : tx->members(dataset.id))
    members.members.emplace_back(member, role_name(member_role));
  tx->commit();
  return members;
}

void Accounts::remove_member(const Caller& caller, std::string_view dataset_id,
                             std::string_view user_id) {
  // Members may leave; only owners remove others.
  const DatasetRow dataset =
      authorize(caller, dataset_id, user_id == caller.user_id ? Role::viewer : Role::owner);
  if (user_id == dataset.owner) {
    throw Refusal(Code::owner_required, "the dataset's creator cannot be removed");
  }
  auto tx = storage_.begin(true);
  tx->remove_member(dataset.id, user_id);
  tx->commit();
  if (member_removed_listener_) member_removed_listener_(dataset.id, std::string(user_id));
}

}  // namespace cairn::server
