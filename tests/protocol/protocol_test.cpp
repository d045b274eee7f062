// The protocol module's messages: every one encodes and decodes back to itself, and malformed
// input is refused with the code docs/protocol.md names, never anything else.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cairn/error.hpp>

#include "protocol/datasets.hpp"
#include "protocol/errors.hpp"
#include "protocol/live.hpp"
#include "protocol/manifest.hpp"
#include "protocol/session.hpp"
#include "protocol/sync_request.hpp"
#include "protocol/sync_response.hpp"
#include "protocol/wire.hpp"

namespace cairn::test {
namespace {

namespace json = boost::json;
using protocol::Code;

json::value j(std::string_view text) {
  return json::parse(text);
}

// The code a protocol decoder refused `body` with, or nothing when it decoded.
template <class Decode>
std::optional<Code> refusal_of(Decode decode) {
  try {
    decode();
  } catch (const protocol::Refusal& refusal) {
    return refusal.code();
  }
  return std::nullopt;
}

merge::Entry field_entry(protocol::ReplicaInterner& replicas) {
  merge::Entry entry;
  entry.deleted = false;
  entry.value = j(R"({"name":"Ada","xp":3})");
  entry.stamp = {Timestamp(1764058271123, 5), replicas.intern("replica-a")};
  entry.schema_version = 2;
  entry.fields = {{"name", {Timestamp(1764058271000, 0), replicas.intern("replica-b")}, false},
                  {"old", {Timestamp(1764058271100, 1), replicas.intern("replica-a")}, true},
                  {"xp", entry.stamp, false}};
  entry.floor = {Timestamp(1764058270000, 0), replicas.intern("replica-c")};
  return entry;
}

void expect_same_entry(const merge::Entry& a, const merge::Entry& b) {
  EXPECT_EQ(a.deleted, b.deleted);
  if (!a.deleted) {
    EXPECT_EQ(a.value, b.value);
  }
  EXPECT_EQ(a.stamp, b.stamp);
  EXPECT_EQ(a.schema_version, b.schema_version);
  EXPECT_EQ(a.floor, b.floor);
  ASSERT_EQ(a.fields.size(), b.fields.size());
  for (std::size_t i = 0; i < a.fields.size(); ++i) {
    EXPECT_EQ(a.fields[i].name, b.fields[i].name);
    EXPECT_EQ(a.fields[i].stamp, b.fields[i].stamp);
    EXPECT_EQ(a.fields[i].deleted, b.fields[i].deleted);
  }
}

TEST(Wire, ClocksRoundTripAndMalformedOnesAreRefused) {
  const Timestamp t(1764058271123, 65535);
  EXPECT_EQ(protocol::hlc_to_wire(t), "1764058271123:65535");
  EXPECT_EQ(protocol::hlc_from_wire("1764058271123:65535"), t);
  for (const char* bad : {"", ":", "1:", ":1", "x:1", "1:65536", "281474976710656:0", "1:2:3"}) {
    EXPECT_THROW(protocol::hlc_from_wire(bad), Error) << bad;
  }
}

TEST(Wire, EntryMetadataRoundTripsWithFieldStampsAndFloor) {
  protocol::ReplicaInterner replicas;
  const merge::Entry entry = field_entry(replicas);
  const json::object meta = protocol::entry_meta_to_json(entry);
  merge::Entry decoded;
  decoded.deleted = false;
  decoded.value = entry.value;
  protocol::entry_meta_from_json(meta, decoded, replicas);
  expect_same_entry(entry, decoded);
}

TEST(Wire, ChangesRoundTrip) {
  protocol::ReplicaInterner replicas;
  const std::string* replica = replicas.intern("device-1");
  for (
      const char* text :
      {R"({"seq":7,"store":"journal","key":"k","op":"put","value":{"t":0.3},"hlc":"5:1","schemaVersion":2})",
       R"({"seq":8,"store":"s","key":"k","op":"patch","set":{"a":1},"unset":["b"],"add":{"xp":2},"hlc":"6:0","schemaVersion":1})",
       R"({"seq":9,"store":"s","key":"k","op":"delete","hlc":"7:0","schemaVersion":1})"}) {
    const protocol::WireChange change = protocol::change_from_json(j(text), replica);
    const json::object again = protocol::change_to_json(change);
    EXPECT_EQ(json::value(again), j(text)) << text;
  }
}

TEST(SyncRequest, ThePatchTheClientSendsDecodesToTheSameChanges) {
  protocol::ReplicaInterner replicas;
  const std::string* replica = replicas.intern("device-1");
  protocol::PatchRequest request{"device-1", "dataset-1", "42", {}, {{"journal", 2}}, {"graph"}};
  request.changes.push_back(protocol::change_from_json(
      j(R"({"seq":1,"store":"journal","key":"2026/02/01","op":"put","value":{"text":"Walked","mood":4},"hlc":"10:0","schemaVersion":1})"),
      replica));
  request.changes.push_back(protocol::change_from_json(
      j(R"({"seq":2,"store":"playerStatistics","key":"running","op":"patch","add":{"xp":25},"hlc":"11:0","schemaVersion":1})"),
      replica));
  json::object body = j(protocol::encode_patch_request(request)).as_object();
  const protocol::SyncRequest decoded =
      protocol::decode_patch_request(body, Limits{}, replicas, "anonymous");
  EXPECT_EQ(decoded.client_id, "device-1");
  EXPECT_EQ(decoded.dataset, "dataset-1");
  EXPECT_EQ(decoded.cursor, 42u);
  EXPECT_TRUE(decoded.numbered);
  EXPECT_EQ(decoded.versions, request.versions);
  EXPECT_EQ(decoded.manifest_stores, request.manifest_stores);
  ASSERT_EQ(decoded.changes.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(json::value(protocol::change_to_json(decoded.changes[i])),
              json::value(protocol::change_to_json(request.changes[i])));
    EXPECT_EQ(decoded.changes[i].change.stamp.replica_view(), "device-1");
  }
}

TEST(SyncRequest, VersionsAreStoreNamesToPositiveVersions) {
  protocol::ReplicaInterner replicas;
  for (const char* bad : {R"({"versions":[1]})", R"({"versions":{"journal":0}})",
                          R"({"versions":{"journal":"2"}})", R"({"versions":{"bad name":1}})"}) {
    json::object body = j(bad).as_object();
    try {
      protocol::decode_patch_request(body, Limits{}, replicas, "anonymous");
      ADD_FAILURE() << bad;
    } catch (const protocol::Refusal& refusal) {
      EXPECT_TRUE(refusal.code() == protocol::Code::invalid_request ||
                  refusal.code() == protocol::Code::invalid_store)
          << bad;
    }
  }
  EXPECT_EQ(protocol::versions_from_query("journal:2,notes:1"),
            (protocol::StoreVersions{{"journal", 2}, {"notes", 1}}));
  EXPECT_TRUE(protocol::versions_from_query("").empty());
  for (const char* bad : {"journal", "journal:0", "journal:x", "journal:1,", ":1"}) {
    EXPECT_THROW(protocol::versions_from_query(bad), protocol::Refusal) << bad;
  }
}

TEST(SyncRequest, TheRoadmapsFormsDecode) {
  protocol::ReplicaInterner replicas;
  json::object full = j(R"({"clientVersion":"1.0","lastSyncTime":0,
      "journal":{"a":{"text":"x"}},"meta":{"journal":{"b":{"deleted":true,"hlc":"3:0"}}}})")
                          .as_object();
  const auto request = protocol::decode_full_request(full, Limits{}, replicas, "user:u1");
  ASSERT_EQ(request.changes.size(), 2u);
  EXPECT_EQ(request.changes[0].change.op, merge::Change::Op::put);
  EXPECT_EQ(request.changes[1].change.op, merge::Change::Op::erase);
  EXPECT_EQ(request.changes[1].change.stamp.hlc, Timestamp(3, 0));
  EXPECT_EQ(request.changes[0].change.stamp.replica_view(), "user:u1");

