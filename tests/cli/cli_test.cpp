// The `cairn` CLI, run as a real process against real database files.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cairn/cairn.hpp>
#include <fstream>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace cairn::test {
namespace {
namespace json = boost::json;

RunResult cairn_cli(std::vector<std::string> args, const std::string& input = "") {
  args.insert(args.begin(), CAIRN_CLI_PATH);
  return run(args, input);
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DatabaseOptions options;
    options.stores = {{"journal", 1, MergePolicy::whole_entry()},
                      {"playerStatistics", 2, MergePolicy::per_field({"xp"})}};
    Database db = Database::open(db_path(), options);
    db.put("journal", "2026/02/01/10:00", json::parse(R"({"text":"Walked","mood":4})"));
    db.put("playerStatistics", "cooking", json::parse(R"({"xp":120,"level":3})"));
  }
  std::string db_path() const { return (dir_ / "app.db").string(); }

  TempDir dir_;
};

TEST_F(CliTest, InspectShowsStoresVersionsCountsAndPendingOutbox) {
  const RunResult result = cairn_cli({"inspect", db_path()});
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_NE(result.out.find("2 pending changes"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("playerStatistics  2        field-lww counters=xp"), std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find("journal"), std::string::npos);
}

TEST_F(CliTest, InspectJsonIsMachineReadable) {
  const RunResult result = cairn_cli({"inspect", db_path(), "--json"});
  ASSERT_EQ(result.status, 0) << result.err;
  const json::value report = json::parse(result.out);
  EXPECT_EQ(report.at("pendingChanges"), 2);
  const auto& stores = report.at("stores").as_array();
  ASSERT_EQ(stores.size(), 2u);
  EXPECT_EQ(stores[1].at("name"), "playerStatistics");
  EXPECT_EQ(stores[1].at("version"), 2);
  EXPECT_EQ(stores[1].at("entries"), 1);
  EXPECT_EQ(stores[1].at("policy"), json::parse(R"({"merge":"field-lww","counters":["xp"]})"));
}

TEST_F(CliTest, GetPutAndDeleteWorkWithoutTheApplicationsCode) {
  RunResult result = cairn_cli({"get", db_path(), "journal", "2026/02/01/10:00"});
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(json::parse(result.out), json::parse(R"({"text":"Walked","mood":4})"));

  result = cairn_cli({"put", db_path(), "playerStatistics", "cooking", R"({"xp":150,"level":3})"});
  ASSERT_EQ(result.status, 0) << result.err;
  result = cairn_cli({"get", db_path(), "playerStatistics", "cooking", "--json"});
  const json::value entry = json::parse(result.out);
  EXPECT_EQ(entry.at("value"), json::parse(R"({"xp":150,"level":3})"));
  EXPECT_EQ(entry.at("pending"), true);
  EXPECT_EQ(entry.at("schemaVersion"), 2);

  result = cairn_cli({"delete", db_path(), "journal", "2026/02/01/10:00"});
  ASSERT_EQ(result.status, 0) << result.err;
  result = cairn_cli({"get", db_path(), "journal", "2026/02/01/10:00"});
  EXPECT_EQ(result.status, 3);
  EXPECT_NE(result.err.find("no entry"), std::string::npos);

  // The CLI's writes went through the outbox like the application's.
  result = cairn_cli({"outbox", db_path(), "--json"});
  const json::value outbox = json::parse(result.out);
  EXPECT_EQ(outbox.at("pending"), 4);
  EXPECT_EQ(outbox.at("records").as_array()[2].at("payload"), json::parse(R"({"add":{"xp":30}})"));
  EXPECT_EQ(outbox.at("records").as_array()[3].at("op"), "delete");
}

TEST_F(CliTest, ExportThenImportReproducesTheStores) {
  const RunResult exported = cairn_cli({"export", db_path()});
  ASSERT_EQ(exported.status, 0) << exported.err;
  const std::string copy = (dir_ / "copy.db").string();
  const RunResult imported = cairn_cli({"import", copy, "-"}, exported.out);
  ASSERT_EQ(imported.status, 0) << imported.err;
  EXPECT_NE(imported.out.find("imported 2 entries into 2 stores"), std::string::npos);
  const RunResult again = cairn_cli({"export", copy});
  EXPECT_EQ(json::parse(again.out), json::parse(exported.out));
  Database db = Database::open(copy, {});
  EXPECT_EQ(db.store_info("playerStatistics").schema.policy, MergePolicy::per_field({"xp"}));
}

TEST_F(CliTest, ErrorsExitNonZeroWithAClearMessage) {
  RunResult result = cairn_cli({"get", db_path(), "nope", "k"});
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.err.find("[unknown_store]"), std::string::npos) << result.err;

  result = cairn_cli({"put", db_path(), "journal", "k", "{not json"});
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.err.find("not valid JSON"), std::string::npos) << result.err;

  result = cairn_cli({"inspect", (dir_ / "missing.db").string()});
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.err.find("[not_found]"), std::string::npos) << result.err;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "missing.db"));

  const std::string notes = (dir_ / "notes.txt").string();
  std::ofstream(notes) << "just some text\n";
  result = cairn_cli({"inspect", notes});
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.err.find("[not_a_cairn_database]"), std::string::npos) << result.err;

  result = cairn_cli({"import", db_path(), notes});
  EXPECT_EQ(result.status, 1);

  result = cairn_cli({"frobnicate"});
  EXPECT_EQ(result.status, 2);
  result = cairn_cli({"get", db_path()});
  EXPECT_EQ(result.status, 2);
}

