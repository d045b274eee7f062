// Update format v1: decoding structs and delete sets, integrating them with what waits for
// missing dependencies, and encoding a document's state (Yjs: utils/encoding.js,
// utils/DeleteSet.js, UpdateEncoderV1/UpdateDecoderV1).
#include <algorithm>
#include <cmath>
#include <limits>

#include "crdt/store.hpp"

namespace cairn::crdt {

namespace {

constexpr std::uint64_t kMaxClock = (std::uint64_t{1} << 53) - 1;

std::uint64_t add_clock(std::uint64_t clock, std::uint64_t length) {
  if (length > kMaxClock - clock) throw DecodeError("a clock in the update is too large");
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

}  // namespace

// --- contents ---

Content read_content(Decoder& decoder, std::uint8_t ref) {
  switch (ref) {
    case 1:
      return ContentDeleted{decoder.read_var_uint()};
    case 2: {
      const std::uint64_t count = decoder.read_var_uint();
      if (count > decoder.remaining()) throw DecodeError("the update ends early");
      ContentJson json;
      for (std::uint64_t i = 0; i < count; ++i) {
        json.values.push_back(decoder.read_var_string());
        if (json.values.back() != "undefined") any_from_json(json.values.back());  // JSON.parse
      }
      return json;
    }
    case 3: {
      const auto bytes = decoder.read_var_bytes();
      return ContentBinary{Bytes(bytes.begin(), bytes.end())};
    }
    case 4:
      return ContentString{utf16(decoder.read_var_string())};
    case 5: {
      ContentEmbed embed{decoder.read_var_string()};
      any_from_json(embed.json);  // Yjs parses it as it reads: not JSON, not an update
      return embed;
    }
    case 6: {
      std::string key = decoder.read_var_string();
      ContentFormat format{std::move(key), decoder.read_var_string()};
      any_from_json(format.json);
      return format;
    }
    case 7: {
      const std::uint64_t type = decoder.read_var_uint();
      switch (type) {
        case 0:
          return ContentType{std::make_unique<Type>(TypeKind::array)};
        case 1:
          return ContentType{std::make_unique<Type>(TypeKind::map)};
        case 2:
          return ContentType{std::make_unique<Type>(TypeKind::text)};
        case 3:
          return ContentType{
              std::make_unique<Type>(TypeKind::xml_element, decoder.read_var_string())};
        case 4:
          return ContentType{std::make_unique<Type>(TypeKind::xml_fragment)};
        case 5:
          return ContentType{std::make_unique<Type>(TypeKind::xml_hook, decoder.read_var_string())};
        case 6:
          return ContentType{std::make_unique<Type>(TypeKind::xml_text)};
        default:
          throw DecodeError("a shared type of an unknown kind in the update");
      }
    }
    case 8: {
      const std::uint64_t count = decoder.read_var_uint();
      if (count > decoder.remaining()) throw DecodeError("the update ends early");
      ContentAny any;
      any.values.reserve(static_cast<std::size_t>(count));
      for (std::uint64_t i = 0; i < count; ++i)
        any.values.push_back(decoder.read_any());
      return any;
    }
    case 9: {
      std::string guid = decoder.read_var_string();
      return ContentDoc{std::move(guid), subdoc_options(decoder.read_any())};
    }
    default:
      throw DecodeError("content of an unknown kind in the update");
  }
}

void write_content(Encoder& encoder, const Content& content, std::uint64_t offset) {
  std::visit(
      [&](const auto& c) {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, ContentDeleted>) {
          encoder.write_var_uint(c.length - offset);
        } else if constexpr (std::is_same_v<T, ContentJson>) {
          encoder.write_var_uint(c.values.size() - offset);
          for (std::size_t i = offset; i < c.values.size(); ++i)
            encoder.write_var_string(c.values[i]);
        } else if constexpr (std::is_same_v<T, ContentBinary>) {
          encoder.write_var_bytes(c.bytes);
        } else if constexpr (std::is_same_v<T, ContentString>) {
          encoder.write_var_string(utf8(std::u16string_view(c.text).substr(offset)));
        } else if constexpr (std::is_same_v<T, ContentEmbed>) {
          encoder.write_var_string(c.json);
        } else if constexpr (std::is_same_v<T, ContentFormat>) {
          encoder.write_var_string(c.key);
          encoder.write_var_string(c.json);
        } else if constexpr (std::is_same_v<T, ContentType>) {
          encoder.write_var_uint(type_ref(c.type->kind));
          if (c.type->kind == TypeKind::xml_element || c.type->kind == TypeKind::xml_hook) {
            encoder.write_var_string(c.type->name);
          }
        } else if constexpr (std::is_same_v<T, ContentAny>) {
          encoder.write_var_uint(c.values.size() - offset);
          for (std::size_t i = offset; i < c.values.size(); ++i)
            encoder.write_any(c.values[i]);
        } else {
          encoder.write_var_string(c.guid);
          encoder.write_any(c.options);
        }
      },
      content);
}

namespace {

// --- reading ---

struct Decoded {
  std::map<std::uint64_t, Structs> clients;
  std::vector<std::uint64_t> order;  // the clients as the update lists them
  DeleteSet deletes;
};

Decoded read_update_v1(std::span<const std::uint8_t> bytes) {
  Decoder decoder(bytes);
  Decoded out;
  const std::uint64_t client_count = decoder.read_var_uint();
  if (client_count > decoder.remaining()) throw DecodeError("the update ends early");
  for (std::uint64_t c = 0; c < client_count; ++c) {
    const std::uint64_t count = decoder.read_var_uint();
    if (count > decoder.remaining()) throw DecodeError("the update ends early");
    const std::uint64_t client = decoder.read_var_uint();
    std::uint64_t clock = decoder.read_var_uint();
    Structs& refs = out.clients[client];
    if (!refs.empty()) throw DecodeError("a client appears twice in the update");
    out.order.push_back(client);
    refs.reserve(static_cast<std::size_t>(count));
    for (std::uint64_t s = 0; s < count; ++s) {
      const std::uint8_t info = decoder.read_u8();
      auto item = std::make_unique<Item>();
      item->id = {client, clock};
      const std::uint8_t ref = info & 0x1F;
      if (ref == 0 || ref == 10) {
        item->kind = ref == 0 ? StructKind::gc : StructKind::skip;
        item->deleted = ref == 0;
        item->length = decoder.read_var_uint();
      } else {
        if ((info & 0x80) != 0) item->origin = ID{decoder.read_var_uint(), decoder.read_var_uint()};
        if ((info & 0x40) != 0) {
          item->right_origin = ID{decoder.read_var_uint(), decoder.read_var_uint()};
        }
        if ((info & 0xC0) == 0) {
          if (decoder.read_var_uint() == 1) {
            item->parent_ref.named = decoder.read_var_string();
          } else {
            item->parent_ref.named = ID{decoder.read_var_uint(), decoder.read_var_uint()};
          }
          if ((info & 0x20) != 0) item->parent_sub = decoder.read_var_string();
        }
        item->content = read_content(decoder, ref);
        item->length = content_length(item->content);
        // A struct can only name structs of its own client that come before it.
        const auto earlier = [&](const std::optional<ID>& id) {
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
  const std::uint64_t delete_clients = decoder.read_var_uint();
  if (delete_clients > decoder.remaining()) throw DecodeError("the update ends early");
  for (std::uint64_t c = 0; c < delete_clients; ++c) {
    const std::uint64_t client = decoder.read_var_uint();
    const std::uint64_t count = decoder.read_var_uint();
    if (count > decoder.remaining()) throw DecodeError("the update ends early");
    for (std::uint64_t d = 0; d < count; ++d) {
      const std::uint64_t clock = decoder.read_var_uint();
      const std::uint64_t length = decoder.read_var_uint();
      add_clock(clock, length);
      out.deletes.add(client, clock, length);
    }
  }
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
      Structs& list = store.structs(client);
      std::size_t index = Doc::Store::find_index(list, clock);
      Item* item = list[index].get();
      if (!item->deleted && item->id.clock < clock) {
        t.split(*item, clock - item->id.clock);
        ++index;
      }
      while (index < list.size()) {
        item = list[index++].get();
        if (item->id.clock >= end) break;
        if (item->deleted) continue;
        if (end < item->id.clock + item->length) t.split(*item, end - item->id.clock);
        t.remove(*item);
      }
    }
  }
}

// --- writing ---

void write_item(Encoder& encoder, const Item& item, std::uint64_t offset) {
  if (item.kind == StructKind::gc) {
    encoder.write_u8(0);
    encoder.write_var_uint(item.length - offset);
    return;
  }
  if (item.kind == StructKind::skip) {
    encoder.write_u8(10);
    encoder.write_var_uint(item.length - offset);
    return;
  }
  const std::optional<ID> origin =
      offset > 0 ? std::optional<ID>(ID{item.id.client, item.id.clock + offset - 1}) : item.origin;
  const std::uint8_t info =
      static_cast<std::uint8_t>((content_ref(item.content) & 0x1F) | (origin ? 0x80 : 0) |
                                (item.right_origin ? 0x40 : 0) | (item.parent_sub ? 0x20 : 0));
  encoder.write_u8(info);
  if (origin) {
    encoder.write_var_uint(origin->client);
    encoder.write_var_uint(origin->clock);
  }
  if (item.right_origin) {
    encoder.write_var_uint(item.right_origin->client);
    encoder.write_var_uint(item.right_origin->clock);
  }
  if (!origin && !item.right_origin) {
    if (item.parent != nullptr && item.parent->item == nullptr) {
      encoder.write_var_uint(1);
      encoder.write_var_string(item.parent->root);
    } else if (item.parent != nullptr) {
      encoder.write_var_uint(0);
      encoder.write_var_uint(item.parent->item->id.client);
      encoder.write_var_uint(item.parent->item->id.clock);
    } else if (const auto* name = std::get_if<std::string>(&item.parent_ref.named)) {
      encoder.write_var_uint(1);
      encoder.write_var_string(*name);
    } else if (const auto* id = std::get_if<ID>(&item.parent_ref.named)) {
      encoder.write_var_uint(0);
      encoder.write_var_uint(id->client);
      encoder.write_var_uint(id->clock);
    }
    if (item.parent_sub) encoder.write_var_string(*item.parent_sub);
  }
  write_content(encoder, item.content, offset);
}

void write_delete_set(Encoder& encoder, const DeleteSet& deletes) {
  encoder.write_var_uint(deletes.clients.size());
  for (auto it = deletes.clients.rbegin(); it != deletes.clients.rend(); ++it) {
    encoder.write_var_uint(it->first);
    encoder.write_var_uint(it->second.size());
    for (const auto& [clock, length] : it->second) {
      encoder.write_var_uint(clock);
      encoder.write_var_uint(length);
    }
  }
}

}  // namespace

void Doc::apply_update_v1(std::span<const std::uint8_t> update) {
  Decoded decoded = read_update_v1(update);  // throws before anything changes
  // Yjs creates the root types an update names as it reads it.
  for (const auto& [client, refs] : decoded.clients) {
    for (const auto& item : refs) {
      if (const auto* name = std::get_if<std::string>(&item->parent_ref.named)) get(*name);
    }
  }
  Transaction t(*this, false);
  std::map<std::uint64_t, ClientRefs> all;
  for (auto& [client, refs] : decoded.clients)
    all[client].refs = std::move(refs);
  for (auto& [client, waiting] : store_->pending) {
    Structs& refs = all[client].refs;
    for (auto& item : waiting)
      refs.push_back(std::move(item));
    std::stable_sort(refs.begin(), refs.end(),
                     [](const auto& a, const auto& b) { return a->id.clock < b->id.clock; });
  }
  store_->pending.clear();
  // Whatever was integrated may be what waiting structs need: again until nothing moves.
  while (integrate_structs(t, all) && !store_->pending.empty()) {
    all.clear();
    for (auto& [client, waiting] : store_->pending)
      all[client].refs = std::move(waiting);
    store_->pending.clear();
  }
  DeleteSet rest;
  apply_deletes(t, decoded.deletes, rest);
  DeleteSet waiting = std::move(store_->pending_deletes);
  store_->pending_deletes = {};
  apply_deletes(t, waiting, rest);
  rest.normalize();
  store_->pending_deletes = std::move(rest);
}

Bytes Doc::encode_state_as_update_v1(const StateVector& since) const {
  Encoder encoder;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> clients;  // client, from clock
  for (const auto& [client, structs] : store_->clients) {
    const auto known = since.find(client);
    const std::uint64_t from = known == since.end() ? 0 : known->second;
    if (store_->state(client) > from) clients.emplace_back(client, from);
  }
  encoder.write_var_uint(clients.size());
  for (auto it = clients.rbegin(); it != clients.rend(); ++it) {
    const Structs& structs = store_->clients.at(it->first);
    const std::uint64_t clock = std::max(it->second, structs.front()->id.clock);
    const std::size_t start = Store::find_index(structs, clock);
    encoder.write_var_uint(structs.size() - start);
    encoder.write_var_uint(it->first);
    encoder.write_var_uint(clock);
    write_item(encoder, *structs[start], clock - structs[start]->id.clock);
    for (std::size_t i = start + 1; i < structs.size(); ++i)
      write_item(encoder, *structs[i], 0);
  }
  // The delete set of the whole store: runs of deleted structs.
  DeleteSet deletes;
  for (const auto& [client, structs] : store_->clients) {
    for (std::size_t i = 0; i < structs.size(); ++i) {
      if (!structs[i]->deleted) continue;
      const std::uint64_t clock = structs[i]->id.clock;
      std::uint64_t length = structs[i]->length;
      while (i + 1 < structs.size() && structs[i + 1]->deleted)
        length += structs[++i]->length;
      deletes.add(client, clock, length);
    }
  }
  write_delete_set(encoder, deletes);
  return encoder.take();
}

Bytes encode_state_vector_from_update_v1(std::span<const std::uint8_t> update) {
  const Decoded decoded = read_update_v1(update);
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

namespace {

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
// clock, structs), and the number of runs goes first.
class StructWriter {
 public:
  void write(const Item& item, std::uint64_t offset) {
    if (written_ > 0 && client_ != item.id.client) flush();
    if (written_ == 0) {
      client_ = item.id.client;
      run_.write_var_uint(item.id.client);
      run_.write_var_uint(item.id.clock + offset);
    }
    write_item(run_, item, offset);
    ++written_;
  }
  void finish(Encoder& out) {
    flush();
    out.write_var_uint(runs_.size());
    for (auto& [count, bytes] : runs_) {
      out.write_var_uint(count);
      out.write_raw(bytes);
    }
  }

 private:
  void flush() {
    if (written_ == 0) return;
    runs_.emplace_back(written_, run_.take());
    run_ = Encoder();
    written_ = 0;
  }
  std::vector<std::pair<std::uint64_t, Bytes>> runs_;
  Encoder run_;
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

}  // namespace

Bytes diff_update_v1(std::span<const std::uint8_t> update, const StateVector& since) {
  Decoded decoded = read_update_v1(update);
  Encoder encoder;
  StructWriter writer;
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
  writer.finish(encoder);
  write_delete_set(encoder, decoded.deletes);
  return encoder.take();
}

Bytes merge_updates_v1(const std::vector<std::span<const std::uint8_t>>& updates) {
  if (updates.size() == 1) return Bytes(updates[0].begin(), updates[0].end());
  std::vector<Decoded> decoded;
  decoded.reserve(updates.size());
  for (const auto& update : updates)
    decoded.push_back(read_update_v1(update));
  std::vector<std::unique_ptr<StructReader>> readers;
  for (Decoded& d : decoded)
    readers.push_back(std::make_unique<StructReader>(d, true));
  std::vector<std::unique_ptr<Item>> made;  // skips and slices this merge creates
  Item* write = nullptr;
  std::uint64_t write_offset = 0;
  StructWriter writer;
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
  Encoder encoder;
  writer.finish(encoder);
  DeleteSet deletes;
  for (const Decoded& d : decoded) {
    for (const auto& [client, ranges] : d.deletes.clients) {
      for (const auto& [clock, length] : ranges)
        deletes.add(client, clock, length);
    }
  }
  deletes.normalize();
  write_delete_set(encoder, deletes);
  return encoder.take();
}

Bytes Doc::encode_state_vector(const StateVector& vector) {
  Encoder encoder;
  encoder.write_var_uint(vector.size());
  for (auto it = vector.rbegin(); it != vector.rend(); ++it) {
    encoder.write_var_uint(it->first);
    encoder.write_var_uint(it->second);
  }
  return encoder.take();
}

StateVector Doc::decode_state_vector(std::span<const std::uint8_t> bytes) {
  Decoder decoder(bytes);
  StateVector vector;
  const std::uint64_t count = decoder.read_var_uint();
  if (count > decoder.remaining()) throw DecodeError("the state vector ends early");
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::uint64_t client = decoder.read_var_uint();
    vector[client] = decoder.read_var_uint();
  }
  // Yjs frames a state vector (a file, a message member): bytes after it mean it is not one.
  if (!decoder.done()) throw DecodeError("bytes follow the state vector");
  return vector;
}

}  // namespace cairn::crdt