  json::object patch = j(R"({"seq":5,"clientId":"c1","aiConfig":{"added":{"m":1},
      "updated":{"n":2},"deleted":["o"]}})")
                           .as_object();
  const auto decoded = protocol::decode_patch_request(patch, Limits{}, replicas, "user:u1");
  ASSERT_EQ(decoded.changes.size(), 3u);
  EXPECT_EQ(decoded.changes[0].seq, 5u);
  EXPECT_EQ(decoded.changes[2].seq, 7u);
  EXPECT_TRUE(protocol::request_writes(j(R"({"aiConfig":{"added":{"m":1}}})").as_object()));
  EXPECT_FALSE(protocol::request_writes(j(R"({"cursor":"0","changes":[]})").as_object()));
}

TEST(SyncRequest, MalformedRequestsAreRefusedWithTheirCode) {
  const std::pair<const char*, Code> cases[] = {
      {R"({"changes":{}})", Code::invalid_request},
      {R"({"changes":[1]})", Code::invalid_request},
      {R"({"changes":[{"store":"s","key":"k","op":"jump"}]})", Code::invalid_request},
      {R"({"changes":[{"store":"s","key":"k","op":"put","value":1,"extra":1}]})",
       Code::invalid_request},
      {R"({"changes":[{"store":"s","key":"k","op":"put","value":1,"hlc":"soon"}]})",
       Code::invalid_request},
      {R"({"changes":[{"seq":1,"store":"s","key":"k","op":"put","value":1}]})",
       Code::invalid_request},  // numbered without a clientId
      {R"({"clientId":"c","changes":[{"seq":1,"store":"s","key":"k","op":"put","value":1},
          {"seq":3,"store":"s","key":"k","op":"put","value":1}]})",
       Code::invalid_request},  // not consecutive
      {R"({"changes":[{"store":"bad name","key":"k","op":"put","value":1}]})", Code::invalid_store},
      {R"({"changes":[{"store":"s","key":"","op":"put","value":1}]})", Code::invalid_key},
      {R"({"cursor":"-1","changes":[]})", Code::invalid_request},
      {R"({"clientId":"not ok!","changes":[]})", Code::invalid_request},
      {R"({"journal":[]})", Code::invalid_request},
      {R"({"journal":{"added":[]}})", Code::invalid_request},
      {R"({"journal":{"removed":{}}})", Code::invalid_request},
  };
  for (const auto& [text, code] : cases) {
    protocol::ReplicaInterner replicas;
    json::object body = j(text).as_object();
    EXPECT_EQ(
        refusal_of([&] { protocol::decode_patch_request(body, Limits{}, replicas, "anonymous"); }),
        code)
        << text;
  }
  protocol::ReplicaInterner replicas;
  json::object both =
      j(R"({"journal":{"a":1},"meta":{"journal":{"a":{"deleted":true}}}})").as_object();
  EXPECT_EQ(refusal_of([&] { protocol::decode_full_request(both, Limits{}, replicas, "a"); }),
            Code::invalid_request);
}

