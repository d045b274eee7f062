// The update format, v1 and v2 (codec.hpp): decoding structs and delete sets, integrating them
// with what waits for missing dependencies, encoding a document's state, and merging, diffing and
// converting updates without a document (Yjs: utils/encoding.js, utils/DeleteSet.js,
// utils/updates.js).
#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

#include "crdt/codec.hpp"
#include "crdt/store.hpp"

namespace cairn::crdt {

namespace {

std::uint64_t add_clock(std::uint64_t clock, std::uint64_t length) {
  if (length > codec::kMaxClock - clock) throw DecodeError("a clock in the update is too large");
  return clock + length;
}

// JavaScript truthiness of a decoded value.
bool truthy(const Any& any) {
  return std::visit(
      [](const auto& v) -> bool {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, Any::Undefined> || std::is_same_v<T, std::nullptr_t>) {
          return false;
        } else if constexpr (std::is_same_v<T, double>) {
          return v != 0 && !std::isnan(v);
        } else if constexpr (std::is_same_v<T, Any::BigInt>) {
          return v.value != 0;
        } else if constexpr (std::is_same_v<T, bool>) {
          return v;
        } else if constexpr (std::is_same_v<T, std::string>) {
          return !v.empty();
        } else {
          return true;
        }
      },
      any.value);
}

// A subdocument's options as Yjs keeps them: gc only when false, autoLoad only when true, meta
// only when set.
Any subdoc_options(const Any& given) {
  Any::Object options;
  if (const auto* object = std::get_if<Any::Object>(&given.value)) {
    const auto member = [&](std::string_view key) -> const Any* {
      for (const auto& [name, value] : *object)
        if (name == key) return &value;
      return nullptr;
    };
    if (const Any* gc = member("gc"); gc != nullptr && !gc->is_undefined() && !truthy(*gc)) {
      options.emplace_back("gc", false);
    }
    if (const Any* auto_load = member("autoLoad"); auto_load != nullptr && truthy(*auto_load)) {
      options.emplace_back("autoLoad", true);
    }
    if (const Any* meta = member("meta"); meta != nullptr && !meta->is_undefined() &&
                                          !std::holds_alternative<std::nullptr_t>(meta->value)) {
      options.emplace_back("meta", *meta);
    }
  }
  return Any(std::move(options));
}

std::uint8_t type_ref(TypeKind kind) {
  switch (kind) {
    case TypeKind::unknown:
    case TypeKind::array:
      return 0;
    case TypeKind::map:
      return 1;
    case TypeKind::text:
      return 2;
    case TypeKind::xml_element:
      return 3;
    case TypeKind::xml_fragment:
      return 4;
    case TypeKind::xml_hook:
      return 5;
    case TypeKind::xml_text:
      return 6;
  }
  return 0;
}

// --- contents ---

template <class Reader>
Content read_content(Reader& in, std::uint8_t ref) {
  switch (ref) {
    case 1:
      return ContentDeleted{in.len()};
    case 2: {
      const std::uint64_t count = in.len();
      if (count > in.budget()) throw DecodeError("the update ends early");
      ContentJson json;
      for (std::uint64_t i = 0; i < count; ++i) {
        const std::string text = in.string();
        json.values.push_back(text == "undefined" ? Any() : any_from_json(text));  // JSON.parse
      }
      return json;
    }
    case 3: {
      const auto bytes = in.buf();
      return ContentBinary{Bytes(bytes.begin(), bytes.end())};
    }
    case 4:
      return ContentString{in.string16()};
    case 5:
      return ContentEmbed{std::make_unique<const Any>(in.json())};  // Yjs parses it as it reads
    case 6: {
      std::string key = in.key();
      return ContentFormat{std::make_shared<const std::string>(std::move(key)),
                           std::make_shared<const Any>(in.json())};
    }
    case 7: {
      const std::uint64_t type = in.type_ref();
      switch (type) {
        case 0:
          return ContentType{std::make_unique<Type>(TypeKind::array)};
        case 1:
          return ContentType{std::make_unique<Type>(TypeKind::map)};
        case 2:
          return ContentType{std::make_unique<Type>(TypeKind::text)};
        case 3:
          return ContentType{std::make_unique<Type>(TypeKind::xml_element, in.key())};
        case 4:
          return ContentType{std::make_unique<Type>(TypeKind::xml_fragment)};
        case 5:
          return ContentType{std::make_unique<Type>(TypeKind::xml_hook, in.key())};
        case 6:
          return ContentType{std::make_unique<Type>(TypeKind::xml_text)};
        default:
          throw DecodeError("a shared type of an unknown kind in the update");
      }
    }
    case 8: {
      const std::uint64_t count = in.len();
      if (count > in.rest().remaining()) throw DecodeError("the update ends early");
      ContentAny any;
      any.values.reserve(static_cast<std::size_t>(count));
      for (std::uint64_t i = 0; i < count; ++i)
        any.values.push_back(in.any());
      return any;
    }
    case 9: {
      std::string guid = in.string();
      return ContentDoc{std::make_shared<const std::string>(std::move(guid)),
                        std::make_unique<const Any>(subdoc_options(in.any()))};
    }
    default:
      throw DecodeError("content of an unknown kind in the update");
  }
}

template <class Writer>
void write_content(Writer& out, const Content& content, std::uint64_t offset) {
  std::visit(
      [&](const auto& c) {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, ContentDeleted>) {
          out.len(c.length - offset);
        } else if constexpr (std::is_same_v<T, ContentJson>) {
          out.len(c.values.size() - offset);
          for (std::size_t i = offset; i < c.values.size(); ++i)
            out.string(c.values[i].is_undefined() ? std::string("undefined")
                                                  : to_json(c.values[i]));
        } else if constexpr (std::is_same_v<T, ContentBinary>) {
          out.buf(c.bytes);
        } else if constexpr (std::is_same_v<T, ContentString>) {
          out.string(std::u16string_view(c.text).substr(offset));
        } else if constexpr (std::is_same_v<T, ContentEmbed>) {
          out.json(*c.value);
        } else if constexpr (std::is_same_v<T, ContentFormat>) {
          out.key(*c.key);
          out.json(*c.value);
        } else if constexpr (std::is_same_v<T, ContentType>) {
          out.type_ref(type_ref(c.type->kind));
          if (c.type->kind == TypeKind::xml_element || c.type->kind == TypeKind::xml_hook) {
            out.key(c.type->name);
          }
        } else if constexpr (std::is_same_v<T, ContentAny>) {
          out.len(c.values.size() - offset);
          for (std::size_t i = offset; i < c.values.size(); ++i)
            out.any(c.values[i]);
        } else {
          out.string(std::string_view(*c.guid));
          out.any(*c.options);
        }
      },
      content);
}

