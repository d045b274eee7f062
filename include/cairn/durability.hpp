// cairn/durability.hpp — how hard a commit is pushed to the disk before it returns.
#pragma once

namespace cairn {

enum class Durability {
  normal,  // WAL with synchronous=NORMAL: a commit survives the process being killed at any instant
  full,    // WAL with synchronous=FULL: a commit also survives power loss, at the cost of an fsync
};

}  // namespace cairn