TEST(SyncResponse, APatchAnswerRoundTrips) {
  protocol::PatchResponse response;
  response.ack = 17;
  response.server_time = 1764058271123;
  response.conflicts = {{"journal", "k", "server-won"}};
  protocol::FeedPage page;
  page.changes.push_back({"playerStatistics", "running", 40, field_entry(page.replicas)});
  merge::Entry tombstone;
  tombstone.stamp = {Timestamp(9, 0), page.replicas.intern("replica-d")};
  tombstone.schema_version = 1;
  page.changes.push_back({"journal", "gone", 41, tombstone});
  page.has_more = true;
  page.cursor = 41;
  response.page = std::move(page);

  const protocol::PatchResponse decoded =
      protocol::decode_patch_response(protocol::encode_patch_response(response));
  EXPECT_EQ(decoded.ack, 17u);
  EXPECT_EQ(decoded.server_time, 1764058271123);
  EXPECT_EQ(decoded.cursor, 41u);
  ASSERT_TRUE(decoded.page);
  EXPECT_TRUE(decoded.page->has_more);
  ASSERT_EQ(decoded.page->changes.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(decoded.page->changes[i].store, response.page->changes[i].store);
    EXPECT_EQ(decoded.page->changes[i].key, response.page->changes[i].key);
    EXPECT_EQ(decoded.page->changes[i].seq, response.page->changes[i].seq);
    expect_same_entry(decoded.page->changes[i].entry, response.page->changes[i].entry);
  }
  ASSERT_EQ(decoded.conflicts.size(), 1u);
  EXPECT_EQ(decoded.conflicts[0].resolution, "server-won");
}

