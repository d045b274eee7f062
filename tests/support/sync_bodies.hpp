// The JSON of a change in Cairn's form, as tests send them in sync requests (docs/protocol.md).
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <string>
#include <string_view>

namespace cairn::test {

// {"seq", "store", "key", "op", payload members ("value", "set", "add", ...), "hlc"?}. The
// sequence number is a signed JSON integer, as any parsed request holds it.
inline boost::json::object change(std::uint64_t seq, std::string_view store, std::string_view key,
                                  std::string_view op, boost::json::object payload,
                                  std::string_view hlc = "") {
  boost::json::object c{
      {"seq", static_cast<std::int64_t>(seq)}, {"store", store}, {"key", key}, {"op", op}};
  for (auto& [name, value] : payload)
    c[name] = value;
  if (!hlc.empty()) c["hlc"] = hlc;
  return c;
}

// A sync request's body: a put of `key` in the journal store, numbered `seq` for client `client`,
// to `dataset` (the caller's personal one when empty).
inline boost::json::object journal_put(const std::string& client, std::uint64_t seq,
                                       const std::string& key, boost::json::value value,
                                       const std::string& dataset = "") {
  boost::json::object body{
      {"clientId", client},
      {"changes", boost::json::array{change(seq, "journal", key, "put", {{"value", value}})}}};
  if (!dataset.empty()) body["dataset"] = dataset;
  return body;
}

}  // namespace cairn::test