// --- reading ---

struct Decoded {
  std::map<std::uint64_t, Structs> clients;
  std::vector<std::uint64_t> order;  // the clients as the update lists them
  DeleteSet deletes;
};

// Reads a delete set; `budget` bounds the ranges it may declare, and is spent.
template <class Reader>
DeleteSet read_delete_set(Reader& in, std::size_t& budget) {
  const auto spend = [&](std::uint64_t count) {
    if (count > budget) throw DecodeError("the update ends early");
    budget -= static_cast<std::size_t>(count);
  };
  Decoder& rest = in.rest();
  DeleteSet deletes;
  const std::uint64_t clients = rest.read_var_uint();
  spend(clients);
  for (std::uint64_t c = 0; c < clients; ++c) {
    in.reset_ds();
    const std::uint64_t client = rest.read_var_uint();
    const std::uint64_t count = rest.read_var_uint();
    spend(count);
    for (std::uint64_t d = 0; d < count; ++d) {
      const std::uint64_t clock = in.ds_clock();
      const std::uint64_t length = in.ds_len();
      add_clock(clock, length);
      deletes.add(client, clock, length);
    }
  }
  return deletes;
}

// Reads an update in either format (Reader: codec::V1Reader or codec::V2Reader).
template <class Reader>
Decoded read_update(std::span<const std::uint8_t> bytes) {
  Reader in(bytes);
  Decoder& rest = in.rest();
  Decoded out;
  std::size_t budget = in.budget();  // structs and deleted ranges the update may still declare
  const auto spend = [&](std::uint64_t count) {
    if (count > budget) throw DecodeError("the update ends early");
    budget -= static_cast<std::size_t>(count);
  };
  const std::uint64_t client_count = rest.read_var_uint();
  spend(client_count);
  for (std::uint64_t c = 0; c < client_count; ++c) {
    const std::uint64_t count = rest.read_var_uint();
    spend(count);
    const std::uint64_t client = in.client();
    std::uint64_t clock = rest.read_var_uint();
    Structs& refs = out.clients[client];
    if (!refs.empty()) throw DecodeError("a client appears twice in the update");
    out.order.push_back(client);
    refs.reserve(static_cast<std::size_t>(count));
    for (std::uint64_t s = 0; s < count; ++s) {
      const std::uint8_t info = in.info();
      auto item = std::make_unique<Item>();
      item->id = {client, clock};
      const std::uint8_t ref = info & 0x1F;
      if (ref == 0) {
        item->kind = StructKind::gc;
        item->deleted = true;
        item->length = in.len();
      } else if (ref == 10) {
        item->kind = StructKind::skip;
        item->length = rest.read_var_uint();
      } else {
        if ((info & 0x80) != 0) item->origin = in.left_id();
        if ((info & 0x40) != 0) item->right_origin = in.right_id();
        if ((info & 0xC0) == 0) {
          if (in.parent_info()) {
            item->parent_ref.named = std::make_shared<const std::string>(in.string());
          } else {
            item->parent_ref.named = in.left_id();
          }
          if ((info & 0x20) != 0)
            item->parent_sub = std::make_shared<const std::string>(in.string());
        }
        item->content = read_content(in, ref);
        item->length = content_length(item->content);
        // A struct can only name structs of its own client that come before it.
        const auto earlier = [&](const OptionalID& id) {
          if (id && id->client == client && id->clock >= clock) {
            throw DecodeError("a struct in the update refers to itself or to a later one");
          }
        };
        earlier(item->origin);
        earlier(item->right_origin);
        if (const ID* parent = std::get_if<ID>(&item->parent_ref.named)) earlier(*parent);
      }
      if (item->length == 0) throw DecodeError("a struct of length 0 in the update");
      clock = add_clock(clock, item->length);
      refs.push_back(std::move(item));
    }
  }
  out.deletes = read_delete_set(in, budget);
  // Yjs ignores what follows; no Yjs encoder writes anything there, so it is not an update (an
  // update of the other format, several concatenated, or garbage).
  if (!rest.done()) throw DecodeError("bytes follow the update");
  return out;
}

// --- integrating (Yjs's integrateStructs) ---