TEST(SyncResponse, FullAndFeedAnswersHaveTheDocumentedShape) {
  protocol::FullResponse full;
  full.entries.push_back({"aiConfig", "assistant", 3, {}});
  full.entries[0].entry.deleted = false;
  full.entries[0].entry.value = j(R"({"model":"small","temperature":0.3})");
  full.entries[0].entry.stamp = {Timestamp(1, 0), full.replicas.intern("server")};
  full.cursor = 3;
  full.server_time = 99;
  full.client_id = "c1";
  const json::value body = j(protocol::encode_full_response(full));
  EXPECT_EQ(body.at("aiConfig").at("assistant"), j(R"({"model":"small","temperature":0.3})"));
  EXPECT_EQ(body.at("cursor"), "3");
  EXPECT_EQ(body.at("clientId"), "c1");
  EXPECT_EQ(body.at("meta").at("aiConfig").at("assistant").at("hlc"), "1:0");
  // Numbers as JavaScript writes them.
  EXPECT_NE(protocol::encode_full_response(full).find("\"temperature\":0.3"), std::string::npos);

  protocol::FeedPage page;
  page.cursor = 5;
  const json::value feed = j(protocol::encode_changes_response(page, 7));
  EXPECT_EQ(feed, j(R"({"changes":[],"hasMore":false,"cursor":"5","serverTime":7})"));
}

TEST(SyncResponse, MalformedAnswersAreReportedNotTrusted) {
  for (const char* bad :
       {"", "[]", R"({"cursor":5})", R"({"cursor":"x"})", R"({"cursor":"1","changes":{}})",
        R"({"cursor":"1","changes":[],"hasMore":"yes"})",
        R"({"cursor":"1","changes":[{"store":"s","key":"k"}],"hasMore":false})",
        R"({"cursor":"1","ack":"1"})", R"({"cursor":"1","conflictResolutions":[{"store":1}]})",
        // Numbers that are not the integers they stand for (found by sync_response_fuzzer).
        R"({"cursor":"1","ack":1.5})", R"({"cursor":"1","ack":-1})",
        R"({"cursor":"1","ack":1e300})",
        R"({"cursor":"1","changes":[{"store":"s","key":"k","seq":0.5,
            "meta":{"hlc":"1:0","replica":"r","schemaVersion":1}}],"hasMore":false})"}) {
    EXPECT_THROW(protocol::decode_patch_response(bad), Error) << bad;
  }
  // A session's expiry is informative: one that is not an integer is ignored, not trusted.
  EXPECT_EQ(
      protocol::decode_session(R"({"userId":"u","token":"t","datasetId":"d","expiresAt":1e300})")
          .expires_ms,
      0);
}

TEST(Session, SessionsAndUsersRoundTrip) {
  const protocol::SessionMessage session{"u1", "secret", 1234, "d1", true};
  const protocol::SessionMessage decoded =
      protocol::decode_session(protocol::encode_session(session));
  EXPECT_EQ(decoded.user_id, "u1");
  EXPECT_EQ(decoded.token, "secret");
  EXPECT_EQ(decoded.expires_ms, 1234);
  EXPECT_EQ(decoded.dataset_id, "d1");
  EXPECT_TRUE(decoded.upgraded);
  const protocol::UserMessage user{"u1", "google", "ada@example.com", "d1"};
  const protocol::UserMessage back = protocol::decode_user(protocol::encode_user(user));
  EXPECT_EQ(back.email, "ada@example.com");
  EXPECT_EQ(back.kind, "google");
  EXPECT_THROW(protocol::decode_session(R"({"userId":"u1"})"), Error);
  EXPECT_THROW(protocol::decode_user("nope"), Error);
}

