// The `cairn` command-line tool, as a library function so that tools/cairn stays a thin entry
// point. See cli.cpp for the commands and docs/cli.md for their use.
#pragma once

#include <ostream>

namespace cairn::cli {

// Parses `argv` and runs one command. Returns the process exit code.
int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace cairn::cli