struct ClientRefs {
  Structs refs;
  std::size_t next = 0;
  bool blocked = false;
  std::size_t cut = 0;  // once blocked: refs from here on wait
};

// Integrates what it can of `clients`, and leaves the rest in the store's pending structs.
// Returns whether anything was integrated.
bool integrate_structs(Transaction& t, std::map<std::uint64_t, ClientRefs>& all) {
  Doc::Store& store = t.doc.store();
  std::vector<std::uint64_t> ids;  // ascending; taken from the back (highest client first)
  for (const auto& [client, refs] : all)
    if (!refs.refs.empty()) ids.push_back(client);
  struct Ref {
    std::uint64_t client;
    std::size_t index;
  };
  std::vector<Ref> stack;
  std::map<std::uint64_t, std::uint64_t> state;
  bool progressed = false;

  // The client whose refs to walk next, highest first.
  const auto next_target = [&]() -> std::optional<std::uint64_t> {
    while (!ids.empty()) {
      const ClientRefs& refs = all.at(ids.back());
      if (!refs.blocked && refs.next < refs.refs.size()) return ids.back();
      ids.pop_back();
    }
    return std::nullopt;
  };
  const auto block_stack = [&] {
    for (const Ref& ref : stack) {
      ClientRefs& refs = all.at(ref.client);
      if (!refs.blocked) {
        refs.blocked = true;
        refs.cut = refs.next - 1;
      }
      refs.cut = std::min(refs.cut, ref.index);
      std::erase(ids, ref.client);
    }
    stack.clear();
  };

  std::optional<std::uint64_t> current = next_target();
  if (!current) return false;
  Ref head{*current, all.at(*current).next++};
  for (;;) {
    Item& item = *all.at(head.client).refs[head.index];
    if (item.kind != StructKind::skip) {
      auto [cached, fresh] = state.try_emplace(item.id.client, 0);
      if (fresh) cached->second = store.state(item.id.client);
      const std::uint64_t local = cached->second;
      if (local < item.id.clock) {  // an earlier struct of the same client is missing
        stack.push_back(head);
        block_stack();
      } else if (const std::optional<std::uint64_t> missing = t.missing(item)) {
        stack.push_back(head);
        const auto found = all.find(*missing);
        if (found == all.end() || found->second.blocked ||
            found->second.next >= found->second.refs.size()) {
          block_stack();  // it depends on an update that has not arrived
        } else {
          head = {*missing, found->second.next++};
          continue;
        }
      } else if (local - item.id.clock < item.length) {
        const std::uint64_t offset = local - item.id.clock;
        const std::uint64_t end = item.id.clock + item.length;
        t.integrate(std::move(all.at(head.client).refs[head.index]), offset);
        cached->second = end;
        progressed = true;
      }
    }
    if (!stack.empty()) {
      head = stack.back();
      stack.pop_back();
    } else if (ClientRefs& refs = all.at(*current); !refs.blocked && refs.next < refs.refs.size()) {
      head = {*current, refs.next++};
    } else {
      current = next_target();
      if (!current) break;
      head = {*current, all.at(*current).next++};
    }
  }
  for (auto& [client, refs] : all) {
    if (!refs.blocked) continue;
    Structs& waiting = store.pending[client];
    for (std::size_t i = refs.cut; i < refs.refs.size(); ++i) {
      if (refs.refs[i]) waiting.push_back(std::move(refs.refs[i]));
    }
    if (waiting.empty()) store.pending.erase(client);
  }
  return progressed;
}

// Applies deletes to what is here; keeps in `rest` those of structs not here yet.
void apply_deletes(Transaction& t, const DeleteSet& deletes, DeleteSet& rest) {
  Doc::Store& store = t.doc.store();
  for (const auto& [client, ranges] : deletes.clients) {
    const std::uint64_t state = store.state(client);
    for (const auto& [clock, length] : ranges) {
      const std::uint64_t end = clock + length;
      if (clock >= state) {
        rest.add(client, clock, length);
        continue;
      }
      if (state < end) rest.add(client, state, end - state);
      StructList& list = store.structs(client);
      std::size_t index = list.index_of(clock);
      Item* item = list[index];
      if (!item->deleted && item->id.clock < clock) {
        t.split(*item, clock - item->id.clock);
        ++index;
      }
      while (index < list.size()) {
        item = list[index++];
        if (item->id.clock >= end) break;
        if (item->deleted) continue;
        if (end < item->id.clock + item->length) t.split(*item, end - item->id.clock);
        t.remove(*item);
      }
    }
  }
}

// --- writing ---

template <class Writer>
void write_item(Writer& out, const Item& item, std::uint64_t offset) {
  if (item.kind == StructKind::gc) {
    out.info(0);
    out.len(item.length - offset);
    return;
  }
  if (item.kind == StructKind::skip) {
    out.info(10);
    out.rest().write_var_uint(item.length - offset);
    return;
  }
  const OptionalID origin =
      offset > 0 ? OptionalID(ID{item.id.client, item.id.clock + offset - 1}) : item.origin;
  const std::uint8_t info =
      static_cast<std::uint8_t>((content_ref(item.content) & 0x1F) | (origin ? 0x80 : 0) |
                                (item.right_origin ? 0x40 : 0) | (item.parent_sub ? 0x20 : 0));
  out.info(info);
  if (origin) out.left_id(*origin);
  if (item.right_origin) out.right_id(*item.right_origin);
  if (!origin && !item.right_origin) {
    if (item.parent != nullptr && item.parent->item == nullptr) {
      out.parent_info(true);
      out.string(std::string_view(item.parent->root));
    } else if (item.parent != nullptr) {
      out.parent_info(false);
      out.left_id(item.parent->item->id);
    } else if (const auto* name = std::get_if<Name>(&item.parent_ref.named)) {
      out.parent_info(true);
      out.string(std::string_view(**name));
    } else if (const auto* id = std::get_if<ID>(&item.parent_ref.named)) {
      out.parent_info(false);
      out.left_id(*id);
    }
    if (item.parent_sub) out.string(std::string_view(*item.parent_sub));
  }
  write_content(out, item.content, offset);
}