TEST(Datasets, AnswersHaveTheDocumentedShape) {
  const protocol::DatasetMessage family{"d1", "family \"Ada\"", "u1", false, "owner"};
  EXPECT_EQ(j(protocol::encode_dataset(family)),
            j(R"({"datasetId":"d1","name":"family \"Ada\"","owner":"u1","personal":false,
                  "role":"owner"})"));
  EXPECT_EQ(j(protocol::encode_dataset_list({family})).at("datasets").at(0).at("datasetId"), "d1");
  EXPECT_EQ(j(protocol::encode_dataset_list({})), j(R"({"datasets":[]})"));
  EXPECT_EQ(j(protocol::encode_members({"d1", {{"u1", "owner"}, {"u2", "viewer"}}})),
            j(R"({"datasetId":"d1","members":[{"userId":"u1","role":"owner"},
                                             {"userId":"u2","role":"viewer"}]})"));
}

TEST(Datasets, RequestsAreDecodedAndMalformedOnesRefused) {
  EXPECT_EQ(protocol::decode_dataset_name(j(R"({"name":"family"})").as_object()), "family");
  const protocol::MemberRequest member =
      protocol::decode_member_request(j(R"({"userId":"u2","role":"editor"})").as_object());
  EXPECT_EQ(member.user_id, "u2");
  EXPECT_EQ(member.role, "editor");
  EXPECT_EQ(protocol::decode_id_token(j(R"({"idToken":"a.b.c"})").as_object()), "a.b.c");
  for (const char* body : {R"({})", R"({"name":3})", R"({"name":null})"}) {
    EXPECT_EQ(refusal_of([&] { protocol::decode_dataset_name(j(body).as_object()); }),
              Code::invalid_request)
        << body;
  }
  EXPECT_EQ(
      refusal_of([&] { protocol::decode_member_request(j(R"({"userId":"u2"})").as_object()); }),
      Code::invalid_request);
  EXPECT_EQ(refusal_of([&] { protocol::decode_id_token(j(R"({"idToken":[]})").as_object()); }),
            Code::invalid_request);
}

TEST(History, VersionsCarryTheirOptionalMembersOnlyWhenSet) {
  protocol::HistoryMessage history{"journal", "k", {}};
  history.versions.push_back({1, "put", R"({"value":{"n":0.3}})", Timestamp(1764058271123, 5),
                              "phone", "u1", 1764058271200, "applied", 7, "phone", 3,
                              "client-won"});
  history.versions.push_back({2, "delete", "{}", Timestamp(1764058271124, 0), "laptop", "u1",
                              1764058271300, "rejected", 0, "", 0, ""});
  const std::string text = protocol::encode_history(history);
  EXPECT_NE(text.find(R"({"n":0.3})"), std::string::npos) << text;
  const json::value encoded = j(text);
  EXPECT_EQ(encoded.at("store"), "journal");
  const json::object& first = encoded.at("versions").at(0).as_object();
  EXPECT_EQ(first.at("hlc"), "1764058271123:5");
  EXPECT_EQ(first.at("seq"), 7);
  EXPECT_EQ(first.at("clientSeq"), 3);
  EXPECT_EQ(first.at("resolution"), "client-won");
  const json::object& second = encoded.at("versions").at(1).as_object();
  for (const char* absent : {"seq", "clientId", "clientSeq", "resolution"}) {
    EXPECT_FALSE(second.contains(absent)) << absent;
  }
  EXPECT_EQ(second.at("outcome"), "rejected");
}