TEST_F(CliTest, InitCreatesADatabaseWithTheStoresOfASchemaFile) {
  const std::string schema = (dir_ / "schema.json").string();
  std::ofstream(schema) << R"({"stores": {"notes": {"version": 2, "policy": {"merge": "field-lww",
                              "counters": ["views"]}}}})";
  const std::string fresh = (dir_ / "fresh.db").string();
  RunResult result = cairn_cli({"init", fresh, "--schema", schema});
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_NE(result.out.find("notes (version 2, field-lww counters=views)"), std::string::npos)
      << result.out;
  const json::value report = json::parse(cairn_cli({"inspect", fresh, "--json"}).out);
  EXPECT_EQ(report.at("stores").at(0).at("name"), "notes");
  EXPECT_EQ(report.at("stores").at(0).at("version"), 2);

  const std::string empty = (dir_ / "empty.db").string();
  result = cairn_cli({"init", empty, "--json"});
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(json::parse(result.out).at("stores"), json::array{});

  result = cairn_cli({"init", db_path()});  // never over an existing database
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.err.find("already exists"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("cairn migrate"), std::string::npos) << result.err;
}

TEST_F(CliTest, PutSaysHowToCreateWhatIsMissingAndCreateDoesIt) {
  const std::string fresh = (dir_ / "fresh.db").string();
  RunResult result = cairn_cli({"put", fresh, "journal", "k", R"({"text":"hi"})"});
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.err.find("[not_found]"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("cairn init"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("--create"), std::string::npos) << result.err;
  EXPECT_FALSE(std::filesystem::exists(fresh));

  result = cairn_cli({"put", "--create", fresh, "journal", "k", R"({"text":"hi"})"});
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(json::parse(cairn_cli({"get", fresh, "journal", "k"}).out),
            json::parse(R"({"text":"hi"})"));

  result = cairn_cli({"put", db_path(), "notes", "k", "1"});  // a store the database lacks
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.err.find("[unknown_store]"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("--create"), std::string::npos) << result.err;
  result = cairn_cli({"put", db_path(), "notes", "k", "1", "--create"});
  ASSERT_EQ(result.status, 0) << result.err;
  const json::value report = json::parse(cairn_cli({"inspect", db_path(), "--json"}).out);
  ASSERT_EQ(report.at("stores").as_array().size(), 3u);  // the others kept as they were
  EXPECT_EQ(report.at("stores").at(1).at("name"), "notes");
  EXPECT_EQ(report.at("stores").at(1).at("policy"), json::parse(R"({"merge":"lww"})"));
  EXPECT_EQ(report.at("stores").at(2).at("version"), 2);
}

// Numbers are written as people and JavaScript write them.
TEST_F(CliTest, NumbersAreWrittenTheWayJavaScriptWritesThem) {
  ASSERT_EQ(cairn_cli({"put", db_path(), "journal", "n",
                       R"({"a":0.3,"b":1e21,"c":1e-7,"d":2.5,"e":100,"f":-0.0001})"})
                .status,
            0);
  const std::string expected = R"({"a":0.3,"b":1e+21,"c":1e-7,"d":2.5,"e":100,"f":-0.0001})";
  const RunResult get = cairn_cli({"get", db_path(), "journal", "n", "--json"});
  EXPECT_NE(get.out.find(expected), std::string::npos) << get.out;
  const RunResult exported = cairn_cli({"export", db_path()});
  EXPECT_NE(exported.out.find("\"a\": 0.3,"), std::string::npos) << exported.out;
  EXPECT_EQ(exported.out.find("E-1"), std::string::npos) << exported.out;
  const RunResult outbox = cairn_cli({"outbox", db_path(), "--json"});
  EXPECT_NE(outbox.out.find(expected), std::string::npos) << outbox.out;
}

TEST_F(CliTest, ReadCommandsWorkWhileTheApplicationHasTheDatabaseOpen) {
  DatabaseOptions options;
  options.stores = {{"journal", 1, MergePolicy::whole_entry()}};
  Database app = Database::open(db_path(), options);
  app.put("journal", "live", json::parse("1"));
  EXPECT_EQ(cairn_cli({"get", db_path(), "journal", "live"}).status, 0);
  const RunResult write = cairn_cli({"put", db_path(), "journal", "k", "1"});
  EXPECT_EQ(write.status, 1);
  EXPECT_NE(write.err.find("[database_locked]"), std::string::npos) << write.err;
}

TEST_F(CliTest, HelpIsAvailableEverywhere) {
  for (const char* command : {"init", "inspect", "get", "put", "delete", "export", "import",
                              "outbox", "migrate", "backups", "restore"}) {
    const RunResult result = cairn_cli({command, "--help"});
    EXPECT_EQ(result.status, 0) << command;
    EXPECT_NE(result.out.find("DB"), std::string::npos) << command;
  }
  EXPECT_EQ(cairn_cli({"--help"}).status, 0);
}

}  // namespace
}  // namespace cairn::test

