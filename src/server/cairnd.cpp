#include "server/cairnd.hpp"

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cairn/version.hpp>
#include <fstream>
#include <iostream>
#include <sstream>

#include "server/server.hpp"

namespace cairn::server {
namespace json = boost::json;

namespace {

// Settings from the config file; flags given on the command line win over them.
void apply_config(const std::string& file, ServerOptions& options, std::string& log_level,
                  const CLI::App& app) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error("cannot read config file '" + file + "'");
  std::stringstream text;
  text << in.rdbuf();
  std::error_code error;
  json::value config = json::parse(text.str(), error);
  if (error || !config.is_object()) {
    throw std::runtime_error("config file '" + file + "' is not a JSON object");
  }
  const auto given = [&](const char* flag) { return app.count(flag) > 0; };
  for (const auto& [key, value] : config.get_object()) {
    if (key == "address" && value.is_string() && !given("--address")) {
      options.http.address = value.get_string();
    } else if (key == "port" && value.is_int64() && !given("--port")) {
      options.http.port = static_cast<std::uint16_t>(value.get_int64());
    } else if (key == "data" && value.is_string() && !given("--data")) {
      options.data_dir = std::string(value.get_string());
    } else if (key == "threads" && value.is_int64() && !given("--threads")) {
      options.http.threads = static_cast<int>(value.get_int64());
    } else if (key == "logLevel" && value.is_string() && !given("--log-level")) {
      log_level = value.get_string();
    } else if (key == "maxBodyBytes" && value.is_int64()) {
      options.http.body_limit = static_cast<std::size_t>(value.get_int64());
    } else {
      throw std::runtime_error("config file '" + file + "': unknown or mistyped setting '" +
                               std::string(key) + "'");
    }
  }
}

}  // namespace

int cairnd_main(int argc, char** argv) {
  CLI::App app{"cairnd: the Cairn sync server", "cairnd"};
  app.set_version_flag("--version", std::string(kVersion));
  ServerOptions options;
  std::string config_file;
  std::string log_level = "info";
  app.add_option("--config", config_file, "JSON config file (settings as in docs/operations.md)");
  app.add_option("--address", options.http.address, "Address to listen on")->capture_default_str();
  app.add_option("--port", options.http.port, "TCP port; 0 picks a free one")
      ->capture_default_str();
  app.add_option("--data", options.data_dir, "Data directory (SQLite files)")
      ->capture_default_str();
  app.add_option("--threads", options.http.threads, "Worker threads; 0 = one per core")
      ->capture_default_str();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
    if (!config_file.empty()) apply_config(config_file, options, log_level, app);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const std::exception& e) {
    std::cerr << "cairnd: " << e.what() << '\n';
    return 2;
  }

  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  spdlog::set_level(spdlog::level::from_str(log_level));
  try {
    Server server(options);
    spdlog::info("cairnd version={} listening=http://{}:{} data={}", kVersion, options.http.address,
                 server.port(), options.data_dir.string());
    spdlog::default_logger()->flush();
    server.run();
    spdlog::info("cairnd stopped");
  } catch (const std::exception& e) {
    spdlog::critical("cairnd cannot run: {}", e.what());
    return 1;
  }
  return 0;
}

}  // namespace cairn::server