TEST(Live, ClientMessagesRoundTrip) {
  const std::vector<protocol::ClientMessage> messages = {
      protocol::SubscribeMessage{"d1", 42, true, {}},
      protocol::SubscribeMessage{"", std::nullopt, true, {}},
      protocol::SubscribeMessage{"d1", 3, false, {{"journal", 2}, {"notes", 1}}},
      protocol::UnsubscribeMessage{"d1"},
      protocol::PresenceMessage{"d1", j(R"({"device":"phone","editing":{"store":"journal",
                                              "key":"k"},"x":0.3})")
                                          .as_object()},
      protocol::PatchMessage{7, j(R"({"clientId":"phone","changes":[]})").as_object()},
  };
  for (const protocol::ClientMessage& message : messages) {
    const std::string text = protocol::encode_client_message(message);
    const protocol::ClientMessage back = protocol::decode_client_message(text);
    EXPECT_EQ(protocol::encode_client_message(back), text);
    EXPECT_EQ(back.index(), message.index()) << text;
  }
  const auto subscribe = std::get<protocol::SubscribeMessage>(
      protocol::decode_client_message(R"({"type":"subscribe","cursor":"0"})"));
  EXPECT_EQ(subscribe.dataset, "");
  EXPECT_EQ(subscribe.cursor, 0u);  // "0": from the beginning, not "from now on"
  EXPECT_FALSE(std::get<protocol::SubscribeMessage>(
                   protocol::decode_client_message(R"({"type":"subscribe"})"))
                   .cursor);
  EXPECT_TRUE(std::get<protocol::SubscribeMessage>(
                  protocol::decode_client_message(R"({"type":"subscribe"})"))
                  .echo);  // your own writes come back unless you say otherwise
  EXPECT_FALSE(std::get<protocol::SubscribeMessage>(
                   protocol::decode_client_message(R"({"type":"subscribe","echo":false})"))
                   .echo);
  EXPECT_EQ(std::get<protocol::SubscribeMessage>(
                protocol::decode_client_message(R"({"type":"subscribe","versions":{"journal":2}})"))
                .versions,
            (protocol::StoreVersions{{"journal", 2}}));
  EXPECT_EQ(refusal_of([&] {
              protocol::decode_client_message(R"({"type":"subscribe","versions":{"journal":0}})");
            }),
            Code::invalid_request);
}

TEST(Live, MalformedClientMessagesGetTheirCodeAndTheConnectionGoesOn) {
  for (const char* text : {"", "[]", "not json", R"("subscribe")", "{"}) {
    EXPECT_EQ(refusal_of([&] { protocol::decode_client_message(text); }), Code::malformed_json)
        << text;
  }
  const std::string big_state =
      R"({"type":"presence","state":{"a":")" + std::string(5000, 'x') + R"("}})";
  for (const std::string& text :
       {std::string(R"({})"), std::string(R"({"type":7})"), std::string(R"({"type":"shout"})"),
        std::string(R"({"type":"subscribe","cursor":5})"),
        std::string(R"({"type":"subscribe","cursor":"-1"})"),
        std::string(R"({"type":"subscribe","dataset":""})"),
        std::string(R"({"type":"subscribe","datset":"d1"})"),
        std::string(R"({"type":"subscribe","echo":"no"})"),
        std::string(R"({"type":"presence","state":[]})"), big_state,
        std::string(R"({"type":"patch","body":{}})"),
        std::string(R"({"type":"patch","id":1.5,"body":{}})"),
        std::string(R"({"type":"patch","id":-1,"body":{}})"),
        std::string(R"({"type":"patch","id":1,"body":"x"})")}) {
    EXPECT_EQ(refusal_of([&] { protocol::decode_client_message(text); }), Code::invalid_request)
        << text;
  }
  const std::string deep = std::string(100, '[') + std::string(100, ']');
  EXPECT_EQ(refusal_of([&] {
              protocol::decode_client_message(R"({"type":"presence","state":{"a":)" + deep + "}}");
            }),
            Code::malformed_json);
}