namespace cairn::test {
namespace {

constexpr const char* kSchemaV2 = R"({"stores": {
  "journal": {"version": 2, "policy": {"merge": "lww"}, "migrations": [
    {"from": 1, "ops": [{"op": "rename", "from": "text", "to": "body"}]}]},
  "playerStatistics": {"version": 2, "policy": {"merge": "field-lww", "counters": ["xp"]}}}})";

class MigrateCliTest : public CliTest {
 protected:
  std::string schema(const std::string& text) {
    const std::string file = (dir_ / "schema.json").string();
    std::ofstream(file) << text;
    return file;
  }
};

TEST_F(MigrateCliTest, ADryRunPrintsThePlanAndADiffAndChangesNothing) {
  const std::string before = read_bytes(db_path());
  const RunResult result =
      cairn_cli({"migrate", db_path(), "--schema", schema(kSchemaV2), "--dry-run"});
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_NE(result.out.find("journal: version 1 -> 2 (1 entries)"), std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find("step 1 -> 2: rename text -> body"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("- text: \"Walked\""), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("+ body: \"Walked\""), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("playerStatistics: up to date at version 2"), std::string::npos);
  EXPECT_EQ(read_bytes(db_path()), before);
}

TEST_F(MigrateCliTest, MigrateThenListAndRestoreBackups) {
  RunResult result = cairn_cli({"migrate", db_path(), "--schema", schema(kSchemaV2)});
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_NE(result.out.find("journal: migrated 1 -> 2 (1 entries"), std::string::npos)
      << result.out;
  result = cairn_cli({"get", db_path(), "journal", "2026/02/01/10:00"});
  EXPECT_EQ(json::parse(result.out), json::parse(R"({"body":"Walked","mood":4})"));

  result = cairn_cli({"backups", db_path(), "--json"});
  ASSERT_EQ(result.status, 0) << result.err;
  const auto backups = json::parse(result.out).at("backups").as_array();
  ASSERT_EQ(backups.size(), 1u);
  EXPECT_EQ(backups[0].at("store"), "journal");
  EXPECT_EQ(backups[0].at("from"), 1);

  const std::string id = std::to_string(backups[0].at("id").as_int64());
  result = cairn_cli({"restore", db_path(), "journal", id});
  ASSERT_EQ(result.status, 0) << result.err;
  result = cairn_cli({"get", db_path(), "journal", "2026/02/01/10:00"});
  EXPECT_EQ(json::parse(result.out), json::parse(R"({"text":"Walked","mood":4})"));
  result = cairn_cli({"inspect", db_path(), "--json"});
  EXPECT_EQ(json::parse(result.out).at("stores").as_array()[0].at("version"), 1);
}

TEST_F(MigrateCliTest, ADryRunFindsAFailureBeforeItHappens) {
  const RunResult result =
      cairn_cli({"migrate", db_path(), "--dry-run", "--schema",
                 schema(R"({"stores": {"journal": {"version": 2, "migrations": [
         {"from": 1, "ops": [{"op": "add", "path": "meta.tags", "value": []}]}]}}})")});
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.out.find("would fail"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("'meta' is missing"), std::string::npos) << result.out;
}

