// cairnd: the sync server. All of it lives in src/server.
#include "server/cairnd.hpp"

int main(int argc, char** argv) {
  return cairn::server::cairnd_main(argc, argv);
}