TEST(Live, ServerMessagesRoundTrip) {
  protocol::ChangesMessage changes{"d1", {}};
  changes.page.changes.push_back({"journal", "k", 9, field_entry(changes.page.replicas)});
  changes.page.cursor = 9;
  protocol::PatchResponse patched;
  patched.ack = 3;
  patched.server_time = 1764058271123;
  patched.cursor = 9;
  patched.conflicts.push_back({"journal", "k", "server-won"});
  // Pages and responses move, never copy (their stamps point into their own interner).
  std::vector<protocol::ServerMessage> messages;
  messages.emplace_back(protocol::SubscribedMessage{"d1", 9, "c1"});
  messages.emplace_back(std::move(changes));
  messages.emplace_back(protocol::PresenceUpdate{
      "d1", {{"c1", "u1", j(R"({"device":"phone"})").as_object()}}, {"c0"}});
  messages.emplace_back(protocol::AckMessage{7, std::move(patched)});
  messages.emplace_back(protocol::LiveError{Code::cursor_expired, "sync fully", "d1", 7});
  messages.emplace_back(
      protocol::LiveError{Code::malformed_json, "a message must be one JSON object", "", {}});
  for (const protocol::ServerMessage& message : messages) {
    const std::string text = protocol::encode_server_message(message);
    const protocol::ServerMessage back = protocol::decode_server_message(text);
    EXPECT_EQ(protocol::encode_server_message(back), text);
    EXPECT_EQ(back.index(), message.index()) << text;
  }
  const json::value pushed = j(protocol::encode_server_message(messages[1]));
  EXPECT_EQ(pushed.at("type"), "changes");
  EXPECT_EQ(pushed.at("cursor"), "9");
  // The items are exactly those of GET /api/sync/changes.
  EXPECT_EQ(pushed.at("changes").at(0),
            json::value(protocol::feed_item_to_json(
                std::get<protocol::ChangesMessage>(messages[1]).page.changes[0])));
}

TEST(Live, MalformedServerMessagesAreReportedNotTrusted) {
  for (const char* bad :
       {"", "{}", R"({"type":"subscribed","dataset":"d1"})",
        R"({"type":"subscribed","dataset":"d1","cursor":9})",
        R"({"type":"changes","dataset":"d1","changes":{},"cursor":"1"})",
        R"({"type":"presence","dataset":"d1","peers":[{"connection":"c"}]})",
        R"({"type":"ack","id":1.5,"body":{"cursor":"1"}})", R"({"type":"ack","id":1,"body":[]})",
        R"({"type":"error","code":"no_such_code","message":"m"})", R"({"type":"gossip"})"}) {
    EXPECT_THROW(protocol::decode_server_message(bad), Error) << bad;
  }
}

TEST(Errors, ErrorBodiesEscapeAnyMessageAndRoundTrip) {
  const std::string message = "a \"quoted\" name, a back\\slash,\na newline and \x01";
  const std::string body =
      protocol::error_body(Code::sequence_gap, message, json::object{{"expected", 18}});
  const json::value parsed = j(body);  // valid JSON whatever the message holds
  EXPECT_EQ(parsed.at("error").at("code"), "sequence_gap");
  EXPECT_EQ(parsed.at("error").at("message").as_string(), message);
  const auto decoded = protocol::decode_error_body(body);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->code, "sequence_gap");
  EXPECT_EQ(decoded->message, message);
  EXPECT_EQ(decoded->details.at("expected"), 18);
  EXPECT_FALSE(protocol::decode_error_body(R"({"ok":true})"));
  EXPECT_FALSE(protocol::decode_error_body("not json"));
}

TEST(Errors, EveryCodeHasOneStableName) {
  for (int i = 0; i <= static_cast<int>(Code::unavailable); ++i) {
    const auto code = static_cast<Code>(i);
    EXPECT_EQ(protocol::code_from_name(protocol::code_name(code)), code) << i;
  }
  EXPECT_FALSE(protocol::code_from_name("no_such_code"));
}

TEST(SyncRequest, ManifestStoresMustBeAnArrayOfStoreNames) {
  protocol::ReplicaInterner replicas;
  for (const char* bad : {R"({"manifestStores": "graph"})", R"({"manifestStores": [1]})",
                          R"({"manifestStores": ["bad name"]})"}) {
    json::object body = j(bad).as_object();
    EXPECT_THROW(protocol::decode_patch_request(body, Limits{}, replicas, "anonymous"),
                 protocol::Refusal)
        << bad;
  }
}

