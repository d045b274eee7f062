# Every dependency comes from a Debian 12 package (see scripts/install-deps.sh) and is found
# here, once, for the whole tree.
find_package(Threads REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(Boost 1.81 REQUIRED COMPONENTS json url)
find_package(OpenSSL 3 REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 REQUIRED)
# libpq (libpq-dev) for cairnd's PostgreSQL storage, through its pkg-config file.
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq)