template <class Writer>
void write_delete_set(Writer& out, const DeleteSet& deletes) {
  out.rest().write_var_uint(deletes.clients.size());
  for (auto it = deletes.clients.rbegin(); it != deletes.clients.rend(); ++it) {
    out.reset_ds();
    out.rest().write_var_uint(it->first);
    out.rest().write_var_uint(it->second.size());
    for (const auto& [clock, length] : it->second) {
      out.ds_clock(clock);
      out.ds_len(length);
    }
  }
}

}  // namespace

namespace {

// The depth of the type each decoded item will belong to, as far as it can be told before
// integrating: from its parent (a root, or an item holding a type) or from its neighbours'.
// Refuses (DecodeError) an update that would nest types deeper than kMaxTypeDepth.
class DepthCheck {
 public:
  DepthCheck(Doc::Store& store, Decoded& decoded) : store_(store), decoded_(decoded) {}

  void check() {
    // (A deep chain sent in pieces, each unknown alone, is caught when it is integrated:
    // Transaction::integrate.)
    for (auto& [client, structs] : decoded_.clients)
      check(structs);
  }

 private:
  void check(Structs& structs) {
    {
      for (auto& item : structs) {
        if (!std::holds_alternative<ContentType>(item->content)) continue;
        const std::optional<std::uint32_t> depth = parent_depth(item.get());
        if (depth && *depth + 1 > kMaxTypeDepth) {
          throw DecodeError("the update nests types deeper than " + std::to_string(kMaxTypeDepth));
        }
      }
    }
  }

  static constexpr std::uint32_t kUnknown = ~std::uint32_t{0};
  static constexpr std::uint32_t kOnPath = kUnknown - 1;  // being followed (memo_ only)

  // The struct holding `id`: in the document, the update or what waits; null when none has it.
  Item* find(const ID& id) {
    if (store_.state(id.client) > id.clock) return store_.find(id);
    for (auto* lists : {&decoded_.clients, &store_.pending}) {
      const auto it = lists->find(id.client);
      if (it == lists->end()) continue;
      const Structs& structs = it->second;
      auto after =
          std::upper_bound(structs.begin(), structs.end(), id.clock,
                           [](std::uint64_t clock, const auto& s) { return clock < s->id.clock; });
      if (after == structs.begin()) continue;
      Item* item = (after - 1)->get();
      if (id.clock < item->id.clock + item->length) return item;
    }
    return nullptr;
  }

  // What `item`'s depth follows, and how: its parent's type (+1), or a neighbour's parent.
  struct Step {
    Item* next = nullptr;
    bool nested = false;
    std::uint32_t known = kUnknown;
  };
  Step step(Item* item) {
    if (item->kind != StructKind::item) return {};
    if (item->parent != nullptr) return {nullptr, false, item->parent->depth};  // integrated
    if (std::holds_alternative<Name>(item->parent_ref.named)) return {nullptr, false, 0};
    if (const ID* parent = std::get_if<ID>(&item->parent_ref.named)) {
      Item* holder = find(*parent);
      if (holder == nullptr || holder->kind != StructKind::item) return {};
      if (const auto* type = std::get_if<ContentType>(&holder->content);
          type != nullptr && holder->parent != nullptr) {
        return {nullptr, false, type->type->depth};
      }
      return {holder, true, kUnknown};
    }
    const OptionalID& neighbour = item->origin ? item->origin : item->right_origin;
    if (!neighbour) return {};
    return {find(*neighbour), false, kUnknown};
  }

  std::optional<std::uint32_t> parent_depth(Item* start) {
    // Iterative, memoized: chains of neighbours can be long, and must not recurse.
    std::vector<std::pair<Item*, bool>> path;  // (item, nested: its depth is the next's + 1)
    Item* item = start;
    std::uint32_t depth = kUnknown;
    for (;;) {
      if (const auto known = memo_.find(item); known != memo_.end()) {
        if (known->second != kOnPath) depth = known->second;  // on this path: a cycle, unknown
        break;
      }
      const Step next = step(item);
      if (next.next == nullptr) {
        depth = next.known;
        memo_[item] = depth;
        break;
      }
      memo_[item] = kOnPath;
      path.emplace_back(item, next.nested);
      item = next.next;
      if (path.size() > 1'000'000) break;
    }
    for (auto it = path.rbegin(); it != path.rend(); ++it) {
      if (depth != kUnknown && it->second) ++depth;
      memo_[it->first] = depth;
    }
    if (depth == kUnknown) return std::nullopt;
    return depth;
  }

