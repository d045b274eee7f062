// Documents in libcairn: stores declared with MergePolicy::document(), whose entries are Yjs
// documents edited locally (committed with other writes, queued as Yjs updates) and merged with
// what other peers wrote.
#include <cairn/transaction.hpp>

#include "crdt/doc.hpp"
#include "foundation/base64.hpp"
#include "store/fixture.hpp"
#include "store/store_engine.hpp"

namespace cairn::test {
namespace {

std::span<const std::uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

std::string text_of(const crdt::Bytes& bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

DatabaseOptions notes_options() {
  DatabaseOptions options = roadmap_options();
  options.stores.push_back({"notes", 1, MergePolicy::document()});
  return options;
}

// A Yjs peer elsewhere: the whole state of `doc` as an update.
std::string state_of(const crdt::Doc& doc) {
  return text_of(doc.encode_state_as_update_v1());
}

class DocumentTest : public StoreTest {};

TEST_F(DocumentTest, EditsCommitQueueAsYjsUpdatesAndSurviveReopening) {
  {
    Database db = open(notes_options());
    auto tx = db.transaction();
    tx.edit_text("notes", "meeting", 0, 0, "Hello world");
    tx.edit_text("notes", "meeting", 5, 0, ",");  // on the document as the transaction left it
    tx.put("journal", "today", json(R"({"mood":"good"})"));
    tx.commit();
    EXPECT_EQ(db.document_text("notes", "meeting"), "Hello, world");

    const std::vector<OutboxRecord> outbox = db.outbox();
    ASSERT_EQ(outbox.size(), 3u);
    EXPECT_EQ(outbox[0].op, "update");
    EXPECT_EQ(outbox[0].store, "notes");
    EXPECT_EQ(outbox[1].op, "update");
    EXPECT_EQ(outbox[2].op, "put");
    // The queued updates are what Yjs reads: applied in order they give the document.
    crdt::Doc peer(7);
    for (int i = 0; i < 2; ++i) {
      const auto update = base64_decode(outbox[i].payload.at("update").as_string());
      ASSERT_TRUE(update);
      peer.apply_update_v1(bytes_of(*update));
    }
    EXPECT_EQ(peer.get("content", crdt::TypeKind::text).to_string(), "Hello, world");
  }
  Database db = open(notes_options());
  EXPECT_EQ(db.document_text("notes", "meeting"), "Hello, world");
  crdt::Doc loaded(9);
  loaded.apply_update_v1(bytes_of(db.document("notes", "meeting")));
  EXPECT_EQ(loaded.get("content", crdt::TypeKind::text).to_string(), "Hello, world");
  EXPECT_EQ(db.pending_count(), 3u);
  EXPECT_TRUE(db.document("notes", "never-written").empty());
  EXPECT_EQ(db.document_text("notes", "never-written"), "");
}

TEST_F(DocumentTest, PositionsCountUtf16CodeUnitsAsYjsDoes) {
  Database db = open(notes_options());
  auto tx = db.transaction();
  tx.edit_text("notes", "n", 0, 0, "a😀b");  // the emoji is two UTF-16 code units
  tx.commit();
  auto edit = db.transaction();
  edit.edit_text("notes", "n", 3, 1, "c");  // replaces "b"
  edit.commit();
  EXPECT_EQ(db.document_text("notes", "n"), "a😀c");
  auto beyond = db.transaction();
  EXPECT_EQ(error_code_of([&] { beyond.edit_text("notes", "n", 5, 0, "x"); }),
            ErrorCode::invalid_argument);
}

TEST_F(DocumentTest, UpdatesFromOtherPeersMergeWithLocalEdits) {
  Database db = open(notes_options());
  auto tx = db.transaction();
  tx.edit_text("notes", "shared", 0, 0, "middle");
  tx.commit();

  // A browser editor that had the document edits it concurrently with this device.
  crdt::Doc browser(4242);
  browser.apply_update_v1(bytes_of(db.document("notes", "shared")));
  crdt::Bytes browser_edit;
  browser.on_update([&](std::span<const std::uint8_t> bytes, const void*) {
    browser_edit.assign(bytes.begin(), bytes.end());
  });
  browser.text_insert(browser.get("content", crdt::TypeKind::text), 0, "start ");

  auto local = db.transaction();
  local.edit_text("notes", "shared", 6, 0, " end");
  local.commit();

  // What the server sends back (no outbox record) and what a peer hands over (queued).
  EXPECT_TRUE(engine_of(db).apply_document("notes", "shared", text_of(browser_edit)));
  EXPECT_FALSE(engine_of(db).apply_document("notes", "shared", text_of(browser_edit)));
  EXPECT_EQ(db.pending_count(), 2u);
  EXPECT_EQ(db.document_text("notes", "shared"), "start middle end");

  browser.apply_update_v1(bytes_of(db.document("notes", "shared")));
  EXPECT_EQ(browser.get("content", crdt::TypeKind::text).to_string(), "start middle end");

  // An update that adds nothing is no write.
  auto again = db.transaction();
  again.update_document("notes", "shared", state_of(browser));
  again.commit();
  EXPECT_EQ(db.pending_count(), 2u);
}

TEST_F(DocumentTest, ADocumentEditCommitsWithTheTransactionsOtherWritesOrNotAtAll) {
  DatabaseOptions options = notes_options();
  options.limits.max_store_bytes = 200;
  Database db = open(options);
  auto tx = db.transaction();
  tx.edit_text("notes", "n", 0, 0, "kept only if everything commits");
  tx.put("journal", "big", boost::json::value(std::string(300, 'x')));
  EXPECT_EQ(error_code_of([&] { tx.commit(); }), ErrorCode::quota_exceeded);
  EXPECT_TRUE(db.document("notes", "n").empty());
  EXPECT_EQ(db.pending_count(), 0u);
}

TEST_F(DocumentTest, WritesThatAreNotDocumentEditsAreRefused) {
  Database db = open(notes_options());
  auto tx = db.transaction();
  EXPECT_EQ(error_code_of([&] { tx.put("notes", "n", json(R"({"a":1})")); }),
            ErrorCode::invalid_argument);
  EXPECT_EQ(error_code_of([&] { tx.erase("notes", "n"); }), ErrorCode::invalid_argument);
  EXPECT_EQ(error_code_of([&] { tx.edit_text("journal", "n", 0, 0, "x"); }),
            ErrorCode::invalid_argument);
  EXPECT_EQ(error_code_of([&] { (void)db.document("journal", "n"); }), ErrorCode::invalid_argument);
  EXPECT_EQ(error_code_of([&] { tx.update_document("notes", "n", "\x05garbage"); }),
            ErrorCode::invalid_value);
  EXPECT_EQ(error_code_of([&] { tx.update_document("notes", "n", ""); }), ErrorCode::invalid_value);
  EXPECT_EQ(error_code_of([&] { tx.edit_text("notes", "with space", 0, 0, "x"); }),
            ErrorCode::invalid_key);
  EXPECT_EQ(tx.size(), 0u);
}

TEST_F(DocumentTest, SubscribersHearLocalEditsAndMergedUpdates) {
  Database db = open(notes_options());
  std::vector<Origin> heard;
  Subscription subscription =
      db.subscribe("notes", [&](const ChangeSet& changes) { heard.push_back(changes.origin); });
  auto tx = db.transaction();
  tx.edit_text("notes", "n", 0, 0, "local");
  tx.commit();
  crdt::Doc peer(99);
  peer.text_insert(peer.get("content", crdt::TypeKind::text), 0, "remote ");
  engine_of(db).apply_document("notes", "n", state_of(peer));
  ASSERT_EQ(heard.size(), 2u);
  EXPECT_EQ(heard[0], Origin::local);
  EXPECT_EQ(heard[1], Origin::remote);
  const std::string text = db.document_text("notes", "n");
  EXPECT_TRUE(text == "remote local" || text == "localremote ") << text;
}

}  // namespace
}  // namespace cairn::test
