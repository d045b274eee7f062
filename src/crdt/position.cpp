#include "crdt/position.hpp"

#include <cmath>
#include <stdexcept>

#include "crdt/store.hpp"

namespace cairn::crdt {

namespace {

RelativePosition at(const Type& type, OptionalID item, std::int64_t assoc) {
  RelativePosition position;
  if (type.item == nullptr) {
    position.tname = type.root;
  } else {
    position.type = type.item->id;
  }
  position.item = item;
  position.assoc = assoc;
  return position;
}

// The struct holding `id` and how far into it `id` is, following what a redo brought back
// (Yjs's followRedone).
std::pair<Item*, std::uint64_t> follow_redone(Doc::Store& store, ID id, bool follow) {
  for (;;) {
    Item* item = store.find(id);
    const std::uint64_t diff = id.clock - item->id.clock;
    if (!follow || !item->redone || item->kind != StructKind::item) return {item, diff};
    id = *item->redone;
    if (diff > 0) id.clock += diff;
  }
}

}  // namespace

RelativePosition relative_position(const Type& type, std::uint64_t index, std::int64_t assoc) {
  if (assoc < 0) {
    // After the unit on the left: the last unit before `index`, or the start of the type.
    if (index == 0) return at(type, std::nullopt, assoc);
    --index;
  }
  for (const Item* n = type.start; n != nullptr; n = n->right) {
    if (n->visible()) {
      if (n->length > index) return at(type, ID{n->id.client, n->id.clock + index}, assoc);
      index -= n->length;
    }
    if (n->right == nullptr && assoc < 0) return at(type, n->last_id(), assoc);
  }
  return at(type, std::nullopt, assoc);
}

std::optional<AbsolutePosition> absolute_position(Doc& doc, const RelativePosition& position,
                                                  bool follow_undone) {
  Doc::Store& store = doc.store();
  Type* type = nullptr;
  std::uint64_t index = 0;
  if (position.item) {
    if (store.state(position.item->client) <= position.item->clock) return std::nullopt;
    const auto [right, diff] = follow_redone(store, *position.item, follow_undone);
    if (right->kind != StructKind::item || right->parent == nullptr) return std::nullopt;
    type = right->parent;
    if (type->item == nullptr || !type->item->deleted) {
      index = (right->deleted || !right->countable()) ? 0 : diff + (position.assoc >= 0 ? 0 : 1);
      for (const Item* n = right->left; n != nullptr; n = n->left) {
        if (n->visible()) index += n->length;
      }
    }
  } else {
    if (position.tname) {
      type = &doc.get(*position.tname);
    } else if (position.type) {
      if (store.state(position.type->client) <= position.type->clock) return std::nullopt;
      Item* item = follow_redone(store, *position.type, follow_undone).first;
      const auto* content =
          item->kind == StructKind::item ? std::get_if<ContentType>(&item->content) : nullptr;
      if (content == nullptr) return std::nullopt;  // garbage-collected
      type = content->type.get();
    } else {
      throw std::invalid_argument("a relative position names neither an item nor a type");
    }
    index = position.assoc >= 0 ? type->length : 0;
  }
  return AbsolutePosition{type, index, position.assoc};
}

Bytes encode_relative_position(const RelativePosition& position) {
  Encoder out;
  if (position.item) {
    out.write_var_uint(0);
    out.write_var_uint(position.item->client);
    out.write_var_uint(position.item->clock);
  } else if (position.tname) {
    out.write_u8(1);
    out.write_var_string(*position.tname);
  } else if (position.type) {
    out.write_u8(2);
    out.write_var_uint(position.type->client);
    out.write_var_uint(position.type->clock);
  } else {
    throw std::invalid_argument("a relative position names neither an item nor a type");
  }
  out.write_var_int(static_cast<double>(position.assoc));
  return out.take();
}

RelativePosition decode_relative_position(std::span<const std::uint8_t> bytes) {
  Decoder in(bytes);
  RelativePosition position;
  const auto read_id = [&] {
    const std::uint64_t client = in.read_var_uint();
    return ID{client, in.read_var_uint()};
  };
  switch (in.read_var_uint()) {
    case 0:
      position.item = read_id();
      break;
    case 1:
      position.tname = in.read_var_string();
      break;
    case 2:
      position.type = read_id();
      break;
    default:
      throw DecodeError("a relative position of an unknown kind");
  }
  if (!in.done()) {
    const double assoc = in.read_var_int();
    if (std::floor(assoc) != assoc || std::fabs(assoc) > 9007199254740991.0) {
      throw DecodeError("a relative position's association is not an integer");
    }
    position.assoc = static_cast<std::int64_t>(assoc);
  }
  if (!in.done()) throw DecodeError("bytes follow the relative position");
  return position;
}

}  // namespace cairn::crdt