  Doc::Store& store_;
  Decoded& decoded_;
  std::unordered_map<const Item*, std::uint32_t> memo_;
};

void integrate_decoded(Transaction& t, Decoded decoded) {
  Doc& doc = t.doc;
  Doc::Store& store = doc.store();
  // Yjs creates the root types an update names as it reads it.
  for (const auto& [client, refs] : decoded.clients) {
    for (const auto& item : refs) {
      if (const auto* name = std::get_if<Name>(&item->parent_ref.named)) doc.get(**name);
    }
  }
  std::map<std::uint64_t, ClientRefs> all;
  for (auto& [client, refs] : decoded.clients)
    all[client].refs = std::move(refs);
  for (auto& [client, waiting] : store.pending) {
    Structs& refs = all[client].refs;
    for (auto& item : waiting)
      refs.push_back(std::move(item));
    std::stable_sort(refs.begin(), refs.end(),
                     [](const auto& a, const auto& b) { return a->id.clock < b->id.clock; });
  }
  store.pending.clear();
  // Whatever was integrated may be what waiting structs need: again until nothing moves.
  while (integrate_structs(t, all) && !store.pending.empty()) {
    all.clear();
    for (auto& [client, waiting] : store.pending)
      all[client].refs = std::move(waiting);
    store.pending.clear();
  }
  DeleteSet rest;
  apply_deletes(t, decoded.deletes, rest);
  DeleteSet waiting = std::move(store.pending_deletes);
  store.pending_deletes = {};
  apply_deletes(t, waiting, rest);
  rest.normalize();
  store.pending_deletes = std::move(rest);
}

void apply_decoded(Doc& doc, Decoded decoded, const void* origin) {
  DepthCheck(doc.store(), decoded).check();  // before anything changes
  doc.run([&](Transaction& t) { integrate_decoded(t, std::move(decoded)); }, origin, false);
}

// The delete set of a whole store: runs of deleted structs (Yjs's createDeleteSetFromStructStore).
DeleteSet delete_set_of(const Doc::Store& store) {
  DeleteSet deletes;
  for (const auto& [client, structs] : store.clients) {
    for (std::size_t i = 0; i < structs.size(); ++i) {
      if (!structs[i]->deleted) continue;
      const std::uint64_t clock = structs[i]->id.clock;
      std::uint64_t length = structs[i]->length;
      while (i + 1 < structs.size() && structs[i + 1]->deleted)
        length += structs[++i]->length;
      deletes.add(client, clock, length);
    }
  }
  return deletes;
}

void write_state_vector(Encoder& out, const StateVector& vector) {
  out.write_var_uint(vector.size());
  for (auto it = vector.rbegin(); it != vector.rend(); ++it) {
    out.write_var_uint(it->first);
    out.write_var_uint(it->second);
  }
}

StateVector read_state_vector(Decoder& in) {
  StateVector vector;
  const std::uint64_t count = in.read_var_uint();
  if (count > in.remaining()) throw DecodeError("the state vector ends early");
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::uint64_t client = in.read_var_uint();
    vector[client] = in.read_var_uint();
  }
  return vector;
}

template <class Writer>
Bytes encode_state_as_update(const Doc::Store& store, const StateVector& since,
                             const DeleteSet& deletes) {
  Writer out;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> clients;  // client, from clock
  for (const auto& [client, structs] : store.clients) {
    const auto known = since.find(client);
    const std::uint64_t from = known == since.end() ? 0 : known->second;
    if (store.state(client) > from) clients.emplace_back(client, from);
  }
  out.rest().write_var_uint(clients.size());
  for (auto it = clients.rbegin(); it != clients.rend(); ++it) {
    const StructList& structs = store.clients.at(it->first);
    const std::uint64_t clock = std::max(it->second, structs.front()->id.clock);
    const std::size_t start = structs.index_of(clock);
    out.rest().write_var_uint(structs.size() - start);
    out.client(it->first);
    out.rest().write_var_uint(clock);
    write_item(out, *structs[start], clock - structs[start]->id.clock);
    for (std::size_t i = start + 1; i < structs.size(); ++i)
      write_item(out, *structs[i], 0);
  }
  write_delete_set(out, deletes);
  return out.finish();
}

}  // namespace

void Doc::apply_update_v1(std::span<const std::uint8_t> update, const void* origin) {
  // Decoded first: a malformed update throws before anything changes.
  apply_decoded(*this, read_update<codec::V1Reader>(update), origin);
}

void Doc::apply_update_v2(std::span<const std::uint8_t> update, const void* origin) {
  apply_decoded(*this, read_update<codec::V2Reader>(update), origin);
}

namespace {

// Whether `decoded` holds structs `store` does not yet, or deletes of content it has not deleted.
bool would_change(const Doc::Store& store, const Decoded& decoded) {
  for (const auto& [client, structs] : decoded.clients) {
    const std::uint64_t known = store.state(client);
    for (const auto& item : structs) {
      if (item->kind != StructKind::skip && item->id.clock + item->length > known) return true;
    }
  }
  for (const auto& [client, ranges] : decoded.deletes.clients) {
    const auto found = store.clients.find(client);
    for (const auto& [clock, length] : ranges) {
      if (length == 0) continue;
      if (found == store.clients.end() || clock + length > store.state(client)) return true;
      const StructList& structs = found->second;
      for (std::size_t i = structs.index_of(clock);
           i < structs.size() && structs[i]->id.clock < clock + length; ++i) {
        if (!structs[i]->deleted) return true;
      }
    }
  }
  return false;
}

}  // namespace

bool Doc::would_change_v1(std::span<const std::uint8_t> update) const {
  return would_change(*store_, read_update<codec::V1Reader>(update));
}

