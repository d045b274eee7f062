#include "cli/sync_command.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <cairn/cairn.hpp>

#include "cli/command.hpp"
#include "foundation/json_text.hpp"

namespace cairn::cli {
namespace json = boost::json;

namespace {

std::string when(std::int64_t ms) {
  return ms == 0 ? "never" : Timestamp(static_cast<std::uint64_t>(ms), 0).to_string();
}

}  // namespace

void show_status(const std::string& path, bool show_token, bool as_json, std::ostream& out) {
  Database db = Database::open(path, writable_options());
  const SyncStatus status = SyncClient::stored_status(db);
  if (show_token) {
    out << SyncClient::stored_token(db) << '\n';
    return;
  }
  const auto pending = db.pending_count();
  if (as_json) {
    out << json_text(json::object{{"pending", pending},
                                  {"lastSuccess", status.last_success_ms},
                                  {"lastErrorTime", status.last_error_ms},
                                  {"lastError", status.last_error},
                                  {"userId", status.user_id},
                                  {"dataset", status.dataset},
                                  {"heldBack", status.held_back}})
        << '\n';
    return;
  }
  out << "pending       " << pending << " change" << (pending == 1 ? "" : "s") << '\n'
      << "last success  " << when(status.last_success_ms) << '\n'
      << "last error    "
      << (status.last_error.empty() ? std::string("none")
                                    : when(status.last_error_ms) + "  " + status.last_error)
      << '\n'
      << "user          " << (status.user_id.empty() ? "-" : status.user_id) << '\n'
      << "dataset       " << (status.dataset.empty() ? "-" : status.dataset) << '\n';
  if (status.held_back) {
    out << "note          the server holds entries written by a newer schema; upgrade to see "
           "them\n";
  }
}

void sync(const std::string& path, const SyncArguments& arguments, bool as_json,
          std::ostream& out) {
  Database db = Database::open(path, writable_options());
  SyncOptions options;
  options.server = arguments.server;
  options.token = arguments.token;
  options.dataset = arguments.dataset;
  const SyncReport report = SyncClient::sync_once(db, options, arguments.full);
  if (as_json) {
    out << json_text(json::object{{"sent", report.sent},
                                  {"acknowledged", report.acknowledged},
                                  {"received", report.received},
                                  {"applied", report.applied},
                                  {"heldBack", report.held_back},
                                  {"skipped", report.skipped},
                                  {"conflicts", report.conflicts},
                                  {"full", report.full},
                                  {"renumbered", report.renumbered},
                                  {"resent", report.resent},
                                  {"newReplica", report.new_replica},
                                  {"pending", db.pending_count()}})
        << '\n';
    return;
  }
  out << fmt::format("sent {} change{} ({} acknowledged), received {} entr{} ({} changed here)",
                     report.sent, report.sent == 1 ? "" : "s", report.acknowledged, report.received,
                     report.received == 1 ? "y" : "ies", report.applied);
  if (report.conflicts > 0)
    out << fmt::format(", {} conflicts decided by the server", report.conflicts);
  if (report.held_back > 0) out << fmt::format(", {} held back (newer schema)", report.held_back);
  if (report.skipped > 0) {
    out << fmt::format(", {} skipped (stores this database does not have)", report.skipped);
  }
  if (report.full) out << " — full sync";
  out << '\n';
  if (report.renumbered) {
    out << fmt::format(
        "the server had lost changes it acknowledged (restored from a backup?): the outbox was "
        "numbered again from where it stands, and {} of this database's writes were sent again\n",
        report.resent);
  }
  if (report.new_replica) {
    out << "the server had other changes under this database's numbers (restored or copied?): "
           "it continues as replica "
        << db.replica_id() << '\n';
  }
  out << db.pending_count() << " pending\n";
}

}  // namespace cairn::cli
