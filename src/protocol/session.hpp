// Who the caller is: the session cairnd answers to POST /api/auth/guest and /api/auth/google, and
// the user it describes at GET /api/me. The server encodes them; the sync client reads them to
// learn its token, user and personal dataset.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cairn::protocol {

// {"userId", "token", "expiresAt", "datasetId", "upgraded"?: true}
struct SessionMessage {
  std::string user_id;
  std::string token;  // a secret: never logged
  std::int64_t expires_ms = 0;
  std::string dataset_id;  // the user's personal dataset
  bool upgraded = false;   // a guest that became a Google account
};
std::string encode_session(const SessionMessage& session);
// Throws Error(invalid_value) for an answer that is not a session.
SessionMessage decode_session(std::string_view body);

// {"userId", "kind": "guest" | "google", "email"?, "datasetId"?}
struct UserMessage {
  std::string user_id;
  std::string kind;
  std::string email;
  std::string dataset_id;
};
std::string encode_user(const UserMessage& user);
// Throws Error(invalid_value) for an answer that is not a user.
UserMessage decode_user(std::string_view body);

}  // namespace cairn::protocol