bool Doc::apply_changes_v1(std::span<const std::uint8_t> update, const void* origin) {
  Decoded decoded = read_update<codec::V1Reader>(update);
  if (!would_change(*store_, decoded)) return false;
  apply_decoded(*this, std::move(decoded), origin);
  return true;
}

Bytes encode_transaction_update(const Transaction& transaction) {
  return encode_state_as_update<codec::V1Writer>(transaction.doc.store(), transaction.before,
                                                 transaction.deletes);
}

namespace {

Bytes state_vector_of(const Decoded& decoded) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> reached;  // client, clock
  for (const std::uint64_t client : decoded.order) {
    std::uint64_t clock = 0;
    for (const auto& item : decoded.clients.at(client)) {
      if (item->kind == StructKind::skip || item->id.clock != clock) break;  // a gap
      clock = item->id.clock + item->length;
    }
    if (clock != 0) reached.emplace_back(client, clock);
  }
  Encoder encoder;
  encoder.write_var_uint(reached.size());
  for (const auto& [client, clock] : reached) {
    encoder.write_var_uint(client);
    encoder.write_var_uint(clock);
  }
  return encoder.take();
}

// Reads a decoded update's structs one after another, in the update's order (Yjs's
// LazyStructReader), optionally passing over skips.
class StructReader {
 public:
  StructReader(Decoded& decoded, bool skip_skips) : decoded_(decoded), skip_skips_(skip_skips) {
    advance();
  }
  Item* current() const { return current_; }
  Item* next() {
    advance();
    return current_;
  }

 private:
  void advance() {
    do {
      current_ = nullptr;
      while (client_ < decoded_.order.size()) {
        Structs& structs = decoded_.clients.at(decoded_.order[client_]);
        if (index_ < structs.size()) {
          current_ = structs[index_++].get();
          break;
        }
        ++client_;
        index_ = 0;
      }
    } while (skip_skips_ && current_ != nullptr && current_->kind == StructKind::skip);
  }
  Decoded& decoded_;
  bool skip_skips_;
  std::size_t client_ = 0;
  std::size_t index_ = 0;
  Item* current_ = nullptr;
};

// Writes structs in runs per client (Yjs's LazyStructWriter): each run is (count, client, first
// clock, structs), and the number of runs goes first. The runs' counts are known only at the
// end, so each run's share of the rest stream is kept apart until then; v2's columns are shared.
template <class Writer>
class StructWriter {
 public:
  explicit StructWriter(Writer& out) : out_(out) {}
  void write(const Item& item, std::uint64_t offset) {
    if (written_ > 0 && client_ != item.id.client) flush();
    if (written_ == 0) {
      client_ = item.id.client;
      out_.client(item.id.client);
      out_.rest().write_var_uint(item.id.clock + offset);
    }
    write_item(out_, item, offset);
    ++written_;
  }
  void finish() {
    flush();
    Encoder& rest = out_.rest();
    rest.write_var_uint(runs_.size());
    for (auto& [count, bytes] : runs_) {
      rest.write_var_uint(count);
      rest.write_raw(bytes);
    }
  }

 private:
  void flush() {
    if (written_ == 0) return;
    runs_.emplace_back(written_, out_.rest().take());
    written_ = 0;
  }
  Writer& out_;
  std::vector<std::pair<std::uint64_t, Bytes>> runs_;
  std::uint64_t client_ = 0;
  std::uint64_t written_ = 0;
};

// Yjs's sliceStruct: the part of `left` from `diff` on, as a new struct.
std::unique_ptr<Item> slice_struct(Item& left, std::uint64_t diff) {
  auto right = std::make_unique<Item>();
  right->id = {left.id.client, left.id.clock + diff};
  right->length = left.length - diff;
  right->kind = left.kind;
  right->deleted = left.deleted;
  if (left.kind == StructKind::item) {
    right->origin = ID{left.id.client, left.id.clock + diff - 1};
    right->right_origin = left.right_origin;
    right->parent_ref = left.parent_ref;
    right->parent_sub = left.parent_sub;
    right->content = split_content(left.content, diff);
    right->length = content_length(right->content);
  }
  return right;
}

// Yjs's mergeWith on structs not in a document: GC with GC and skip with skip. Items never merge
// there (Item.mergeWith asks for left.right to be the right item, and structs read from an
// update have no neighbours).
bool merge_lazy(Item& left, Item& right) {
  if (left.kind != right.kind || left.kind == StructKind::item) return false;
  left.length += right.length;
  return true;
}

template <class Reader, class Writer>
Bytes diff_update(std::span<const std::uint8_t> update, const StateVector& since) {
  Decoded decoded = read_update<Reader>(update);
  Writer out;
  StructWriter writer(out);
  StructReader reader(decoded, false);
  while (Item* current = reader.current()) {
    const std::uint64_t client = current->id.client;
    const auto known = since.find(client);
    const std::uint64_t clock = known == since.end() ? 0 : known->second;
    if (current->kind == StructKind::skip) {
      reader.next();
      continue;
    }
    if (current->id.clock + current->length > clock) {
      writer.write(*current, clock > current->id.clock ? clock - current->id.clock : 0);
      for (Item* next = reader.next(); next != nullptr && next->id.client == client;
           next = reader.next()) {
        writer.write(*next, 0);
      }
    } else {
      for (Item* next = current;
           next != nullptr && next->id.client == client && next->id.clock + next->length <= clock;
           next = reader.next()) {
      }
    }
  }
  writer.finish();
  write_delete_set(out, decoded.deletes);
  return out.finish();
}

