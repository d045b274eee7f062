// cairn: the command-line tool. All of it lives in src/cli.
#include <iostream>

#include "cli/cli.hpp"

int main(int argc, char** argv) {
  return cairn::cli::run(argc, argv, std::cout, std::cerr);
}
