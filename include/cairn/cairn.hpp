// <cairn/cairn.hpp> — everything an application needs from libcairn.
//
// Start with Database::open (database.hpp) and Transaction (transaction.hpp).
#pragma once

#include <cairn/change.hpp>
#include <cairn/clock.hpp>
#include <cairn/database.hpp>
#include <cairn/entry.hpp>
#include <cairn/error.hpp>
#include <cairn/migration.hpp>
#include <cairn/schema.hpp>
#include <cairn/sync.hpp>
#include <cairn/transaction.hpp>
#include <cairn/version.hpp>