template <class Reader, class Writer>
Bytes merge_updates(const std::vector<std::span<const std::uint8_t>>& updates) {
  if (updates.size() == 1) return Bytes(updates[0].begin(), updates[0].end());
  std::vector<Decoded> decoded;
  decoded.reserve(updates.size());
  for (const auto& update : updates)
    decoded.push_back(read_update<Reader>(update));
  std::vector<std::unique_ptr<StructReader>> readers;
  for (Decoded& d : decoded)
    readers.push_back(std::make_unique<StructReader>(d, true));
  std::vector<std::unique_ptr<Item>> made;  // skips and slices this merge creates
  Item* write = nullptr;
  std::uint64_t write_offset = 0;
  Writer out;
  StructWriter writer(out);
  const auto emit = [&] { writer.write(*write, write_offset); };
  for (;;) {
    std::erase_if(readers, [](const auto& r) { return r->current() == nullptr; });
    // Highest client first; within a client, the lowest clock (an item before a skip).
    std::stable_sort(readers.begin(), readers.end(), [](const auto& a, const auto& b) {
      const Item& x = *a->current();
      const Item& y = *b->current();
      if (x.id.client != y.id.client) return x.id.client > y.id.client;
      if (x.id.clock != y.id.clock) return x.id.clock < y.id.clock;
      return x.kind != StructKind::skip && y.kind == StructKind::skip;
    });
    if (readers.empty()) break;
    StructReader& reader = *readers.front();
    const std::uint64_t first_client = reader.current()->id.client;
    if (write != nullptr) {
      Item* current = reader.current();
      bool iterated = false;
      while (current != nullptr &&
             current->id.clock + current->length <= write->id.clock + write->length &&
             current->id.client >= write->id.client) {
        current = reader.next();
        iterated = true;
      }
      if (current == nullptr || current->id.client != first_client ||
          (iterated && current->id.clock > write->id.clock + write->length)) {
        continue;
      }
      if (first_client != write->id.client) {
        emit();
        write = current;
        write_offset = 0;
        reader.next();
      } else if (write->id.clock + write->length < current->id.clock) {
        if (write->kind == StructKind::skip) {
          write->length = current->id.clock + current->length - write->id.clock;
        } else {
          emit();
          auto skip = std::make_unique<Item>();
          skip->kind = StructKind::skip;
          skip->id = {first_client, write->id.clock + write->length};
          skip->length = current->id.clock - write->id.clock - write->length;
          write = skip.get();
          write_offset = 0;
          made.push_back(std::move(skip));
        }
      } else {
        const std::uint64_t diff = write->id.clock + write->length - current->id.clock;
        if (diff > 0) {
          if (write->kind == StructKind::skip) {
            write->length -= diff;
          } else {
            made.push_back(slice_struct(*current, diff));
            current = made.back().get();
          }
        }
        if (!merge_lazy(*write, *current)) {
          emit();
          write = current;
          write_offset = 0;
          reader.next();
        }
      }
    } else {
      write = reader.current();
      write_offset = 0;
      reader.next();
    }
    for (Item* next = reader.current();
         next != nullptr && next->id.client == first_client &&
         next->id.clock == write->id.clock + write->length && next->kind != StructKind::skip;
         next = reader.next()) {
      emit();
      write = next;
      write_offset = 0;
    }
  }
  if (write != nullptr) emit();
  writer.finish();
  DeleteSet deletes;
  for (const Decoded& d : decoded) {
    for (const auto& [client, ranges] : d.deletes.clients) {
      for (const auto& [clock, length] : ranges)
        deletes.add(client, clock, length);
    }
  }
  deletes.normalize();
  write_delete_set(out, deletes);
  return out.finish();
}

// An update in the other format, struct for struct (Yjs's convertUpdateFormat).
template <class Reader, class Writer>
Bytes convert_update(std::span<const std::uint8_t> update) {
  Decoded decoded = read_update<Reader>(update);
  Writer out;
  StructWriter writer(out);
  for (StructReader reader(decoded, false); Item* item = reader.current(); reader.next())
    writer.write(*item, 0);
  writer.finish();
  write_delete_set(out, decoded.deletes);
  return out.finish();
}

// Yjs's encodeStateAsUpdate: the state, and what waits for missing structs — the deletes of
// structs not here yet, and the structs that wait, less what `since` has — merged into one
// update, so that a document passes on everything it was given.
template <class Reader, class Writer>
Bytes encode_with_pending(const Doc::Store& store, const StateVector& since) {
  Bytes state = encode_state_as_update<Writer>(store, since, delete_set_of(store));
  if (store.pending.empty() && store.pending_deletes.empty()) return state;
  std::vector<Bytes> parts;
  parts.push_back(std::move(state));
  if (!store.pending_deletes.empty()) {
    Writer out;
    out.rest().write_var_uint(0);  // no structs
    write_delete_set(out, store.pending_deletes);
    parts.push_back(out.finish());
  }
  if (!store.pending.empty()) {
    Writer out;
    StructWriter writer(out);
    std::vector<std::unique_ptr<Item>> skips;
    for (auto it = store.pending.rbegin(); it != store.pending.rend(); ++it) {
      std::optional<std::uint64_t> clock;  // where the written run ends
      for (const auto& item : it->second) {
        const std::uint64_t end = item->id.clock + item->length;
        if (clock && end <= *clock) continue;    // came twice
        if (clock && item->id.clock > *clock) {  // a gap: what has not come
          auto skip = std::make_unique<Item>();
          skip->kind = StructKind::skip;
          skip->id = {it->first, *clock};
          skip->length = item->id.clock - *clock;
          writer.write(*skip, 0);
          skips.push_back(std::move(skip));
        }
        writer.write(*item, clock && *clock > item->id.clock ? *clock - item->id.clock : 0);
        clock = end;
      }
    }
    writer.finish();
    out.rest().write_var_uint(0);  // no deletes
    parts.push_back(diff_update<Reader, Writer>(out.finish(), since));
  }
  return merge_updates<Reader, Writer>(
      std::vector<std::span<const std::uint8_t>>(parts.begin(), parts.end()));
}

}  // namespace

