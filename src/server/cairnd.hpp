// cairnd's command line: flags, the optional JSON config file, logging, and the server's life.
#pragma once

namespace cairn::server {

int cairnd_main(int argc, char** argv);

}  // namespace cairn::server
