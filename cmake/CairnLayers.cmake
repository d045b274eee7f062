# Cairn's layers, bottom to top (docs/architecture.md). Each layer is one CMake library target
# built from its directories; it may include and link only itself and the layers it `USES`
# (and what those use, transitively). Public headers (include/cairn/) belong to layers too.
#
# This file is read by src/CMakeLists.txt (to build the targets) and by cmake/CheckLayers.cmake,
# which runs as part of every `cmake --build` and fails it when a file includes a header of a
# layer above its own.
set(CAIRN_LAYERS foundation storage crdt merge protocol store sync testing server cli tools)

set(CAIRN_LAYER_foundation_DIRS src/foundation)
set(CAIRN_LAYER_foundation_HEADERS error.hpp clock.hpp version.hpp limits.hpp durability.hpp)
set(CAIRN_LAYER_foundation_USES)

set(CAIRN_LAYER_storage_DIRS src/storage)
set(CAIRN_LAYER_storage_HEADERS)
set(CAIRN_LAYER_storage_USES foundation)

set(CAIRN_LAYER_crdt_DIRS src/crdt)
set(CAIRN_LAYER_crdt_HEADERS)
set(CAIRN_LAYER_crdt_USES foundation)

set(CAIRN_LAYER_merge_DIRS src/merge)
set(CAIRN_LAYER_merge_HEADERS merge_policy.hpp)
set(CAIRN_LAYER_merge_USES foundation crdt)

set(CAIRN_LAYER_protocol_DIRS src/protocol)
set(CAIRN_LAYER_protocol_HEADERS)
set(CAIRN_LAYER_protocol_USES merge)

set(CAIRN_LAYER_store_DIRS src/store src/migration)
set(CAIRN_LAYER_store_HEADERS migration.hpp schema.hpp change.hpp entry.hpp database.hpp
  transaction.hpp)
set(CAIRN_LAYER_store_USES storage merge)

set(CAIRN_LAYER_sync_DIRS src/sync src/net)
set(CAIRN_LAYER_sync_HEADERS sync.hpp cairn.hpp)
set(CAIRN_LAYER_sync_USES store protocol)

set(CAIRN_LAYER_testing_DIRS src/testing)
set(CAIRN_LAYER_testing_HEADERS testing.hpp)
set(CAIRN_LAYER_testing_USES store)

set(CAIRN_LAYER_server_DIRS src/server)
set(CAIRN_LAYER_server_HEADERS)
set(CAIRN_LAYER_server_USES protocol store storage crdt)

set(CAIRN_LAYER_cli_DIRS src/cli)
set(CAIRN_LAYER_cli_HEADERS)
set(CAIRN_LAYER_cli_USES sync crdt)

set(CAIRN_LAYER_tools_DIRS tools)
set(CAIRN_LAYER_tools_HEADERS)
set(CAIRN_LAYER_tools_USES cli server)

# The layers `layer` may reach: itself and, transitively, what it uses.
function(cairn_layer_reach layer out)
  set(reach ${layer})
  set(queue ${CAIRN_LAYER_${layer}_USES})
  while(queue)
    list(POP_FRONT queue next)
    if(NOT next IN_LIST reach)
      list(APPEND reach ${next})
      list(APPEND queue ${CAIRN_LAYER_${next}_USES})
    endif()
  endwhile()
  set(${out} ${reach} PARENT_SCOPE)
endfunction()