Bytes Doc::encode_state_as_update_v1(const StateVector& since) const {
  return encode_with_pending<codec::V1Reader, codec::V1Writer>(*store_, since);
}

Bytes Doc::encode_state_as_update_v2(const StateVector& since) const {
  return encode_with_pending<codec::V2Reader, codec::V2Writer>(*store_, since);
}

Bytes encode_state_vector_from_update_v1(std::span<const std::uint8_t> update) {
  return state_vector_of(read_update<codec::V1Reader>(update));
}
Bytes encode_state_vector_from_update_v2(std::span<const std::uint8_t> update) {
  return state_vector_of(read_update<codec::V2Reader>(update));
}
Bytes merge_updates_v1(const std::vector<std::span<const std::uint8_t>>& updates) {
  return merge_updates<codec::V1Reader, codec::V1Writer>(updates);
}
Bytes merge_updates_v2(const std::vector<std::span<const std::uint8_t>>& updates) {
  return merge_updates<codec::V2Reader, codec::V2Writer>(updates);
}
Bytes diff_update_v1(std::span<const std::uint8_t> update, const StateVector& since) {
  return diff_update<codec::V1Reader, codec::V1Writer>(update, since);
}
Bytes diff_update_v2(std::span<const std::uint8_t> update, const StateVector& since) {
  return diff_update<codec::V2Reader, codec::V2Writer>(update, since);
}
Bytes convert_update_v1_to_v2(std::span<const std::uint8_t> update) {
  return convert_update<codec::V1Reader, codec::V2Writer>(update);
}
Bytes convert_update_v2_to_v1(std::span<const std::uint8_t> update) {
  return convert_update<codec::V2Reader, codec::V1Writer>(update);
}

Bytes Doc::encode_state_vector(const StateVector& vector) {
  Encoder encoder;
  write_state_vector(encoder, vector);
  return encoder.take();
}

StateVector Doc::decode_state_vector(std::span<const std::uint8_t> bytes) {
  Decoder decoder(bytes);
  StateVector vector = read_state_vector(decoder);
  // Yjs frames a state vector (a file, a message member): bytes after it mean it is not one.
  if (!decoder.done()) throw DecodeError("bytes follow the state vector");
  return vector;
}

// --- snapshots (Yjs: utils/Snapshot.js) ---

Snapshot Doc::snapshot() const {
  return {delete_set_of(*store_), state_vector()};
}

Bytes encode_snapshot(const Snapshot& snapshot) {
  codec::V1Writer out;
  write_delete_set(out, snapshot.deletes);
  write_state_vector(out.rest(), snapshot.state);
  return out.finish();
}

Snapshot decode_snapshot(std::span<const std::uint8_t> bytes) {
  codec::V1Reader in(bytes);
  std::size_t budget = in.budget();
  Snapshot snapshot;
  snapshot.deletes = read_delete_set(in, budget);
  snapshot.deletes.normalize();
  snapshot.state = read_state_vector(in.rest());
  if (!in.rest().done()) throw DecodeError("bytes follow the snapshot");
  return snapshot;
}

std::unique_ptr<Doc> Doc::restore(const Snapshot& snapshot, std::uint64_t client_id) {
  if (gc_) {
    throw std::logic_error(
        "a snapshot is restored from a document with garbage collection off (deleted content is "
        "gone otherwise)");
  }
  for (const auto& [client, clock] : snapshot.state) {
    if (clock > store_->state(client)) {
      throw std::invalid_argument("the snapshot is of a state this document has not reached");
    }
  }
  // Yjs's createDocFromSnapshot: every struct up to the snapshot's clocks (the last one split
  // there), and the snapshot's delete set, as one update for a new document.
  codec::V1Writer out;
  run(
      [&](Transaction& t) {
        std::size_t clients = 0;
        for (const auto& [client, clock] : snapshot.state)
          clients += clock > 0 ? 1 : 0;
        out.rest().write_var_uint(clients);
        for (auto it = snapshot.state.rbegin(); it != snapshot.state.rend(); ++it) {
          const auto [client, clock] = *it;
          if (clock == 0) continue;
          if (clock < store_->state(client)) t.item_clean_start({client, clock});
          const StructList& structs = store_->structs(client);
          const std::size_t last = structs.index_of(clock - 1);
          out.rest().write_var_uint(last + 1);
          out.client(client);
          out.rest().write_var_uint(0);
          for (std::size_t i = 0; i <= last; ++i)
            write_item(out, *structs[i], 0);
        }
        write_delete_set(out, snapshot.deletes);
      },
      nullptr, true);
  auto restored = std::make_unique<Doc>(client_id);
  restored->apply_update_v1(out.finish());
  return restored;
}

}  // namespace cairn::crdt