TEST(Manifest, ChunksAreNamedByTheirBytesAndCutWhereTheirLastKeySays) {
  const std::string name = protocol::chunk_hash("[]");
  EXPECT_EQ(name.size(), 22u);
  EXPECT_EQ(protocol::chunk_hash("[]"), name);
  EXPECT_NE(protocol::chunk_hash("[ ]"), name);
  // The ETag covers the set of chunks and the span, whatever the order.
  EXPECT_EQ(protocol::manifest_etag(1, {"a", "b"}), protocol::manifest_etag(1, {"b", "a"}));
  EXPECT_NE(protocol::manifest_etag(1, {"a", "b"}), protocol::manifest_etag(2, {"a", "b"}));
  EXPECT_NE(protocol::manifest_etag(1, {"a", "b"}), protocol::manifest_etag(1, {"a"}));
  // A cut depends on the key alone: about one key in `span`.
  std::size_t cuts = 0;
  for (int i = 0; i < 8000; ++i) {
    const std::string key = "key" + std::to_string(i);
    EXPECT_TRUE(protocol::ends_chunk(key, 1));
    if (protocol::ends_chunk(key, 8)) ++cuts;
    EXPECT_EQ(protocol::ends_chunk(key, 8), protocol::ends_chunk(key, 8));
  }
  EXPECT_GT(cuts, 800u);
  EXPECT_LT(cuts, 1200u);
}

TEST(Manifest, AnAnswerOfChunksIsTakenOnlyWhenEachMatchesItsName) {
  protocol::ReplicaInterner replicas;
  protocol::FeedItem item{"graph", "a", 7, {}};
  item.entry.value = 1;
  item.entry.stamp = {Timestamp(5, 0), replicas.intern("r")};
  item.entry.schema_version = 1;
  const std::string one = protocol::encode_chunk({item});
  item.key = "b";
  const std::string two = protocol::encode_chunk({item});
  std::string answer;
  protocol::append_chunk(answer, protocol::chunk_hash(one), one);
  protocol::append_chunk(answer, protocol::chunk_hash(two), two);
  const auto chunks = protocol::split_chunks(answer);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[1].second, two);
  EXPECT_EQ(protocol::decode_chunk(chunks[1].second, replicas)[0].key, "b");
  EXPECT_TRUE(protocol::split_chunks("").empty());

  std::string tampered = answer;
  tampered[tampered.find("\"b\"") + 1] = 'c';
  EXPECT_THROW(protocol::split_chunks(tampered), Error);
  EXPECT_THROW(protocol::split_chunks(answer.substr(0, answer.size() - 1)), Error);
  EXPECT_THROW(protocol::split_chunks(protocol::chunk_hash(one) + " 99999\n" + one), Error);
  EXPECT_THROW(protocol::split_chunks("short 2\n[]"), Error);
  EXPECT_THROW(protocol::decode_chunk("{}", replicas), Error);
}

TEST(Manifest, ManifestsDecodeWholeOrAsADelta) {
  protocol::ManifestMessage full{
      "graph", 4, "etag", 3, 120, std::nullopt, {protocol::chunk_hash("1")}, {}};
  const protocol::ManifestMessage decoded =
      protocol::decode_manifest(protocol::encode_manifest(full));
  EXPECT_EQ(decoded.chunks, full.chunks);
  EXPECT_EQ(decoded.span, 4u);
  EXPECT_FALSE(decoded.base);
  protocol::ManifestMessage delta = full;
  delta.base = "older";
  delta.removed = {protocol::chunk_hash("2")};
  const protocol::ManifestMessage changes =
      protocol::decode_manifest(protocol::encode_manifest(delta));
  EXPECT_EQ(changes.base, "older");
  EXPECT_EQ(changes.chunks, delta.chunks);
  EXPECT_EQ(changes.removed, delta.removed);
  for (const char* bad :
       {R"({"store":"g","span":0,"etag":"e","entries":0,"bytes":0,"chunks":[]})",
        R"({"store":"g","span":1,"etag":"e","entries":0,"bytes":0,"chunks":["x"]})",
        R"({"store":"g","span":1,"etag":"e","entries":-1,"bytes":0,"chunks":[]})",
        R"({"store":"g","span":1,"etag":"e","entries":0,"bytes":0,"base":"b","added":[]})"}) {
    EXPECT_THROW(protocol::decode_manifest(bad), Error) << bad;
  }
}

}  // namespace
}  // namespace cairn::test