TEST_F(MigrateCliTest, ABadSchemaFileIsAClearError) {
  const RunResult result = cairn_cli(
      {"migrate", db_path(), "--schema", schema(R"({"stores": {"journal": {"version": 0}}})")});
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.err.find("[invalid_argument]"), std::string::npos) << result.err;
  EXPECT_EQ(cairn_cli({"migrate", db_path()}).status, 2);  // --schema is required
}

}  // namespace
}  // namespace cairn::test

namespace cairn::test {
namespace {

// `cairn ydoc` on the fixed vectors the real Yjs wrote (tests/crdt/vectors).
std::string vector_path(const std::string& name) {
  return std::string(CAIRN_TEST_VECTORS_DIR) + "/" + name;
}

TEST(YdocCliTest, ShowPrintsEachRootAsYjsShowsIt) {
  const json::value expected = json::parse(read_bytes(vector_path("expected.json")));
  RunResult result =
      cairn_cli({"ydoc", "show", vector_path("base.update"), vector_path("edit.update")});
  ASSERT_EQ(result.status, 0) << result.err;
  json::value shown = json::parse(result.out);
  shown.at("meta").as_object().erase("sub");  // Yjs has no JSON for a subdocument
  EXPECT_EQ(shown, expected.at("show"));

  // --delta, and an update from standard input.
  result = cairn_cli({"ydoc", "show", "--delta", "-"}, read_bytes(vector_path("state.update")));
  ASSERT_EQ(result.status, 0) << result.err;
  shown = json::parse(result.out);
  shown.at("meta").as_object().erase("sub");
  EXPECT_EQ(shown, expected.at("delta"));

  // --type overrides the inference.
  result = cairn_cli({"ydoc", "show", "--type", "list=map", vector_path("state.update")});
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(json::parse(result.out).at("list"), json::object());
}

TEST(YdocCliTest, MergeDiffAndStateVectorWriteYjssBytes) {
  TempDir dir;
  const auto output = [&](const RunResult& result) {
    EXPECT_EQ(result.status, 0) << result.err;
    return result.out;
  };
  EXPECT_EQ(
      output(cairn_cli({"ydoc", "merge", vector_path("base.update"), vector_path("edit.update")})),
      read_bytes(vector_path("merged.update")));
  EXPECT_EQ(output(cairn_cli(
                {"ydoc", "state-vector", vector_path("base.update"), vector_path("edit.update")})),
            read_bytes(vector_path("merged.sv")));
  EXPECT_EQ(
      output(cairn_cli({"ydoc", "diff", vector_path("merged.update"), vector_path("base.sv")})),
      read_bytes(vector_path("diff.update")));
  // --v2: the same in update format v2.
  EXPECT_EQ(output(cairn_cli({"ydoc", "merge", "--v2", vector_path("base.update2"),
                              vector_path("edit.update2")})),
            read_bytes(vector_path("merged.update2")));
  EXPECT_EQ(output(cairn_cli({"ydoc", "state-vector", "--v2", vector_path("merged.update2")})),
            read_bytes(vector_path("merged.sv")));
  EXPECT_EQ(output(cairn_cli(
                {"ydoc", "diff", "--v2", vector_path("merged.update2"), vector_path("base.sv")})),
            read_bytes(vector_path("diff.update2")));
  const json::value expected = json::parse(read_bytes(vector_path("expected.json")));
  json::value shown =
      json::parse(output(cairn_cli({"ydoc", "show", "--v2", vector_path("state.update2")})));
  shown.at("meta").as_object().erase("sub");
  EXPECT_EQ(shown, expected.at("show"));
  // A v2 update read as v1 is refused, and the error says how to read it.
  const RunResult wrong = cairn_cli({"ydoc", "show", vector_path("state.update2")});
  EXPECT_EQ(wrong.status, 1);
  EXPECT_NE(wrong.err.find("--v2"), std::string::npos) << wrong.err;
}

TEST(YdocCliTest, WhatIsNotAnUpdateIsAClearErrorNamingTheFile) {
  RunResult result =
      cairn_cli({"ydoc", "show", vector_path("base.update"), vector_path("base.sv")});
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.err.find("base.sv' is not a Yjs update"), std::string::npos) << result.err;
  result = cairn_cli({"ydoc", "diff", vector_path("base.update"), vector_path("expected.json")});
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.err.find("is not a Yjs state vector"), std::string::npos) << result.err;
  result = cairn_cli({"ydoc", "show", "--type", "title=tree", vector_path("base.update")});
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.err.find("NAME=text"), std::string::npos) << result.err;
  // What an update depends on but was not given is said, not silently dropped.
  result = cairn_cli({"ydoc", "show", vector_path("edit.update")});
  EXPECT_EQ(result.status, 0);
  EXPECT_NE(result.err.find("depend on updates that were not given"), std::string::npos);
  EXPECT_EQ(cairn_cli({"ydoc"}).status, 2);
  EXPECT_EQ(cairn_cli({"ydoc", "show", "--help"}).status, 0);
}

}  // namespace
}  // namespace cairn::test

namespace cairn::test {
namespace {

// `cairn ydoc extract` reads a document out of a database file, for `cairn ydoc show`.
TEST(YdocCliTest, ExtractAndEditADatabasesDocument) {
  TempDir dir;
  const auto path = dir / "app.db";
  {
    DatabaseOptions options;
    options.stores = {{"notes", 1, MergePolicy::document()}, {"journal", 1, MergePolicy{}}};
    Database db = Database::open(path, options);
    auto tx = db.transaction();
    tx.edit_text("notes", "plan", 0, 0, "Ship the docs");
    tx.commit();
  }
  const RunResult got = cairn_cli({"ydoc", "extract", path.string(), "notes", "plan"});
  ASSERT_EQ(got.status, 0) << got.err;
  const RunResult shown = cairn_cli({"ydoc", "show", "-"}, got.out);
  ASSERT_EQ(shown.status, 0) << shown.err;
  EXPECT_EQ(json::parse(shown.out), json::parse(R"({"content":"Ship the docs"})"));
  // The stores say their policy.
  const RunResult stores = cairn_cli({"inspect", path.string()});
  EXPECT_NE(stores.out.find("text"), std::string::npos) << stores.out;

  // `cairn ydoc edit` edits it (at the end by default), queued for `cairn sync`.
  RunResult edited =
      cairn_cli({"ydoc", "edit", path.string(), "notes", "plan", "--insert", " today"});
  ASSERT_EQ(edited.status, 0) << edited.err;
  EXPECT_NE(edited.out.find("2 pending"), std::string::npos) << edited.out;
  edited = cairn_cli({"ydoc", "edit", path.string(), "notes", "plan", "--at", "0", "--erase", "4",
                      "--insert", "Write"});
  ASSERT_EQ(edited.status, 0) << edited.err;
  EXPECT_EQ(
      json::parse(cairn_cli({"ydoc", "show", "-"},
                            cairn_cli({"ydoc", "extract", path.string(), "notes", "plan"}).out)
                      .out),
      json::parse(R"({"content":"Write the docs today"})"));
  EXPECT_NE(
      cairn_cli({"ydoc", "edit", path.string(), "notes", "plan", "--at", "99", "--insert", "x"})
          .status,
      0);
  const auto fresh = dir / "fresh.db";
  edited = cairn_cli({"ydoc", "edit", fresh.string(), "notes", "n", "--create", "--insert", "hi"});
  ASSERT_EQ(edited.status, 0) << edited.err;
  EXPECT_NE(cairn_cli({"inspect", fresh.string()}).out.find("text"), std::string::npos);

  const RunResult missing = cairn_cli({"ydoc", "extract", path.string(), "notes", "nope"});
  EXPECT_NE(missing.status, 0);
  EXPECT_NE(missing.err.find("no document 'nope'"), std::string::npos) << missing.err;
  const RunResult wrong_store = cairn_cli({"ydoc", "extract", path.string(), "journal", "x"});
  EXPECT_NE(wrong_store.status, 0);
  EXPECT_NE(wrong_store.err.find("holds no documents"), std::string::npos) << wrong_store.err;
}

}  // namespace
}  // namespace cairn::test
